//! Prometheus metrics under CoreDNS's names and labels (`coredns_dns_*` from its prometheus
//! plugin, `coredns_cache_*` from `cache`, `coredns_proxy_*` from `forward`), so dashboards and
//! alerts written for CoreDNS work unchanged. The binary serves [`DnsMetrics::encode`].

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `zone` label: the server block's zone, `.` in k3s's Corefile.
const ZONE: &str = ".";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    server: String,
    zone: String,
    view: String,
    proto: String,
    family: String,
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseLabels {
    server: String,
    zone: String,
    view: String,
    rcode: String,
    plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    server: String,
    zone: String,
    view: String,
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    server: String,
    r#type: String,
    zones: String,
    view: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MissLabels {
    server: String,
    zones: String,
    view: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProxyLabels {
    proxy_name: String,
    to: String,
    rcode: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // CoreDNS's TimeBuckets: 0.25 ms to 8 s.
    Histogram::new(exponential_buckets(0.00025, 2.0, 16))
}

/// Which cache a hit or an entry count is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheKind {
    /// Positive answers.
    Success,
    /// NXDOMAIN, NODATA and SERVFAIL answers.
    Denial,
}

impl CacheKind {
    fn label(self) -> &'static str {
        match self {
            CacheKind::Success => "success",
            CacheKind::Denial => "denial",
        }
    }
}

/// The DNS server's metrics and the registry holding them.
pub struct DnsMetrics {
    registry: Registry,
    server: String,
    requests: Family<RequestLabels, Counter>,
    responses: Family<ResponseLabels, Counter>,
    duration: HistogramFamily<DurationLabels>,
    cache_hits: Family<CacheLabels, Counter>,
    cache_misses: Family<MissLabels, Counter>,
    cache_entries: Family<CacheLabels, Gauge>,
    proxy_duration: HistogramFamily<ProxyLabels>,
}

impl DnsMetrics {
    /// Metrics whose `server` label is `server` (CoreDNS writes `dns://:53`).
    pub fn new(server: &str) -> DnsMetrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "coredns_dns_requests",
            "Counter of DNS requests made per zone, protocol and family.",
            requests.clone(),
        );
        let responses = Family::<ResponseLabels, Counter>::default();
        registry.register(
            "coredns_dns_responses",
            "Counter of response status codes.",
            responses.clone(),
        );
        let duration: HistogramFamily<DurationLabels> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "coredns_dns_request_duration_seconds",
            "Histogram of the time (in seconds) each request took.",
            duration.clone(),
        );
        let cache_hits = Family::<CacheLabels, Counter>::default();
        registry.register(
            "coredns_cache_hits",
            "The count of cache hits.",
            cache_hits.clone(),
        );
        let cache_misses = Family::<MissLabels, Counter>::default();
        registry.register(
            "coredns_cache_misses",
            "The count of cache misses.",
            cache_misses.clone(),
        );
        let cache_entries = Family::<CacheLabels, Gauge>::default();
        registry.register(
            "coredns_cache_entries",
            "The number of elements in the cache.",
            cache_entries.clone(),
        );
        let proxy_duration: HistogramFamily<ProxyLabels> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "coredns_proxy_request_duration_seconds",
            "Histogram of the time each request took.",
            proxy_duration.clone(),
        );
        DnsMetrics {
            registry,
            server: server.to_string(),
            requests,
            responses,
            duration,
            cache_hits,
            cache_misses,
            cache_entries,
            proxy_duration,
        }
    }

    /// The registry (to nest into another one or encode differently).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts a request received over `proto` (`udp`/`tcp`) from an IPv4 (`v6 == false`) or
    /// IPv6 client.
    pub(crate) fn request(&self, proto: &str, v6: bool, qtype: Option<RecordType>) {
        self.requests
            .get_or_create(&RequestLabels {
                server: self.server.clone(),
                zone: ZONE.into(),
                view: String::new(),
                proto: proto.into(),
                family: if v6 { "2" } else { "1" }.into(),
                r#type: type_label(qtype).into(),
            })
            .inc();
    }

    /// Counts a response written by `plugin` and observes the request's duration.
    pub(crate) fn response(
        &self,
        rcode: ResponseCode,
        plugin: &str,
        qtype: Option<RecordType>,
        took: Duration,
    ) {
        self.responses
            .get_or_create(&ResponseLabels {
                server: self.server.clone(),
                zone: ZONE.into(),
                view: String::new(),
                rcode: rcode_label(rcode),
                plugin: plugin.into(),
            })
            .inc();
        self.duration
            .get_or_create(&DurationLabels {
                server: self.server.clone(),
                zone: ZONE.into(),
                view: String::new(),
                r#type: type_label(qtype).into(),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts a cache hit.
    pub(crate) fn cache_hit(&self, kind: CacheKind) {
        self.cache_hits
            .get_or_create(&self.cache_labels(kind))
            .inc();
    }

    /// Counts a cache miss.
    pub(crate) fn cache_miss(&self) {
        self.cache_misses
            .get_or_create(&MissLabels {
                server: self.server.clone(),
                zones: ZONE.into(),
                view: String::new(),
            })
            .inc();
    }

    /// Sets the number of cache entries of `kind`.
    pub(crate) fn cache_size(&self, kind: CacheKind, n: usize) {
        self.cache_entries
            .get_or_create(&self.cache_labels(kind))
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Observes one upstream exchange (`rcode` empty when it failed).
    pub(crate) fn upstream(&self, to: &str, rcode: Option<ResponseCode>, took: Duration) {
        self.proxy_duration
            .get_or_create(&ProxyLabels {
                proxy_name: "forward".into(),
                to: to.into(),
                rcode: rcode.map(rcode_label).unwrap_or_default(),
            })
            .observe(took.as_secs_f64());
    }

    fn cache_labels(&self, kind: CacheKind) -> CacheLabels {
        CacheLabels {
            server: self.server.clone(),
            r#type: kind.label().into(),
            zones: ZONE.into(),
            view: String::new(),
        }
    }
}

/// CoreDNS's `type` label: the common types by name, everything else `other`.
fn type_label(t: Option<RecordType>) -> &'static str {
    match t {
        Some(RecordType::A) => "A",
        Some(RecordType::AAAA) => "AAAA",
        Some(RecordType::NS) => "NS",
        Some(RecordType::PTR) => "PTR",
        Some(RecordType::SOA) => "SOA",
        Some(RecordType::CNAME) => "CNAME",
        Some(RecordType::MX) => "MX",
        Some(RecordType::TXT) => "TXT",
        Some(RecordType::SRV) => "SRV",
        Some(RecordType::NAPTR) => "NAPTR",
        Some(RecordType::HTTPS) => "HTTPS",
        Some(RecordType::SVCB) => "SVCB",
        Some(RecordType::AXFR) => "AXFR",
        Some(RecordType::IXFR) => "IXFR",
        Some(RecordType::ANY) => "ANY",
        _ => "other",
    }
}

/// miekg/dns's rcode names (`NOERROR`, `NXDOMAIN`, …).
pub fn rcode_label(rcode: ResponseCode) -> String {
    match rcode {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::YXRRSet => "YXRRSET".into(),
        ResponseCode::NXRRSet => "NXRRSET".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        ResponseCode::NotZone => "NOTZONE".into(),
        // miekg/dns names code 16 after TSIG; EDNS calls it BADVERS.
        ResponseCode::BADVERS | ResponseCode::BADSIG => "BADSIG".into(),
        other => u16::from(other).to_string(),
    }
}
