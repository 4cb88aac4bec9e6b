//! The answering logic, a pure function of a [`Snapshot`] and a question, following CoreDNS's
//! kubernetes plugin (handler, `Services`/`Records`/`findServices`/`findPods` and the generic
//! backend lookups): which records a name has, NXDOMAIN vs NODATA (both with the zone's SOA),
//! `fallthrough` of reverse misses to the forwarder, and REFUSED zone transfers.

use std::collections::HashSet;
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record, RecordType};

use crate::names::{ClusterName, Place, PodQuery, ServiceQuery, Target, Zone, classify};
use crate::records::{self, DNS_SCHEMA_VERSION, DNS_VERSION_TTL, ip_from_pod_label};
use crate::snapshot::{PortSpec, ServiceKind, Snapshot};

/// CoreDNS stops following CNAMEs after this many.
const MAX_CNAME_DEPTH: usize = 8;

/// What the answerer needs besides the snapshot.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The cluster zone.
    pub zone: Zone,
    /// TTL of cluster records and the SOA minimum.
    pub ttl: u32,
    /// The DNS Service (namespace, name) whose ClusterIPs are `ns.dns.<zone>`.
    pub dns_service: (String, String),
}

/// What to do with a question.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolution {
    /// Answer it from the cluster data.
    Answer(Answer),
    /// Not ours (or a reverse miss falling through): ask the upstreams.
    Forward,
    /// Refuse it (zone transfers).
    Refused,
}

/// A local answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    /// NOERROR, NXDOMAIN or SERVFAIL (before the first sync).
    pub rcode: ResponseCode,
    /// Whether the AA bit is set (cluster answers are authoritative; SERVFAIL isn't).
    pub authoritative: bool,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section (the SOA for NXDOMAIN and NODATA).
    pub authorities: Vec<Record>,
    /// The additional section (addresses of SRV and NS targets).
    pub additionals: Vec<Record>,
    /// CNAME targets outside the zone whose records of the question's type the server
    /// resolves upstream and appends (as CoreDNS does for ExternalName Services).
    pub chase: Vec<Name>,
}

/// The name does not exist (CoreDNS's `errNoItems`/`errInvalidRequest`).
struct NameError;

#[derive(Default)]
struct Found {
    answers: Vec<Record>,
    additionals: Vec<Record>,
    chase: Vec<Name>,
}

/// Where a looked-up value lives; SRV targets are these names.
#[derive(Clone, Copy)]
enum Owner<'a> {
    Service {
        ns: &'a str,
        svc: &'a str,
    },
    Endpoint {
        ns: &'a str,
        svc: &'a str,
        label: &'a str,
    },
    Other,
}

enum Host<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

struct Entry<'a> {
    host: Host<'a>,
    port: i32,
    owner: Owner<'a>,
}

/// Answers `qname`/`qtype` (class IN) from `snap`.
pub fn resolve(snap: &Snapshot, s: &Settings, qname: &Name, qtype: RecordType) -> Resolution {
    match classify(&s.zone, qname) {
        Place::Outside => Resolution::Forward,
        Place::Reverse(ip) => reverse(snap, s, qname, qtype, ip),
        Place::Cluster(c) => cluster(snap, s, qname, qtype, &c),
    }
}

fn reverse(
    snap: &Snapshot,
    s: &Settings,
    qname: &Name,
    qtype: RecordType,
    ip: Option<IpAddr>,
) -> Resolution {
    // `fallthrough in-addr.arpa ip6.arpa`: whatever the plugin has no PTR for goes on.
    let (RecordType::PTR, Some(ip)) = (qtype, ip) else {
        return Resolution::Forward;
    };
    let names = snap.reverse(ip);
    let answers: Vec<Record> = names
        .iter()
        .filter_map(|n| Name::from_ascii(format!("{n}.")).ok())
        .map(|target| records::ptr(qname, s.ttl, target))
        .collect();
    if answers.is_empty() {
        return Resolution::Forward;
    }
    Resolution::Answer(Answer {
        authoritative: true,
        answers,
        ..Answer::default()
    })
}

fn cluster(
    snap: &Snapshot,
    s: &Settings,
    qname: &Name,
    qtype: RecordType,
    c: &ClusterName,
) -> Resolution {
    let found = match qtype {
        RecordType::A | RecordType::AAAA => addresses(snap, s, qname, qtype, c, 0),
        RecordType::TXT => txt(snap, s, qname, c),
        RecordType::CNAME => cname(snap, s, qname, c),
        RecordType::SRV => srv(snap, s, qname, c),
        RecordType::SOA => Ok(match c {
            ClusterName::Apex => Found {
                answers: vec![soa(snap, s)],
                ..Found::default()
            },
            _ => Found::default(),
        }),
        RecordType::AXFR | RecordType::IXFR => return Resolution::Refused,
        RecordType::NS if *c == ClusterName::Apex => Ok(ns(snap, s)),
        // Anything else: an A lookup tells NODATA from NXDOMAIN.
        _ => addresses(snap, s, qname, RecordType::A, c, 0).map(|_| Found::default()),
    };
    let answer = match found {
        Err(NameError) if !snap.synced => Answer {
            rcode: ResponseCode::ServFail,
            ..Answer::default()
        },
        Err(NameError) => Answer {
            rcode: ResponseCode::NXDomain,
            authoritative: true,
            authorities: vec![soa(snap, s)],
            ..Answer::default()
        },
        Ok(f) if f.answers.is_empty() => Answer {
            authoritative: true,
            authorities: vec![soa(snap, s)],
            ..Answer::default()
        },
        Ok(f) => Answer {
            authoritative: true,
            answers: f.answers,
            additionals: f.additionals,
            chase: f.chase,
            ..Answer::default()
        },
    };
    Resolution::Answer(answer)
}

fn soa(snap: &Snapshot, s: &Settings) -> Record {
    records::soa(&s.zone.name, s.ttl, snap.serial)
}

/// What a cluster name holds (CoreDNS's `Services`/`Records`).
fn entries<'a>(
    snap: &'a Snapshot,
    s: &'a Settings,
    c: &'a ClusterName,
) -> Result<Vec<Entry<'a>>, NameError> {
    match c {
        ClusterName::Apex | ClusterName::EmptyNonTerminal => Ok(Vec::new()),
        ClusterName::DnsVersion | ClusterName::Invalid => Err(NameError),
        ClusterName::DefaultNs => Ok(dns_service_ips(snap, s)
            .into_iter()
            .map(|ip| Entry {
                host: Host::Ip(ip),
                port: -1,
                owner: Owner::Other,
            })
            .collect()),
        ClusterName::Service(q) => find_services(snap, q),
        ClusterName::Pod(q) => find_pod(snap, q),
    }
}

fn dns_service_ips(snap: &Snapshot, s: &Settings) -> Vec<IpAddr> {
    match snap.service(&s.dns_service.0, &s.dns_service.1) {
        Some(svc) => match &svc.kind {
            ServiceKind::ClusterIp(ips) => ips.clone(),
            _ => Vec::new(),
        },
        None => Vec::new(),
    }
}

fn find_pod<'a>(snap: &'a Snapshot, q: &'a PodQuery) -> Result<Vec<Entry<'a>>, NameError> {
    if !snap.namespace_exists(&q.namespace) {
        return Err(NameError);
    }
    let Some(name) = &q.name else {
        return Ok(Vec::new());
    };
    // `pods insecure`: the address is whatever the label spells.
    let ip = ip_from_pod_label(name).ok_or(NameError)?;
    Ok(vec![Entry {
        host: Host::Ip(ip),
        port: -1,
        owner: Owner::Other,
    }])
}

fn find_services<'a>(snap: &'a Snapshot, q: &'a ServiceQuery) -> Result<Vec<Entry<'a>>, NameError> {
    let ns = q.namespace.as_str();
    if !snap.namespace_exists(ns) {
        return Err(NameError);
    }
    let Some(name) = q.service.as_deref() else {
        return Ok(Vec::new());
    };
    let svc = snap.service(ns, name).ok_or(NameError)?;
    let (port, protocol) = match &q.target {
        Target::Port { port, protocol } => (port.as_str(), protocol.as_str()),
        _ => ("", ""),
    };
    let endpoint = match &q.target {
        Target::Endpoint(e) => Some(e.as_str()),
        _ => None,
    };
    let mut out = Vec::new();
    let mut found = false;
    match &svc.kind {
        ServiceKind::ExternalName(target) => {
            // An IP as external name is no CNAME; ExternalName Services have no endpoints.
            if endpoint.is_none() && target.parse::<IpAddr>().is_err() && !target.is_empty() {
                found = true;
                out.push(Entry {
                    host: Host::Name(target),
                    port: -1,
                    owner: Owner::Service { ns, svc: name },
                });
            }
        }
        kind if *kind == ServiceKind::Headless || endpoint.is_some() => {
            for set in snap.endpoints(ns, name) {
                for addr in &set.addresses {
                    if endpoint.is_some_and(|e| e != addr.label) {
                        continue;
                    }
                    for p in &set.ports {
                        if !port_matches(port, protocol, p) {
                            continue;
                        }
                        found = true;
                        out.push(Entry {
                            host: Host::Ip(addr.ip),
                            port: p.port,
                            owner: Owner::Endpoint {
                                ns,
                                svc: name,
                                label: &addr.label,
                            },
                        });
                    }
                }
            }
        }
        ServiceKind::ClusterIp(ips) => {
            for p in &svc.ports {
                if !port_matches(port, protocol, p) {
                    continue;
                }
                found = true;
                for ip in ips {
                    out.push(Entry {
                        host: Host::Ip(*ip),
                        port: p.port,
                        owner: Owner::Service { ns, svc: name },
                    });
                }
            }
        }
        ServiceKind::Headless => {}
    }
    if found { Ok(out) } else { Err(NameError) }
}

/// CoreDNS's `matchPortAndProtocol`: empty, `*` and `any` match everything.
fn port_matches(port: &str, protocol: &str, p: &PortSpec) -> bool {
    fn one(want: &str, have: &str) -> bool {
        matches!(want, "" | "*" | "any") || want.eq_ignore_ascii_case(have)
    }
    one(port, &p.name) && one(protocol, &p.protocol)
}

fn addresses(
    snap: &Snapshot,
    s: &Settings,
    qname: &Name,
    qtype: RecordType,
    c: &ClusterName,
    depth: usize,
) -> Result<Found, NameError> {
    let entries = entries(snap, s, c)?;
    let mut found = Found::default();
    let mut seen: HashSet<IpAddr> = HashSet::new();
    for e in entries {
        match e.host {
            Host::Ip(ip) => {
                let fits = matches!(
                    (qtype, ip),
                    (RecordType::A, IpAddr::V4(_)) | (RecordType::AAAA, IpAddr::V6(_))
                );
                if fits && seen.insert(ip) {
                    found.answers.push(records::address(qname, s.ttl, ip));
                }
            }
            Host::Name(target) => {
                let Ok(target) = Name::from_ascii(format!("{target}.")) else {
                    continue;
                };
                // x CNAME x is a loop; past the depth limit CoreDNS stops adding.
                if target.eq_ignore_root(qname) || depth >= MAX_CNAME_DEPTH {
                    continue;
                }
                let record = records::cname(qname, s.ttl, target.clone());
                if let Place::Cluster(inner) = classify(&s.zone, &target) {
                    if let Ok(next) = addresses(snap, s, &target, qtype, &inner, depth + 1)
                        && !next.answers.is_empty()
                    {
                        found.answers.push(record);
                        found.answers.extend(next.answers);
                        found.chase.extend(next.chase);
                    }
                } else {
                    found.answers.push(record);
                    found.chase.push(target);
                }
            }
        }
    }
    Ok(found)
}

fn txt(snap: &Snapshot, s: &Settings, qname: &Name, c: &ClusterName) -> Result<Found, NameError> {
    match c {
        ClusterName::DnsVersion => Ok(Found {
            answers: vec![records::txt(qname, DNS_VERSION_TTL, DNS_SCHEMA_VERSION)],
            ..Found::default()
        }),
        // The name holds records of another type: NODATA; else NXDOMAIN (CoreDNS asks
        // `Records`, which knows no `ns.dns` and says nothing for a bare namespace).
        ClusterName::DefaultNs => Err(NameError),
        _ => match entries(snap, s, c) {
            Ok(e) if !e.is_empty() => Ok(Found::default()),
            _ => Err(NameError),
        },
    }
}

fn cname(snap: &Snapshot, s: &Settings, qname: &Name, c: &ClusterName) -> Result<Found, NameError> {
    let entries = entries(snap, s, c)?;
    let mut found = Found::default();
    if let Some(Entry {
        host: Host::Name(target),
        ..
    }) = entries.first()
        && let Ok(target) = Name::from_ascii(format!("{target}."))
    {
        found.answers.push(records::cname(qname, s.ttl, target));
    }
    Ok(found)
}

fn owner_name(owner: Owner<'_>, zone: &Zone) -> Option<Name> {
    let text = match owner {
        Owner::Service { ns, svc } => format!("{svc}.{ns}.svc.{}.", zone.domain()),
        Owner::Endpoint { ns, svc, label } => {
            format!("{label}.{svc}.{ns}.svc.{}.", zone.domain())
        }
        Owner::Other => return None,
    };
    Name::from_ascii(text).ok()
}

fn srv(snap: &Snapshot, s: &Settings, qname: &Name, c: &ClusterName) -> Result<Found, NameError> {
    // SRV for external (CNAME) Services is not served, as in CoreDNS.
    let entries: Vec<Entry<'_>> = entries(snap, s, c)?
        .into_iter()
        .filter(|e| matches!(e.host, Host::Ip(_)))
        .collect();
    let weight = if entries.is_empty() {
        100
    } else {
        ((100 / entries.len()) as u16).max(1)
    };
    let mut found = Found::default();
    let mut seen_srv: HashSet<(Name, u16)> = HashSet::new();
    let mut seen_addr: HashSet<(Name, IpAddr)> = HashSet::new();
    for e in entries {
        let (Host::Ip(ip), Ok(port)) = (e.host, u16::try_from(e.port)) else {
            continue;
        };
        let Some(target) = owner_name(e.owner, &s.zone) else {
            continue;
        };
        if seen_srv.insert((target.clone(), port)) {
            found
                .answers
                .push(records::srv(qname, s.ttl, weight, port, target.clone()));
        }
        if seen_addr.insert((target.clone(), ip)) {
            found.additionals.push(records::address(&target, s.ttl, ip));
        }
    }
    Ok(found)
}

fn ns(snap: &Snapshot, s: &Settings) -> Found {
    let mut found = Found::default();
    let Ok(target) = Name::from_ascii("ns.dns").and_then(|n| n.append_domain(&s.zone.name)) else {
        return found;
    };
    let ips = dns_service_ips(snap, s);
    if ips.is_empty() {
        return found;
    }
    found
        .answers
        .push(records::ns(&s.zone.name, s.ttl, target.clone()));
    for ip in ips {
        found.additionals.push(records::address(&target, s.ttl, ip));
    }
    found
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
