//! Crash test: a child process writes as fast as it can and is SIGKILLed at a random moment;
//! the reopened store must hold every acknowledged write with an intact revision history.

use futures::StreamExt;
use rand::Rng;
use rkube_store::Store;
use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const ROUNDS: usize = 20;

/// Every acknowledged `(key, revision, value)` printed by one child before it died.
fn run_child_and_kill(dir: &std::path::Path, after: Duration) -> Vec<(String, i64, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_store-crash-writer"))
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the crash writer");
    let stdout = child.stdout.take().expect("stdout");
    // The kill is timed from the first acknowledged write, not from the spawn: a slow start
    // (a loaded machine, a large file to check on open) must not leave a round with nothing.
    let (first_ack, started) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let mut parts = line.split(' ');
            // A line cut by the kill has fewer parts or a bad number: it was never complete.
            if let (Some(k), Some(r), Some(v), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
                && let Ok(r) = r.parse()
            {
                if acked.is_empty() {
                    let _ = first_ack.send(());
                }
                acked.push((k.to_string(), r, v.to_string()));
            }
        }
        acked
    });
    if started.recv_timeout(Duration::from_secs(60)).is_ok() {
        std::thread::sleep(after);
    }
    child.kill().expect("SIGKILL the writer"); // Child::kill sends SIGKILL
    let status = child.wait().expect("reap the writer");
    assert!(
        !status.success(),
        "the writer must have been killed, not exited: {status}"
    );
    reader.join().expect("reader thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rng();
    let mut total_acked = 0;
    let mut checked_up_to = 0;
    for round in 0..ROUNDS {
        let after = Duration::from_millis(rng.random_range(150..900));
        let path = dir.path().to_path_buf();
        let acked = tokio::task::spawn_blocking(move || run_child_and_kill(&path, after))
            .await
            .unwrap();
        assert!(
            !acked.is_empty(),
            "round {round}: the writer acknowledged nothing"
        );
        total_acked += acked.len();

        let store = EmbeddedStore::open(EmbeddedOptions::new(dir.path()))
            .await
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        for (key, rev, value) in &acked {
            let kv = store
                .get(key, *rev)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("round {round}: acknowledged {key}@{rev} is lost"));
            assert_eq!(kv.mod_revision, *rev, "round {round}: {key}");
            assert_eq!(kv.value, value.as_bytes(), "round {round}: {key}@{rev}");
        }
        // The history has every revision exactly once (earlier rounds' part is checked).
        let current = store.current_revision().await.unwrap();
        assert!(
            current >= checked_up_to,
            "round {round}: the revision went back"
        );
        let mut w = store.watch("/", checked_up_to + 1).await.unwrap();
        for expect in checked_up_to + 1..=current {
            let ev = tokio::time::timeout(Duration::from_secs(30), w.next())
                .await
                .expect("history replay stalled")
                .expect("watch ended")
                .expect("watch error");
            assert_eq!(ev.revision(), expect, "round {round}: history has a gap");
        }
        drop(w);
        checked_up_to = current;
        store.close().await;
    }
    eprintln!("{ROUNDS} rounds, {total_acked} acknowledged writes verified");
}
