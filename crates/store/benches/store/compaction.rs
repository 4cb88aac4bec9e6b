//! Writes while the store compacts: the apiserver compacts every 5 minutes, and a compaction
//! that holds up writes shows as a latency spike in every client. Paced writes (as a steady
//! churn) are timed once with nothing else going on and once with a compaction of a large
//! history started a second in; the quiet run is the reference.

use bytes::Bytes;
use rkube_store::{CreateOutcome, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Latencies of one paced run.
pub struct Latencies {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latencies {
    pub fn show(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{:.1} / {:.1} / {:.1} ms",
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// Creates fresh keys under `prefix` at `per_sec` for `secs`, each write timed on its own (a
/// slow write does not delay the next one's start); with `compact_after`, compacts the store
/// to its latest revision that far into the run.
pub async fn paced_writes(
    store: Arc<dyn Store>,
    prefix: &str,
    per_sec: usize,
    secs: usize,
    compact_after: Option<Duration>,
    value: Bytes,
) -> Latencies {
    let compaction = compact_after.map(|after| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let rev = store.current_revision().await.expect("current revision");
            store.compact(rev).await.expect("compact");
        })
    });
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec as f64));
    let mut writes = Vec::with_capacity(per_sec * secs);
    for i in 0..per_sec * secs {
        ticker.tick().await;
        let (store, key, value) = (Arc::clone(&store), format!("{prefix}{i:08}"), value.clone());
        writes.push(tokio::spawn(async move {
            let t = Instant::now();
            match store.create(&key, value, None).await {
                Ok(CreateOutcome::Created(_)) => t.elapsed(),
                other => panic!("create {key}: {other:?}"),
            }
        }));
    }
    let mut all = Vec::with_capacity(writes.len());
    for w in writes {
        all.push(w.await.expect("a paced write panicked"));
    }
    if let Some(c) = compaction {
        c.await.expect("the compaction task panicked");
    }
    all.sort();
    let pct = |p: f64| all[((all.len() - 1) as f64 * p) as usize];
    Latencies {
        p50: pct(0.5),
        p99: pct(0.99),
        max: all[all.len() - 1],
    }
}
