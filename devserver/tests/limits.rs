//! The dev server's limits against clients that take more than their share, and its clean-up
//! when it dies without warning.

mod support;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

fn join_payload(token: &str, bindings: Value) -> Value {
    json!({"config": {"broadcast": {"ack": false, "self": false}, "presence": {"key": "", "enabled": false},
                      "postgres_changes": bindings, "private": false}, "access_token": token})
}

#[tokio::test]
async fn a_join_carries_at_most_100_bindings() {
    let server = Server::start(&[]);
    let bob = token("bob", 3600);
    let binding = json!({"event": "*", "schema": "public", "table": "songs", "filter": format!("band_id=eq.{ROCKERS}")});
    let mut client = Phoenix::connect(&server, "2.0.0").await;
    let (_, reply) = client
        .join("realtime:many", json!(vec![binding.clone(); 101]), &bob)
        .await;
    assert_eq!(reply["status"], "error", "{reply}");
    let (_, reply) = client
        .join("realtime:enough", json!(vec![binding; 100]), &bob)
        .await;
    assert_eq!(reply["status"], "ok", "{reply}");
}

#[tokio::test]
async fn a_connection_joins_at_most_100_times_a_second() {
    let server = Server::start(&[]);
    let bob = token("bob", 3600);
    let mut client = Phoenix::connect(&server, "2.0.0").await;
    // Re-joins of one topic: the channel count stays at one, only the pace is too high.
    let started = Instant::now();
    for _ in 0..101 {
        let payload = join_payload(&bob, json!([]));
        client
            .send(None, "realtime:again", "phx_join", payload)
            .await;
    }
    let mut replies = Vec::new();
    while replies.len() < 101 {
        let reply = client
            .next_event("phx_reply", 5_000)
            .await
            .expect("a reply per join");
        replies.push(reply.payload);
    }
    let within_a_second = started.elapsed() < Duration::from_secs(1);
    let refused: Vec<&Value> = replies.iter().filter(|r| r["status"] == "error").collect();
    if within_a_second {
        assert_eq!(
            refused.len(),
            1,
            "only the 101st join within a second is refused"
        );
        assert_eq!(
            refused[0]["response"]["reason"],
            "ClientJoinRateLimitReached: Too many joins per second"
        );
    }
    // A second later the budget is back.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    client
        .send(
            None,
            "realtime:again",
            "phx_join",
            join_payload(&bob, json!([])),
        )
        .await;
    let reply = client.next_event("phx_reply", 5_000).await.unwrap();
    assert_eq!(reply.payload["status"], "ok", "{}", reply.payload);
}

#[tokio::test]
async fn sockets_beyond_the_cap_are_refused_until_one_closes() {
    let server = Server::start(&["--max-sockets", "2"]);
    let first = Phoenix::connect(&server, "2.0.0").await;
    let _second = Phoenix::connect(&server, "2.0.0").await;
    let refused = tokio_tungstenite::connect_async(server.ws_url("2.0.0")).await;
    assert!(refused.is_err(), "a third socket is refused");
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio_tungstenite::connect_async(server.ws_url("2.0.0")).await {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(error) => panic!("the freed slot was never given back: {error}"),
        }
    }
}

#[tokio::test]
async fn a_client_slow_to_send_its_headers_is_dropped() {
    let server = Server::start(&["--header-read-timeout", "1"]);
    let address = server.url.trim_start_matches("http://").to_owned();
    let (slow, prompt) = tokio::task::spawn_blocking(move || {
        let mut slow = std::net::TcpStream::connect(&address).unwrap();
        slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let started = Instant::now();
        let mut buffer = Vec::new();
        let closed = slow.read_to_end(&mut buffer).is_ok() && !buffer.starts_with(b"HTTP/1.1 200");
        let waited = started.elapsed();

        let mut prompt = std::net::TcpStream::connect(&address).unwrap();
        prompt
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        prompt.read_to_string(&mut answer).unwrap();
        ((closed, waited), answer)
    })
    .await
    .unwrap();
    assert!(
        slow.0,
        "the slow client's connection was closed without an answer"
    );
    assert!(
        slow.1 < Duration::from_secs(4),
        "closed after the timeout, not at ours: {:?}",
        slow.1
    );
    assert!(prompt.starts_with("HTTP/1.1 200"), "{prompt}");
    assert!(prompt.ends_with("ok"), "{prompt}");
}

#[test]
fn a_killed_server_leaves_no_postgres_behind() {
    let mut child = Command::new(BIN)
        .args(["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("rockon-devserver ready "), "{ready}");
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let dir = line
        .trim()
        .strip_prefix("throwaway PostgreSQL in ")
        .expect("cluster dir")
        .to_owned();
    let running = || {
        let out = Command::new("pgrep").args(["-f", &dir]).output().unwrap();
        !out.stdout.is_empty()
    };
    assert!(running(), "PostgreSQL runs in {dir}");

    child.kill().unwrap(); // SIGKILL: no Drop, no signal handler.
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while (running() || std::path::Path::new(&dir).exists()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!running(), "no process of the cluster in {dir} is left");
    assert!(!std::path::Path::new(&dir).exists(), "{dir} is deleted");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_not_buffered() {
    let server = Server::start(&["--max-queued-bytes", "1000000"]);
    let bob = token("bob", 3600);
    let room = |key: &str| {
        json!({"config": {"broadcast": {"ack": false, "self": false}, "presence": {"key": key, "enabled": false},
                          "postgres_changes": [], "private": false}, "access_token": bob})
    };
    let mut stalled = Phoenix::connect(&server, "2.0.0").await;
    stalled
        .send(None, "realtime:room", "phx_join", room("stalled"))
        .await;
    stalled.next_event("phx_reply", 2_000).await.unwrap();
    let mut reader = Phoenix::connect(&server, "2.0.0").await;
    reader
        .send(None, "realtime:room", "phx_join", room("reader"))
        .await;
    reader.next_event("phx_reply", 2_000).await.unwrap();
    let mut sender = Phoenix::connect(&server, "2.0.0").await;
    let sender_ref = sender
        .send(None, "realtime:room", "phx_join", room("sender"))
        .await;
    sender.next_event("phx_reply", 2_000).await.unwrap();

    // 40 broadcasts of 500 kB: 20 MB, far beyond what loopback's socket buffers absorb.
    let text = "x".repeat(500_000);
    let mut received = 0;
    for _ in 0..40 {
        let message = json!({"type": "broadcast", "event": "big", "payload": {"text": text}});
        sender
            .send(Some(&sender_ref), "realtime:room", "broadcast", message)
            .await;
        // The reading client keeps up and gets every one.
        reader
            .next_event("broadcast", 5_000)
            .await
            .expect("the reader keeps up");
        received += 1;
    }
    assert_eq!(received, 40);
    // The stalled client, reading at last, finds its connection ended before all 40.
    let mut stalled_got = 0;
    while stalled.next_event("broadcast", 2_000).await.is_some() {
        stalled_got += 1;
    }
    assert!(
        stalled_got < 40,
        "the stalled client was dropped (got {stalled_got} of 40)"
    );
}

#[tokio::test]
async fn rest_runs_as_an_authenticator_without_privileges_and_the_cluster_wants_a_password() {
    let server = Server::start(&[]);
    let bob = token("bob", 3600);
    assert_eq!(server.rest("GET", "songs?limit=1", &bob, None).await.0, 200);

    let (admin, connection) = tokio_postgres::connect(&server.database, tokio_postgres::NoTls)
        .await
        .expect("the ready line's URL, with its password, connects");
    tokio::spawn(connection);
    let row = admin
        .query_one(
            "select r.rolsuper, r.rolbypassrls, r.rolinherit,
                    (select count(*) from pg_stat_activity a where a.usename = r.rolname)
             from pg_roles r where r.rolname = 'rockon_authenticator'",
            &[],
        )
        .await
        .unwrap();
    let (superuser, bypass, inherit, connections): (bool, bool, bool, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert!(
        !superuser && !bypass && !inherit,
        "no privileges of its own"
    );
    assert!(connections > 0, "REST connects as the authenticator");

    // Without the password, nobody gets in, not even on loopback.
    let url = server.database.clone();
    let (userinfo, rest) = url
        .trim_start_matches("postgres://")
        .split_once('@')
        .unwrap();
    let user = userinfo.split(':').next().unwrap();
    let without = format!("postgres://{user}@{rest}");
    let refused = tokio_postgres::connect(&without, tokio_postgres::NoTls).await;
    assert!(
        refused.is_err(),
        "a connection without the password is refused"
    );
}
