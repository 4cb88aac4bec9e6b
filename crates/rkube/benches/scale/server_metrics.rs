//! What the server's `/metrics` says about a phase of the run: the embedded store's commit,
//! checkpoint and compaction timings (a stall of the write path shows in one of them), and
//! how many consistent LISTs the watch cache answered or handed to the store.

use kube::Client;

/// One scrape of `/metrics`.
pub struct Scrape(String);

impl Scrape {
    pub async fn take(client: &Client) -> anyhow::Result<Scrape> {
        let req = http::Request::get("/metrics").body(Vec::new())?;
        Ok(Scrape(client.request_text(req).await?))
    }

    /// The samples of `name` (with any labels) as (labels, value).
    fn samples<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        self.0.lines().filter_map(move |l| {
            let rest = l.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(r) => r.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            Some((labels, value.parse().ok()?))
        })
    }

    /// A histogram's cumulative buckets (upper bound, count) and total count.
    fn histogram(&self, name: &str) -> (Vec<(f64, f64)>, f64) {
        let buckets = self
            .samples(&format!("{name}_bucket"))
            .filter_map(|(labels, n)| {
                let le = labels.strip_prefix("le=\"")?.strip_suffix('"')?;
                Some((le.parse().ok()?, n))
            })
            .collect();
        let count = self.samples(&format!("{name}_count")).map(|(_, n)| n).sum();
        (buckets, count)
    }

    /// How many observations the histogram `name` holds.
    pub fn count(&self, name: &str) -> f64 {
        self.histogram(name).1
    }

    /// "count, p99 ≤ X ms, largest ≤ Y ms" for a seconds histogram, counting only what was
    /// observed since `before`.
    pub fn describe_since(&self, before: &Scrape, name: &str) -> String {
        let (now, count) = self.histogram(name);
        let (then, count_then) = before.histogram(name);
        let count = count - count_then;
        if count <= 0.0 {
            return "none".to_string();
        }
        let delta: Vec<(f64, f64)> = now
            .iter()
            .map(|&(le, n)| {
                let old = then.iter().find(|(l, _)| *l == le).map_or(0.0, |(_, n)| *n);
                (le, n - old)
            })
            .collect();
        let bound = |want: f64| {
            delta
                .iter()
                .find(|(_, n)| *n >= want)
                .map_or("> 8 s".to_string(), |(le, _)| {
                    if le.is_infinite() {
                        "> 8 s".to_string()
                    } else {
                        format!("≤ {:.0} ms", le * 1000.0)
                    }
                })
        };
        format!(
            "{count:.0}, p99 {}, largest {}",
            bound((count * 0.99).ceil()),
            bound(count)
        )
    }

    /// Consistent LISTs of `resource` answered by the watch cache and by the store instead.
    pub fn consistent_reads(&self, resource: &str) -> (f64, f64) {
        let mut cache = 0.0;
        let mut fallback = 0.0;
        for (labels, n) in self.samples("apiserver_watch_cache_consistent_read_total") {
            if !labels.contains(&format!("resource=\"{resource}\"")) {
                continue;
            }
            if labels.contains("fallback=\"true\"") {
                fallback += n;
            } else if labels.contains("success=\"true\"") {
                cache += n;
            }
        }
        (cache, fallback)
    }
}

/// The embedded store's compaction steps (the churn waits for one).
pub const COMPACTION_STEPS: &str = "rkube_store_compaction_step_duration_seconds";

/// The store timing series worth a line each.
pub const STORE_TIMINGS: [(&str, &str); 5] = [
    ("group commits", "rkube_store_commit_duration_seconds"),
    (
        "WAL checkpoints (background)",
        "rkube_store_checkpoint_duration_seconds",
    ),
    (
        "WAL checkpoint tails (writer)",
        "rkube_store_checkpoint_tail_duration_seconds",
    ),
    ("compaction steps", COMPACTION_STEPS),
    (
        "free-page reclaim steps",
        "rkube_store_reclaim_step_duration_seconds",
    ),
];
