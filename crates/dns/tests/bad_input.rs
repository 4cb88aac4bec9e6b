//! Bad input never kills the server: random and mutated datagrams, truncated queries,
//! oversized names and labels, odd opcodes and classes over UDP and TCP each get the
//! protocol's error response or silence, and real queries are answered afterwards.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Env, addresses, query, tcp_exchange, tcp_query, udp_raw};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use k8s_openapi::api::core::v1::Service;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

async fn rcode(addr: SocketAddr, bytes: &[u8]) -> Option<ResponseCode> {
    let reply = udp_raw(addr, bytes).await?;
    let m = Message::from_vec(&reply).expect("error replies decode");
    assert_eq!(
        m.metadata.message_type,
        hickory_proto::op::MessageType::Response
    );
    assert_eq!(m.metadata.id, u16::from_be_bytes([bytes[0], bytes[1]]));
    Some(m.metadata.response_code)
}

async fn still_answers(env: &Env) {
    let m = common::udp_query(env.addr, "web.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(addresses(&m), vec!["10.43.0.60"], "{m}");
    let m = tcp_query(env.addr, "web.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(addresses(&m), vec!["10.43.0.60"], "{m}");
}

fn header(id: u16, flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    [id, flags, qd, an, ns, ar]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
}

#[tokio::test]
async fn malformed_queries_get_errors_or_silence() {
    let env = Env::start().await;
    env.create::<Service>(json!({
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "10.43.0.60", "ports": [{"port": 80, "protocol": "TCP"}]}
    }))
    .await;
    env.until(
        "web.default.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(2),
        |m| !m.answers.is_empty(),
    )
    .await;
    let addr = env.addr;
    let good = query("web.default.svc.cluster.local.", RecordType::A, false)
        .to_vec()
        .unwrap();

    // Every proper prefix of a query: shorter than a header is dropped, the rest FORMERR.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for n in 0..12 {
        silent.send_to(&good[..n], addr).await.unwrap();
    }
    for n in 12..good.len() {
        assert_eq!(
            rcode(addr, &good[..n]).await,
            Some(ResponseCode::FormErr),
            "prefix {n}"
        );
    }
    // A response (QR set) is never answered.
    let mut qr = good.clone();
    qr[2] |= 0x80;
    silent.send_to(&qr, addr).await.unwrap();
    let mut buf = [0u8; 512];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), silent.recv_from(&mut buf))
            .await
            .is_err(),
        "short packets and responses get no reply"
    );

    // A 64-byte label, a 300-byte name, a compression loop: FORMERR.
    let mut long_label = header(1, 0x0100, 1, 0, 0, 0);
    long_label.push(64);
    long_label.extend([b'a'; 64]);
    long_label.extend([0, 0, 1, 0, 1]);
    assert_eq!(rcode(addr, &long_label).await, Some(ResponseCode::FormErr));
    let mut long_name = header(2, 0x0100, 1, 0, 0, 0);
    for _ in 0..5 {
        long_name.push(60);
        long_name.extend([b'b'; 60]);
    }
    long_name.extend([0, 0, 1, 0, 1]);
    assert_eq!(rcode(addr, &long_name).await, Some(ResponseCode::FormErr));
    let mut looped = header(3, 0x0100, 1, 0, 0, 0);
    looped.extend([0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(rcode(addr, &looped).await, Some(ResponseCode::FormErr));
    // No question, two questions: FORMERR.
    assert_eq!(
        rcode(addr, &header(4, 0x0100, 0, 0, 0, 0)).await,
        Some(ResponseCode::FormErr)
    );
    let mut two = good.clone();
    two[5] = 2;
    assert_eq!(rcode(addr, &two).await, Some(ResponseCode::FormErr));
    // Opcodes STATUS, NOTIFY, UPDATE, 15: NOTIMP.
    for op in [2u8, 4, 5, 15] {
        let mut b = good.clone();
        b[2] = (b[2] & 0x87) | (op << 3);
        assert_eq!(
            rcode(addr, &b).await,
            Some(ResponseCode::NotImp),
            "opcode {op}"
        );
    }
    // Class CH and ANY: REFUSED.
    for class in [3u8, 255] {
        let mut b = good.clone();
        let n = b.len();
        b[n - 1] = class;
        assert_eq!(
            rcode(addr, &b).await,
            Some(ResponseCode::Refused),
            "class {class}"
        );
    }
    // Zone transfer of the cluster zone: REFUSED.
    let axfr = query("cluster.local.", RecordType::AXFR, false)
        .to_vec()
        .unwrap();
    assert_eq!(rcode(addr, &axfr).await, Some(ResponseCode::Refused));
    // OPT as question type: FORMERR. EDNS version 1: BADVERS (16, in the OPT record).
    let opt = query("x.example.com.", RecordType::OPT, false)
        .to_vec()
        .unwrap();
    assert_eq!(rcode(addr, &opt).await, Some(ResponseCode::FormErr));
    let mut v1 = query("web.default.svc.cluster.local.", RecordType::A, true);
    v1.edns.as_mut().unwrap().set_version(1);
    let reply = udp_raw(addr, &v1.to_vec().unwrap()).await.unwrap();
    let m = Message::from_vec(&reply).unwrap();
    assert_eq!(u16::from(m.metadata.response_code), 16);

    still_answers(&env).await;
    env.stop().await;
}

#[tokio::test]
async fn random_bytes_over_udp_and_tcp_leave_the_server_working() {
    let env = Env::start().await;
    env.create::<Service>(json!({
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "10.43.0.60", "ports": [{"port": 80, "protocol": "TCP"}]}
    }))
    .await;
    env.until(
        "web.default.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(2),
        |m| !m.answers.is_empty(),
    )
    .await;
    let addr = env.addr;
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let good = query("web.default.svc.cluster.local.", RecordType::SRV, true)
        .to_vec()
        .unwrap();

    // UDP: random datagrams and a valid query with random bytes flipped.
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut replies = 0usize;
    for i in 0..3000 {
        let packet: Vec<u8> = if i % 2 == 0 {
            let n = rng.random_range(0..600);
            (0..n).map(|_| rng.random()).collect()
        } else {
            let mut p = good.clone();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..p.len());
                p[at] = rng.random();
            }
            p.truncate(rng.random_range(1..=p.len()));
            p
        };
        socket.send_to(&packet, addr).await.unwrap();
        // Drain what came back so far; every reply must be a well-formed response.
        let mut buf = vec![0u8; 65535];
        while let Ok((n, _)) = socket.try_recv_from(&mut buf) {
            let m = Message::from_vec(&buf[..n]).expect("replies decode");
            assert_eq!(
                m.metadata.message_type,
                hickory_proto::op::MessageType::Response
            );
            replies += 1;
        }
        if i % 500 == 0 {
            still_answers(&env).await;
        }
    }
    assert!(
        replies > 100,
        "errors are answered, not only dropped: {replies}"
    );

    // TCP: garbage, a zero length, a length with too few bytes, a short message.
    for case in 0..40 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let bytes: Vec<u8> = match case % 4 {
            0 => (0..rng.random_range(1..2000))
                .map(|_| rng.random())
                .collect(),
            1 => vec![0, 0],
            2 => vec![1, 44, 1, 2, 3],
            _ => vec![0, 5, 1, 2, 3, 4, 5],
        };
        let _ = s.write_all(&bytes).await;
        let _ = s.shutdown().await;
    }
    // A FORMERR does not close the connection: the next query on it is answered.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let reply = tcp_exchange(&mut s, &good[..good.len() - 2]).await.unwrap();
    assert_eq!(
        Message::from_vec(&reply).unwrap().metadata.response_code,
        ResponseCode::FormErr
    );
    let ok = query("web.default.svc.cluster.local.", RecordType::A, false);
    let reply = tcp_exchange(&mut s, &ok.to_vec().unwrap()).await.unwrap();
    assert_eq!(
        addresses(&Message::from_vec(&reply).unwrap()),
        vec!["10.43.0.60"]
    );

    still_answers(&env).await;
    env.stop().await;
}
