//! Test helper for the crash test: writes to an embedded store as fast as it can and prints
//! `<key> <revision> <value>` for every acknowledged write, until it is killed.
//!
//! Usage: `store-crash-writer DIR`. Each of 32 tasks creates keys and updates each once.

use bytes::Bytes;
use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rkube_store::{CreateOutcome, Store, UpdateOutcome};
use std::io::Write;
use std::sync::Arc;

const TASKS: usize = 32;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: store-crash-writer DIR");
        std::process::exit(2);
    };
    let store = match EmbeddedStore::open(EmbeddedOptions::new(dir)).await {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("open failed: {e}");
            std::process::exit(1);
        }
    };
    // One printer, so lines never interleave; a line is printed only after its ack.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let printer = tokio::task::spawn_blocking(move || {
        let mut out = std::io::stdout().lock();
        while let Some(line) = rx.blocking_recv() {
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                return;
            }
        }
    });
    let round = std::process::id();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (store, tx) = (Arc::clone(&store), tx.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0u64.. {
                let key = format!("/crash/{round}/{t}/{i}");
                let value = format!("c{t}.{i}");
                let rev = match store.create(&key, Bytes::from(value.clone()), None).await {
                    Ok(CreateOutcome::Created(rev)) => rev,
                    other => panic!("create {key}: {other:?}"),
                };
                let _ = tx.send(format!("{key} {rev} {value}"));
                let value = format!("u{t}.{i}");
                match store
                    .update(&key, Bytes::from(value.clone()), rev, None)
                    .await
                {
                    Ok(UpdateOutcome::Updated(rev)) => {
                        let _ = tx.send(format!("{key} {rev} {value}"));
                    }
                    other => panic!("update {key}: {other:?}"),
                }
            }
        }));
    }
    drop(tx);
    for t in tasks {
        let _ = t.await;
    }
    let _ = printer.await;
}
