//! The real binary's command line.

use std::process::Command;

fn rkube(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(args)
        .output()
        .expect("run rkube")
}

#[test]
fn version_prints_the_binary_and_api_versions() {
    let out = rkube(&["version"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("rkube {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("Kubernetes API v1.33"), "{text}");
}

#[test]
fn help_lists_the_commands() {
    let out = rkube(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for cmd in [
        "server",
        "agent",
        "scheduler",
        "controller-manager",
        "proxy",
        "dns",
        "images",
        "sim",
        "version",
    ] {
        assert!(text.contains(&format!("  {cmd} ")), "{cmd}: {text}");
    }
}

#[test]
fn an_unknown_command_fails_with_usage() {
    let out = rkube(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unrecognized subcommand"), "{err}");
}
