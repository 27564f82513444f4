//! Tests of the metric values and of the endpoint over real TCP connections.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::*;

/// The value of the sample line `series` (name and labels exactly as exposed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

#[test]
fn chain_handles_update_their_own_series() {
    let metrics = Metrics::new();
    let beacon = metrics.chain("beacon");
    let shard = metrics.chain(&Metrics::shard_chain_name(0));
    let start = Instant::now();
    beacon.finalized_at(1, 0, start);
    beacon.finalized_at(2, 5, start + Duration::from_millis(400));
    beacon.finalized_at(3, 7, start + Duration::from_millis(1400));
    // A repeated report of an old height changes nothing.
    beacon.finalized_at(2, 100, start + Duration::from_secs(9));
    beacon.set_view(11);
    beacon.vote_received(VoteKind::Notarize);
    beacon.vote_received(VoteKind::Notarize);
    metrics.chain("beacon").vote_received(VoteKind::Finalize);
    beacon.round_timed_out();
    shard.set_view(4);
    shard.set_mempool_transactions(42);
    metrics.set_peers(3);

    let text = metrics.encode();
    let beacon_label = "{chain=\"beacon\"}";
    assert_eq!(
        sample(&text, &format!("kaimeng_finalized_height{beacon_label}")),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("kaimeng_transactions_finalized_total{beacon_label}")
        ),
        Some(12.0)
    );
    assert_eq!(
        sample(&text, &format!("kaimeng_view{beacon_label}")),
        Some(11.0)
    );
    assert_eq!(sample(&text, "kaimeng_view{chain=\"shard-0\"}"), Some(4.0));
    assert_eq!(
        sample(
            &text,
            "kaimeng_votes_received_total{chain=\"beacon\",kind=\"notarize\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "kaimeng_votes_received_total{chain=\"beacon\",kind=\"finalize\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "kaimeng_votes_received_total{chain=\"shard-0\",kind=\"nullify\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("kaimeng_rounds_timed_out_total{beacon_label}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "kaimeng_mempool_transactions{chain=\"shard-0\"}"),
        Some(42.0)
    );
    // The beacon chain never reported a mempool, so it has no such series.
    assert_eq!(
        sample(
            &text,
            &format!("kaimeng_mempool_transactions{beacon_label}")
        ),
        None
    );
    assert_eq!(sample(&text, "kaimeng_peers"), Some(3.0));

    // Two intervals observed: 0.4 s and 1.0 s.
    assert_eq!(
        sample(
            &text,
            &format!("kaimeng_block_interval_seconds_count{beacon_label}")
        ),
        Some(2.0)
    );
    let sum = sample(
        &text,
        &format!("kaimeng_block_interval_seconds_sum{beacon_label}"),
    );
    assert!(sum.is_some_and(|s| (s - 1.4).abs() < 1e-9), "{sum:?}");
    let bucket = |le: &str| {
        sample(
            &text,
            &format!("kaimeng_block_interval_seconds_bucket{{le=\"{le}\",chain=\"beacon\"}}"),
        )
    };
    assert_eq!(bucket("0.3"), Some(0.0));
    assert_eq!(bucket("0.5"), Some(1.0));
    assert_eq!(bucket("1.0"), Some(2.0));
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[test]
fn vote_kinds_follow_the_consensus_votes() {
    use kaimeng_consensus::{Epoch, View, Vote};
    let nullify = Vote::Nullify {
        epoch: Epoch::default(),
        view: View::default(),
    };
    assert_eq!(VoteKind::from(&nullify), VoteKind::Nullify);
    assert_eq!(VoteKind::Nullify.as_str(), "nullify");
}

/// Sends `request` on a fresh connection and reads the whole response (the server closes).
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response))
        .await
        .expect("the server answers and closes")
        .expect("read");
    String::from_utf8(response).expect("UTF-8 response")
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

#[tokio::test]
async fn endpoint_serves_metrics_and_refuses_the_rest() {
    let metrics = Metrics::new();
    let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), metrics.clone())
        .await
        .expect("bind");
    let shard = metrics.chain("shard-0");
    shard.finalized(17, 3);
    shard.set_view(21);
    metrics.set_peers(5);

    let ok = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.contains("Content-Type: application/openmetrics-text; version=1.0.0"));
    let text = body(&ok);
    assert_eq!(
        sample(text, "kaimeng_finalized_height{chain=\"shard-0\"}"),
        Some(17.0)
    );
    assert_eq!(sample(text, "kaimeng_view{chain=\"shard-0\"}"), Some(21.0));
    assert_eq!(sample(text, "kaimeng_peers"), Some(5.0));
    let length = format!("Content-Length: {}\r\n", text.len());
    assert!(ok.contains(&length), "{ok}");

    // Values move between scrapes.
    shard.finalized(18, 1);
    let again = exchange(addr, b"GET /metrics HTTP/1.0\r\n\r\n").await;
    assert_eq!(
        sample(body(&again), "kaimeng_finalized_height{chain=\"shard-0\"}"),
        Some(18.0)
    );

    let missing = exchange(addr, b"GET /other HTTP/1.1\r\n\r\n").await;
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
    let post = exchange(addr, b"POST /metrics HTTP/1.1\r\n\r\n").await;
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");

    // Garbage gets a 400 as soon as its first line is in, and the connection is closed
    // (exchange reads to EOF).
    let garbage = exchange(addr, b"\x16\x03\x01\x02\x00 hello\n").await;
    assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
    let bad_header = exchange(addr, b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n").await;
    assert!(bad_header.starts_with("HTTP/1.1 400 "), "{bad_header}");

    // An endless head is cut off at the size bound.
    let mut huge = b"GET /metrics HTTP/1.1\r\n".to_vec();
    while huge.len() <= http::MAX_REQUEST_HEAD + 100 {
        huge.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let too_large = exchange(addr, &huge).await;
    assert!(too_large.starts_with("HTTP/1.1 431 "), "{too_large}");

    // A client that connects and leaves does not stop the server.
    drop(TcpStream::connect(addr).await.expect("connect"));
    let still = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n").await;
    assert!(still.starts_with("HTTP/1.1 200 "), "{still}");

    task.abort();
}

#[tokio::test]
async fn binding_a_taken_port_is_an_error() {
    let metrics = Metrics::new();
    let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), metrics.clone())
        .await
        .expect("bind");
    assert!(serve(addr, metrics).await.is_err());
    task.abort();
}
