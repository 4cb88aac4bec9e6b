//! The official Python client (PyPI `kubernetes`, installed into target/python-client by
//! scripts/install-python-client.sh) drives the apiserver: tests/python/client_flows.py.

use crate::common;

use std::path::PathBuf;

/// The virtualenv's interpreter (`RKUBE_TEST_PYTHON` overrides).
fn python() -> PathBuf {
    if let Ok(p) = std::env::var("RKUBE_TEST_PYTHON") {
        return p.into();
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/python-client/bin/python")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_works() {
    let python = python();
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-python-client.sh (scripts/test.sh does)",
        python.display()
    );
    let c = common::cluster().await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/client_flows.py");
    let out = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(&c.server.kubeconfig)
        .output()
        .await
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("PASS"),
        "{stdout}\n{stderr}"
    );
    // Every check ran (a script cut short cannot pass silently).
    assert!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count() >= 20,
        "{stdout}"
    );
}
