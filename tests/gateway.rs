//! etcd's HTTP/JSON gateway: the same `curl`-style requests to a member of ours and to real
//! etcd 3.4.23 get the same JSON (ids masked) — KV, txn, leases, errors, and a watch stream.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{OurMember, RealEtcd, http_with_body};

/// Ids differ between the two servers; everything else must not.
fn masked(body: &str) -> String {
    regex_lite::Regex::new(r#""(cluster_id|member_id|ID)":"\d+""#)
        .unwrap()
        .replace_all(body, r#""$1":"N""#)
        .into_owned()
}

/// The answers to a fixed sequence of gateway requests, one line each.
fn conversation(endpoint: &str) -> Vec<String> {
    let requests = [
        ("/v3/kv/put", r#"{"key":"Zm9v","value":"YmFy"}"#),
        (
            "/v3/kv/put",
            r#"{"key":"Zm9vMg==","value":"YmF6","prev_kv":true}"#,
        ),
        ("/v3/kv/range", r#"{"key":"Zm9v"}"#),
        (
            "/v3/kv/range",
            r#"{"key":"Zm9v","range_end":"Zm9w","count_only":true}"#,
        ),
        ("/v3/kv/range", r#"{"key":"Zm9v","limit":"x"}"#),
        ("/v3/kv/put", r#"{"key":""}"#),
        (
            "/v3/kv/txn",
            r#"{"compare":[{"target":"VALUE","key":"Zm9v","value":"YmFy"}],"success":[{"request_put":{"key":"Zm9v","value":"cXV4"}}],"failure":[{"request_range":{"key":"Zm9v"}}]}"#,
        ),
        ("/v3/kv/deleterange", r#"{"key":"Zm9vMg==","prev_kv":true}"#),
        ("/v3/kv/range", r#"{"key":"Zm9v","range_end":"AA=="}"#),
        ("/v3/lease/grant", r#"{"TTL":"60"}"#),
        ("/v3/kv/compaction", r#"{"revision":"3"}"#),
        ("/v3/kv/range", r#"{"key":"Zm9v","revision":"2"}"#),
    ];
    requests
        .iter()
        .map(|(path, body)| {
            let (status, answer) = http_with_body("POST", endpoint, path, body).unwrap();
            // Go's JSON decoder words its complaints its own way; the code must still agree.
            let answer = regex_lite::Regex::new(
                r#"\{"error":"(invalid character|invalid digit)[^"]*","message":"[^"]*""#,
            )
            .unwrap()
            .replace(&answer, r#"{"error":"JSON","message":"JSON""#)
            .into_owned();
            format!("{path} {status} {}", masked(&answer))
        })
        .collect()
}

/// The first lines of a streamed gateway answer, read for a while.
fn stream_lines(endpoint: &str, path: &str, body: &str, wait: Duration) -> Vec<String> {
    let mut stream = TcpStream::connect(endpoint).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {endpoint}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&raw)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(masked)
        .collect()
}

#[test]
fn the_gateway_answers_as_real_etcds() {
    let ours = OurMember::start_single("gateway");
    let real = RealEtcd::start();
    let (got, want) = (
        conversation(&ours.endpoint()),
        conversation(&real.endpoint()),
    );
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    assert_eq!(got.len(), want.len());
    assert!(got[2].contains(r#""kvs":[{"key":"Zm9v""#), "{}", got[2]);

    // A watch from revision 2 streams the history it asked for, one result per line.
    let watch = r#"{"create_request":{"key":"Zm9v","range_end":"Zm9w","start_revision":"4"}}"#;
    let wait = Duration::from_millis(1500);
    let (got, want) = (
        stream_lines(&ours.endpoint(), "/v3/watch", watch, wait),
        stream_lines(&real.endpoint(), "/v3/watch", watch, wait),
    );
    assert_eq!(got, want);
    assert!(
        got.len() >= 2 && got[0].contains(r#""created":true"#),
        "{got:?}"
    );
}
