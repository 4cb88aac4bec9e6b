//! Small helpers: API timestamps, fake digests, raw requests, retries and rate-limited warnings.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::Client;

/// `now` as a meta/v1 `Time` (RFC 3339, whole seconds).
pub(crate) fn time(now: jiff::Timestamp) -> String {
    jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%SZ", now).unwrap_or_default()
}

/// 64-bit FNV-1a of `parts` (a separator between them), seeded.
fn fnv(seed: u64, parts: &[&str]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for (n, p) in parts.iter().enumerate() {
        if n > 0 {
            h ^= 0xff;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// `hex_len` deterministic hex digits derived from `parts`: fake digests and IDs that look
/// like real ones (not cryptographic).
pub(crate) fn fake_hex(parts: &[&str], hex_len: usize) -> String {
    let mut out = String::with_capacity(hex_len + 16);
    let mut seed = 0u64;
    while out.len() < hex_len {
        use std::fmt::Write;
        let _ = write!(out, "{:016x}", fnv(seed, parts));
        seed += 1;
    }
    out.truncate(hex_len);
    out
}

/// Sends a prepared request, ignoring the response body (cheaper than decoding it).
pub(crate) async fn send(
    client: &Client,
    request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
) -> Result<(), kube::Error> {
    let request = request.map_err(kube::Error::BuildRequest)?;
    client.request_text(request).await.map(drop)
}

/// The HTTP status of an API error (None for transport errors).
pub(crate) fn code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// Whether trying again may help: transport errors, conflicts (a patch raced another write),
/// throttling and server errors.
pub(crate) fn retriable(e: &kube::Error) -> bool {
    match code(e) {
        None => !matches!(e, kube::Error::BuildRequest(_) | kube::Error::SerdeError(_)),
        Some(c) => c == 409 || c == 429 || c >= 500,
    }
}

/// Runs `op` up to `attempts` times while its error is [`retriable`], backing off from 50 ms.
pub(crate) async fn retry<T, F, Fut>(attempts: u32, mut op: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = Duration::from_millis(50);
    let mut n = 1;
    loop {
        match op().await {
            Err(e) if n < attempts && retriable(&e) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
                n += 1;
            }
            r => return r,
        }
    }
}

/// A warning logged at most once per period, with how many were held back: thousands of
/// nodes failing at once (the apiserver went away) make one line a second, not thousands.
pub(crate) struct Throttled {
    what: &'static str,
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttled {
    pub(crate) const fn new(what: &'static str) -> Throttled {
        Throttled {
            what,
            state: Mutex::new((None, 0)),
        }
    }

    /// Logs `error` for `subject` now, or counts it if a line went out less than a second ago.
    pub(crate) fn warn(&self, subject: &str, error: &dyn std::fmt::Display) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if state
            .0
            .is_some_and(|last| now - last < Duration::from_secs(1))
        {
            state.1 += 1;
            return;
        }
        let held_back = std::mem::take(&mut state.1);
        state.0 = Some(now);
        drop(state);
        tracing::warn!(
            subject,
            error = %error,
            similar_failures_held_back = held_back,
            "{} failed; retrying", self.what
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_the_api_formats() {
        let t = jiff::Timestamp::from_microsecond(1_700_000_000_123_456).unwrap();
        assert_eq!(time(t), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn fake_hex_is_deterministic_and_sized() {
        let a = fake_hex(&["busybox"], 64);
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, fake_hex(&["busybox"], 64));
        assert_ne!(a, fake_hex(&["busybox", ""], 64));
        assert_ne!(fake_hex(&["a", "bc"], 32), fake_hex(&["ab", "c"], 32));
    }
}
