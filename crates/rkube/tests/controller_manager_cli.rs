//! `rkube controller-manager`'s command line: bad flags fail before anything connects.

use std::process::Command;

fn rkube(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(args)
        .output()
        .expect("run rkube")
}

#[test]
fn an_unknown_controller_is_rejected_with_the_known_ones() {
    let out = rkube(&[
        "controller-manager",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
        "--controllers",
        "*,-frobnicator",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("\"frobnicator\" is not in the list of known controllers"),
        "{err}"
    );
    assert!(err.contains("replicaset-controller"), "{err}");
}

#[test]
fn a_malformed_duration_or_boolean_is_a_usage_error() {
    for args in [
        &[
            "controller-manager",
            "--leader-elect-lease-duration",
            "fifteen",
        ][..],
        &["controller-manager", "--leader-elect=maybe"][..],
        &["controller-manager", "--secure-port", "70000"][..],
        &["controller-manager", "--bind-address", "not-an-ip"][..],
    ] {
        let out = rkube(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("invalid value"), "{args:?}: {err}");
    }
}

#[test]
fn an_unreachable_kubeconfig_is_reported() {
    let out = rkube(&[
        "controller-manager",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("/nonexistent/kubeconfig") || err.contains("No such file"),
        "{err}"
    );
}

#[test]
fn an_unusable_load_balancer_pool_fails_at_start_saying_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in [
        &[
            "controller-manager",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
        ][..],
        &[
            "server",
            "--disable-agent",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ][..],
    ] {
        let mut args = cmd.to_vec();
        args.extend(["--service-lb-pool", "10.9.0.0/99"]);
        let out = rkube(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains("--service-lb-pool")
                && err.contains("expected an IPv4 CIDR (10.0.0.0/28) or a range"),
            "{args:?}: {err}"
        );
        // Nothing was started: the data directory is untouched.
        assert!(!dir.path().join("kubeconfig.yaml").exists());
    }
}
