//! DNS messages on the wire: turning received bytes into a validated query (or the error
//! response, or silence, the protocol calls for) and encoding responses within the size the
//! client can take, truncating (TC) like CoreDNS's `Scrub` when they don't fit.

use hickory_proto::op::{
    Edns, Header, Message, MessageType, Metadata, OpCode, Query, ResponseCode,
};
use hickory_proto::rr::{DNSClass, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// The UDP payload size we advertise in our OPT record (the DNS flag day 2020 value).
pub const ADVERTISED_UDP_PAYLOAD: u16 = 1232;
/// Largest UDP response for a client without EDNS.
pub const PLAIN_UDP_LIMIT: usize = 512;
/// Largest message over TCP (the length prefix).
pub const TCP_LIMIT: usize = 65535;

/// A well-formed standard query with one question.
#[derive(Clone, Debug)]
pub struct Request {
    /// Header fields of the query.
    pub metadata: Metadata,
    /// The question.
    pub query: Query,
    /// The client's OPT record.
    pub edns: Option<Edns>,
}

impl Request {
    /// Whether the client set the DNSSEC OK bit.
    pub fn dnssec_ok(&self) -> bool {
        self.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok)
    }

    /// Largest UDP response the client accepts (512 without EDNS).
    pub fn udp_limit(&self) -> usize {
        self.edns.as_ref().map_or(PLAIN_UDP_LIMIT, |e| {
            usize::from(e.max_payload()).max(PLAIN_UDP_LIMIT)
        })
    }
}

/// What received bytes call for.
#[derive(Debug)]
pub enum Incoming {
    /// A query to answer.
    Query(Request),
    /// An error response to send as is (FORMERR, NOTIMP, BADVERS, REFUSED).
    Reply(Box<Message>),
    /// Nothing: too short to carry an ID, or itself a response.
    Drop,
}

/// Validates a received message (the checks of miekg/dns's default accept function, which
/// CoreDNS runs, plus EDNS version and question sanity).
pub fn parse(bytes: &[u8]) -> Incoming {
    let mut decoder = BinDecoder::new(bytes);
    let Ok(header) = Header::read(&mut decoder) else {
        return Incoming::Drop;
    };
    if header.message_type == MessageType::Response {
        return Incoming::Drop;
    }
    // Echo the question when it parses, to help the client match the error.
    let question = || {
        let mut d = BinDecoder::new(bytes);
        Header::read(&mut d).ok()?;
        Query::read(&mut d).ok()
    };
    if header.op_code != OpCode::Query {
        return reply(&header.metadata, ResponseCode::NotImp, None, None);
    }
    let c = header.counts;
    if c.queries != 1 || c.answers > 1 || c.authorities > 1 || c.additionals > 2 {
        let q = if c.queries == 1 { question() } else { None };
        return reply(&header.metadata, ResponseCode::FormErr, q, None);
    }
    let message = match Message::from_vec(bytes) {
        Ok(m) => m,
        Err(_) => return reply(&header.metadata, ResponseCode::FormErr, question(), None),
    };
    let Some(query) = message.queries.first().cloned() else {
        return reply(&header.metadata, ResponseCode::FormErr, None, None);
    };
    let edns = message.edns.clone();
    if let Some(e) = &edns
        && e.version() > 0
    {
        return reply(
            &header.metadata,
            ResponseCode::BADVERS,
            Some(query),
            Some(our_edns(e.flags().dnssec_ok)),
        );
    }
    // Meta types are no questions.
    if matches!(
        query.query_type(),
        RecordType::OPT | RecordType::TSIG | RecordType::Unknown(0)
    ) {
        return reply(
            &header.metadata,
            ResponseCode::FormErr,
            Some(query),
            edns.as_ref().map(|e| our_edns(e.flags().dnssec_ok)),
        );
    }
    if query.query_class() != DNSClass::IN {
        return reply(
            &header.metadata,
            ResponseCode::Refused,
            Some(query),
            edns.as_ref().map(|e| our_edns(e.flags().dnssec_ok)),
        );
    }
    Incoming::Query(Request {
        metadata: message.metadata,
        query,
        edns,
    })
}

fn reply(
    request: &Metadata,
    rcode: ResponseCode,
    query: Option<Query>,
    edns: Option<Edns>,
) -> Incoming {
    let mut m = Message::new(request.id, MessageType::Response, request.op_code);
    m.metadata = Metadata::response_from_request(request);
    m.metadata.response_code = rcode;
    if let Some(q) = query {
        m.add_query(q);
    }
    if let Some(e) = edns {
        m.set_edns(e);
    }
    Incoming::Reply(Box::new(m))
}

/// Our OPT record for a response.
pub fn our_edns(dnssec_ok: bool) -> Edns {
    let mut e = Edns::new();
    e.set_max_payload(ADVERTISED_UDP_PAYLOAD);
    e.set_dnssec_ok(dnssec_ok);
    e
}

/// An empty response to `req`: its ID, opcode, RD and CD, its question, an OPT record when it
/// had one.
pub fn response_to(req: &Request) -> Message {
    let mut m = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata = Metadata::response_from_request(&req.metadata);
    m.add_query(req.query.clone());
    if req.edns.is_some() {
        m.set_edns(our_edns(req.dnssec_ok()));
    }
    m
}

/// Encodes `msg` in at most `limit` bytes: drops additionals, then as many trailing answers
/// and authorities as needed, setting TC when records had to go. `None` only if even the
/// bare header and question don't encode.
pub fn encode(msg: &Message, limit: usize) -> Option<Vec<u8>> {
    if let Ok(bytes) = msg.to_vec()
        && bytes.len() <= limit
    {
        return Some(bytes);
    }
    let mut m = msg.clone();
    m.additionals.clear();
    if let Ok(bytes) = m.to_vec()
        && bytes.len() <= limit
    {
        // Glue is optional: no TC for dropping it (as CoreDNS).
        return Some(bytes);
    }
    m.metadata.truncation = true;
    m.authorities.clear();
    // Keep the longest prefix of answers that fits (binary search over the count).
    let answers = std::mem::take(&mut m.answers);
    let (mut lo, mut hi) = (0usize, answers.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        m.answers = answers[..mid].to_vec();
        match m.to_vec() {
            Ok(b) if b.len() <= limit => lo = mid,
            _ => hi = mid - 1,
        }
    }
    m.answers = answers[..lo].to_vec();
    match m.to_vec() {
        Ok(b) if b.len() <= limit => Some(b),
        _ => {
            m.answers.clear();
            m.edns = None;
            m.to_vec().ok().filter(|b| b.len() <= limit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Name;

    fn query_bytes(name: &str, qtype: RecordType, edns: Option<Edns>) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        if let Some(e) = edns {
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    fn rcode_of(i: Incoming) -> Option<ResponseCode> {
        match i {
            Incoming::Reply(m) => Some(m.metadata.response_code),
            Incoming::Query(_) => Some(ResponseCode::NoError),
            Incoming::Drop => None,
        }
    }

    #[test]
    fn good_query() {
        let Incoming::Query(r) = parse(&query_bytes("a.example.", RecordType::A, None)) else {
            panic!("not a query")
        };
        assert_eq!(r.query.query_type(), RecordType::A);
        assert_eq!(r.udp_limit(), 512);
    }

    #[test]
    fn short_and_responses_are_dropped() {
        assert!(matches!(parse(&[]), Incoming::Drop));
        assert!(matches!(parse(&[0u8; 11]), Incoming::Drop));
        let mut b = query_bytes("a.example.", RecordType::A, None);
        b[2] |= 0x80;
        assert!(matches!(parse(&b), Incoming::Drop));
    }

    #[test]
    fn errors() {
        // Opcode STATUS (2) → NOTIMP.
        let mut b = query_bytes("a.example.", RecordType::A, None);
        b[2] = (b[2] & 0x87) | (2 << 3);
        assert_eq!(rcode_of(parse(&b)), Some(ResponseCode::NotImp));
        // Two questions counted, one present → FORMERR.
        let mut b = query_bytes("a.example.", RecordType::A, None);
        b[5] = 2;
        assert_eq!(rcode_of(parse(&b)), Some(ResponseCode::FormErr));
        // Truncated question → FORMERR.
        let b = query_bytes("a.example.", RecordType::A, None);
        assert_eq!(
            rcode_of(parse(&b[..b.len() - 3])),
            Some(ResponseCode::FormErr)
        );
        // A label of 64 bytes → FORMERR.
        let mut b = query_bytes("a.example.", RecordType::A, None)[..12].to_vec();
        b.push(64);
        b.extend([b'x'; 64]);
        b.extend([0, 0, 1, 0, 1]);
        assert_eq!(rcode_of(parse(&b)), Some(ResponseCode::FormErr));
        // A name of more than 255 bytes (5 labels of 63) → FORMERR.
        let mut b = query_bytes("a.example.", RecordType::A, None)[..12].to_vec();
        for _ in 0..5 {
            b.push(63);
            b.extend([b'y'; 63]);
        }
        b.extend([0, 0, 1, 0, 1]);
        assert_eq!(rcode_of(parse(&b)), Some(ResponseCode::FormErr));
        // Class CH → REFUSED.
        let mut b = query_bytes("version.bind.", RecordType::TXT, None);
        let n = b.len();
        b[n - 1] = 3;
        assert_eq!(rcode_of(parse(&b)), Some(ResponseCode::Refused));
        // EDNS version 1 → BADVERS with an OPT record.
        let mut e = Edns::new();
        e.set_version(1);
        match parse(&query_bytes("a.example.", RecordType::A, Some(e))) {
            Incoming::Reply(m) => {
                assert_eq!(m.metadata.response_code, ResponseCode::BADVERS);
                let bytes = m.to_vec().unwrap();
                let back = Message::from_vec(&bytes).unwrap();
                // 16 decodes as BADSIG, the same code.
                assert_eq!(u16::from(back.metadata.response_code), 16);
                assert!(back.edns.is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncation_keeps_a_prefix() {
        let Incoming::Query(r) = parse(&query_bytes("a.example.", RecordType::A, None)) else {
            panic!()
        };
        let mut m = response_to(&r);
        let name = Name::from_ascii("a.example.").unwrap();
        for i in 0..100u8 {
            m.add_answer(crate::records::address(
                &name,
                5,
                std::net::IpAddr::from([10, 0, 0, i]),
            ));
        }
        let bytes = encode(&m, 512).unwrap();
        assert!(bytes.len() <= 512);
        let back = Message::from_vec(&bytes).unwrap();
        assert!(back.metadata.truncation);
        assert!(!back.answers.is_empty() && back.answers.len() < 100);
        let full = encode(&m, TCP_LIMIT).unwrap();
        let back = Message::from_vec(&full).unwrap();
        assert!(!back.metadata.truncation);
        assert_eq!(back.answers.len(), 100);
    }
}
