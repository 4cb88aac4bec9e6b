//! The response cache in front of the forwarder, as CoreDNS's `cache 30`: positive answers and
//! denials (NXDOMAIN/NODATA) kept for their smallest TTL clamped to [5 s, 30 s], upstream
//! SERVFAILs for 5 s, truncated answers never; served with TTLs counted down.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use crate::metrics::CacheKind;

/// How long an upstream SERVFAIL is kept (CoreDNS's `servfail` default).
const SERVFAIL_TTL: Duration = Duration::from_secs(5);
/// TTL used for a message with no records to take one from (CoreDNS's MinimalDefaultTTL).
const DEFAULT_TTL: u32 = 5;

/// What a cached answer is keyed by.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Key {
    name: String,
    qtype: RecordType,
    dnssec_ok: bool,
    checking_disabled: bool,
}

impl Key {
    /// The key of a question (the name compared case-insensitively).
    pub fn new(name: &Name, qtype: RecordType, dnssec_ok: bool, checking_disabled: bool) -> Key {
        Key {
            name: name.to_lowercase().to_ascii(),
            qtype,
            dnssec_ok,
            checking_disabled,
        }
    }
}

struct Entry {
    msg: Message,
    stored: Instant,
    ttl: Duration,
}

/// A bounded TTL cache of upstream responses.
pub struct Cache {
    min_ttl: u32,
    max_ttl: u32,
    capacity: usize,
    inner: Mutex<[HashMap<Key, Entry>; 2]>,
}

fn slot(kind: CacheKind) -> usize {
    match kind {
        CacheKind::Success => 0,
        CacheKind::Denial => 1,
    }
}

impl Cache {
    /// A cache keeping answers between `min_ttl` and `max_ttl` seconds, at most `capacity`
    /// of each kind.
    pub fn new(min_ttl: u32, max_ttl: u32, capacity: usize) -> Cache {
        Cache {
            min_ttl,
            max_ttl: max_ttl.max(min_ttl),
            capacity: capacity.max(1),
            inner: Mutex::new([HashMap::new(), HashMap::new()]),
        }
    }

    /// The cached answer for `key` at `now` (TTLs lowered by its age) and its kind.
    pub fn get(&self, key: &Key, now: Instant) -> Option<(Message, CacheKind)> {
        let mut maps = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for kind in [CacheKind::Success, CacheKind::Denial] {
            let map = &mut maps[slot(kind)];
            let Some(e) = map.get(key) else { continue };
            let age = now.saturating_duration_since(e.stored);
            if age >= e.ttl {
                map.remove(key);
                return None;
            }
            let left = (e.ttl - age).as_secs().max(1) as u32;
            let mut msg = e.msg.clone();
            for r in msg
                .answers
                .iter_mut()
                .chain(msg.authorities.iter_mut())
                .chain(msg.additionals.iter_mut())
            {
                r.ttl = r.ttl.min(left);
            }
            return Some((msg, kind));
        }
        None
    }

    /// Stores `msg` (an upstream response) under `key` if it is cacheable; returns the
    /// entry counts (success, denial) afterwards.
    pub fn insert(&self, key: Key, msg: &Message, now: Instant) -> (usize, usize) {
        let mut maps = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((kind, ttl)) = self.classify(msg) {
            let map = &mut maps[slot(kind)];
            if map.len() >= self.capacity
                && !map.contains_key(&key)
                && let Some(victim) = map.keys().next().cloned()
            {
                // HashMap order is arbitrary: this evicts a random entry, as CoreDNS does.
                map.remove(&victim);
            }
            map.insert(
                key,
                Entry {
                    msg: msg.clone(),
                    stored: now,
                    ttl,
                },
            );
        }
        (maps[0].len(), maps[1].len())
    }

    fn classify(&self, msg: &Message) -> Option<(CacheKind, Duration)> {
        if msg.metadata.truncation {
            return None;
        }
        match msg.metadata.response_code {
            ResponseCode::ServFail => return Some((CacheKind::Denial, SERVFAIL_TTL)),
            ResponseCode::NoError | ResponseCode::NXDomain => {}
            _ => return None,
        }
        let denial = msg.metadata.response_code == ResponseCode::NXDomain || msg.answers.is_empty();
        let smallest = msg
            .answers
            .iter()
            .chain(msg.authorities.iter())
            .chain(msg.additionals.iter())
            .map(|r| r.ttl)
            .min()
            .unwrap_or(DEFAULT_TTL);
        let ttl = smallest.clamp(self.min_ttl, self.max_ttl);
        let kind = if denial {
            CacheKind::Denial
        } else {
            CacheKind::Success
        };
        Some((kind, Duration::from_secs(u64::from(ttl))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records;
    use hickory_proto::op::{MessageType, OpCode, Query};

    fn answer(ttl: u32, rcode: ResponseCode) -> (Key, Message) {
        let name = Name::from_ascii("Example.COM.").unwrap();
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.response_code = rcode;
        m.add_query(Query::query(name.clone(), RecordType::A));
        if rcode == ResponseCode::NoError {
            m.add_answer(records::address(&name, ttl, [192, 0, 2, 1].into()));
        } else {
            m.add_authority(records::soa(&name, ttl, 1));
        }
        (Key::new(&name, RecordType::A, false, false), m)
    }

    #[test]
    fn positive_ttl_is_capped_and_counts_down() {
        let cache = Cache::new(5, 30, 10);
        let (key, msg) = answer(300, ResponseCode::NoError);
        let t0 = Instant::now();
        assert_eq!(cache.insert(key.clone(), &msg, t0), (1, 0));
        let lower = Key::new(
            &Name::from_ascii("example.com.").unwrap(),
            RecordType::A,
            false,
            false,
        );
        let (hit, kind) = cache.get(&lower, t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(kind, CacheKind::Success);
        assert_eq!(hit.answers[0].ttl, 20);
        assert!(cache.get(&key, t0 + Duration::from_secs(30)).is_none());
    }

    #[test]
    fn denials_and_small_ttls() {
        let cache = Cache::new(5, 30, 10);
        let (key, msg) = answer(1, ResponseCode::NXDomain);
        let t0 = Instant::now();
        assert_eq!(cache.insert(key.clone(), &msg, t0), (0, 1));
        // A 1 s TTL is kept for the 5 s minimum.
        let (_, kind) = cache.get(&key, t0 + Duration::from_secs(4)).unwrap();
        assert_eq!(kind, CacheKind::Denial);
        assert!(cache.get(&key, t0 + Duration::from_secs(5)).is_none());
        // REFUSED and truncated answers are not kept.
        let (key, msg) = answer(60, ResponseCode::Refused);
        cache.insert(key.clone(), &msg, t0);
        assert!(cache.get(&key, t0).is_none());
        let (key, mut msg) = answer(60, ResponseCode::NoError);
        msg.metadata.truncation = true;
        cache.insert(key.clone(), &msg, t0);
        assert!(cache.get(&key, t0).is_none());
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = Cache::new(5, 30, 3);
        let t0 = Instant::now();
        for i in 0..10 {
            let name = Name::from_ascii(format!("n{i}.example.")).unwrap();
            let mut m = Message::new(1, MessageType::Response, OpCode::Query);
            m.add_answer(records::address(&name, 60, [192, 0, 2, 1].into()));
            let (ok, _) = cache.insert(Key::new(&name, RecordType::A, false, false), &m, t0);
            assert!(ok <= 3);
        }
    }
}
