//! Every fault switch, on one server (switches are global, so these run in sequence).

mod support;

use serde_json::{json, Value};
use support::*;

fn song(title: &str) -> Value {
    json!({"id": new_id(), "band_id": ROCKERS, "title": title})
}

#[tokio::test]
async fn every_fault_switch_works_and_is_reversible() {
    let server = Server::start(&["--faults"]);
    let bob = token("bob", 3600);
    let alice = token("alice", 3600);

    // Drop every socket: the client sees its connection end.
    let mut socket = Phoenix::connect(&server, "2.0.0").await;
    socket
        .subscribe("realtime:band", songs_of(ROCKERS), &bob)
        .await;
    server.fault(json!({"action": "drop_sockets"})).await;
    assert!(socket.next_text(2_000).await.is_none(), "socket dropped");

    // Refuse new sockets for a while: the upgrade fails, then works again.
    server
        .fault(json!({"action": "refuse_sockets", "seconds": 1}))
        .await;
    let refused = tokio_tungstenite::connect_async(server.ws_url("2.0.0")).await;
    assert!(refused.is_err(), "refused while the switch is on");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let mut socket = Phoenix::connect(&server, "2.0.0").await;
    socket
        .subscribe("realtime:band", songs_of(ROCKERS), &bob)
        .await;

    // Duplicate frames: each change arrives twice.
    server
        .fault(json!({"action": "frames", "duplicate": true}))
        .await;
    server
        .rest("POST", "songs", &alice, Some(song("Twice")))
        .await;
    for _ in 0..2 {
        let frame = socket
            .next_event("postgres_changes", 5_000)
            .await
            .expect("a copy");
        assert_eq!(frame.payload["data"]["record"]["title"], "Twice");
    }
    assert!(socket.next_event("postgres_changes", 300).await.is_none());

    // Reorder: two changes committed in order arrive swapped.
    server
        .fault(json!({"action": "frames", "reorder": true}))
        .await;
    let client = reqwest::Client::new();
    let both = json!([song("First"), song("Second")]);
    // One request, two rows, two changes back to back.
    let response = client
        .post(format!("{}/rest/v1/songs", server.url))
        .header("apikey", &server.anon_key)
        .header("authorization", format!("Bearer {alice}"))
        .json(&both)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let a = socket.next_event("postgres_changes", 5_000).await.unwrap();
    let b = socket.next_event("postgres_changes", 5_000).await.unwrap();
    assert_eq!(
        (
            a.payload["data"]["record"]["title"].as_str(),
            b.payload["data"]["record"]["title"].as_str()
        ),
        (Some("Second"), Some("First"))
    );

    // Delay: frames are held back.
    server
        .fault(json!({"action": "frames", "delay_ms": 400}))
        .await;
    let started = std::time::Instant::now();
    let r = socket.send(None, "phoenix", "heartbeat", json!({})).await;
    let reply = socket.next_event("phx_reply", 5_000).await.unwrap();
    assert_eq!(reply.msg_ref.as_deref(), Some(r.as_str()));
    assert!(started.elapsed().as_millis() >= 400);
    server.fault(json!({"action": "reset"})).await;

    // A malformed frame arrives, and the socket keeps working.
    server.fault(json!({"action": "malformed_frame"})).await;
    let text = socket.next_text(2_000).await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    server
        .rest("POST", "songs", &alice, Some(song("After garbage")))
        .await;
    assert!(socket.next_event("postgres_changes", 5_000).await.is_some());

    // REST failures: the next two calls fail with the given status, then calls succeed.
    server
        .fault(json!({"action": "fail_rest", "count": 2, "status": 503}))
        .await;
    assert_eq!(server.rest("GET", "songs?limit=1", &bob, None).await.0, 503);
    assert_eq!(server.rest("GET", "songs?limit=1", &bob, None).await.0, 503);
    assert_eq!(server.rest("GET", "songs?limit=1", &bob, None).await.0, 200);
    server
        .fault(json!({"action": "fail_rest", "count": 1, "status": 429}))
        .await;
    assert_eq!(server.rest("GET", "songs?limit=1", &bob, None).await.0, 429);
    // Failures for writes only: a read passes and leaves the failure to the next write.
    server
        .fault(json!({"action": "fail_rest", "count": 1, "status": 400, "writes_only": true}))
        .await;
    assert_eq!(server.rest("GET", "songs?limit=1", &bob, None).await.0, 200);
    let refused = server.rest("POST", "songs", &alice, Some(song("Refused once")));
    assert_eq!(refused.await.0, 400);
    // The failure is used up: the next write goes through (one that matches no row, so no
    // change reaches the socket).
    let nobody = "songs?id=eq.00000000-0000-0000-0000-000000000000";
    let patched = server.rest("PATCH", nobody, &alice, Some(json!({"title": "x"})));
    assert!((200..300).contains(&patched.await.0));

    // Restart the change stream: changes after the restart (its answer) flow again.
    server.fault(json!({"action": "restart_stream"})).await;
    server
        .rest("POST", "songs", &alice, Some(song("After restart")))
        .await;
    let frame = socket
        .next_event("postgres_changes", 5_000)
        .await
        .expect("stream restarted");
    assert_eq!(frame.payload["data"]["record"]["title"], "After restart");

    // Expire all tokens: REST says 401, channels close with the expiry notice.
    server.fault(json!({"action": "expire_tokens"})).await;
    assert_eq!(server.rest("GET", "songs?limit=1", &bob, None).await.0, 401);
    let system = socket
        .next_event("system", 3_000)
        .await
        .expect("expiry notice");
    assert!(system.payload["message"]
        .as_str()
        .unwrap()
        .contains("Token has expired"));
    server.fault(json!({"action": "reset"})).await;
    assert_eq!(server.rest("GET", "songs?limit=1", &bob, None).await.0, 200);
}

#[tokio::test]
async fn fault_switches_are_off_without_the_flag() {
    let server = Server::start(&[]);
    let response = reqwest::Client::new()
        .post(format!("{}/admin/faults", server.url))
        .json(&json!({"action": "drop_sockets"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test]
async fn fault_switches_need_the_token_from_the_ready_line() {
    let server = Server::start(&["--faults"]);
    assert_eq!(server.faults_token.len(), 32);
    let switch = |token: &str| {
        reqwest::Client::new()
            .post(format!("{}/admin/faults", server.url))
            .bearer_auth(token)
            .json(&json!({"action": "reset"}))
            .send()
    };
    assert_eq!(switch("").await.unwrap().status().as_u16(), 401);
    assert_eq!(
        switch("0123456789abcdef0123456789abcdef")
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        switch(&server.faults_token)
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_lost_answer_leaves_the_write_committed() {
    let server = Server::start(&["--faults"]);
    let bob = token("bob", 3600);
    server
        .fault(json!({"action": "lose_answers", "count": 1}))
        .await;
    let id = new_id();
    let sent = reqwest::Client::new()
        .post(format!("{}/rest/v1/songs", server.url))
        .header("apikey", &server.anon_key)
        .bearer_auth(&bob)
        .json(&json!({"id": id, "band_id": ROCKERS, "title": "Committed in the dark"}))
        .send()
        .await;
    assert!(
        sent.is_err(),
        "the connection drops before any answer: {sent:?}"
    );
    let (status, rows) = server
        .rest(
            "GET",
            &format!("songs?id=eq.{id}&select=title,version"),
            &bob,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        rows,
        json!([{"title": "Committed in the dark", "version": 1}])
    );
    // The switch counts down: the next write is answered.
    let (status, _) = server
        .rest(
            "PATCH",
            &format!("songs?id=eq.{id}"),
            &bob,
            Some(json!({"tempo": 100})),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn beyond_loopback_the_default_secret_and_fault_switches_are_refused() {
    let refused = |args: &[&str]| {
        let output = std::process::Command::new(BIN)
            .args(["serve", "--port", "0"])
            .args(args)
            .env_remove("ROCKON_JWT_SECRET")
            .output()
            .expect("runs");
        assert!(!output.status.success(), "{args:?} must not start");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    // Both are refused before anything listens or a database starts.
    let message = refused(&["--host", "0.0.0.0"]);
    assert!(message.contains("default JWT secret"), "{message}");
    let message = refused(&[
        "--host",
        "0.0.0.0",
        "--jwt-secret",
        "a-private-secret-of-at-least-32-chars",
        "--faults",
    ]);
    assert!(message.contains("loopback only"), "{message}");
    // On loopback both are fine (every other test here starts that way).
    let server = Server::start(&["--host", "localhost", "--faults"]);
    let health = reqwest::get(format!("{}/health", server.url))
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_change_reaches_nobody_and_the_next_one_does() {
    let server = Server::start(&["--faults"]);
    let bob = token("bob", 3600);
    let mut socket = Phoenix::connect(&server, "2.0.0").await;
    socket
        .subscribe("realtime:songs", songs_of(ROCKERS), &bob)
        .await;
    server
        .fault(json!({"action": "drop_changes", "count": 1}))
        .await;
    for title in ["Lost in the stream", "Delivered"] {
        let row = json!({"id": new_id(), "band_id": ROCKERS, "title": title});
        assert_eq!(server.rest("POST", "songs", &bob, Some(row)).await.0, 201);
    }
    let change = socket
        .next_event("postgres_changes", 5_000)
        .await
        .expect("the second change");
    assert_eq!(change.payload["data"]["record"]["title"], "Delivered");
    // The first is on the server all the same: only a pull finds it.
    let (_, rows) = server
        .rest(
            "GET",
            "songs?title=eq.Lost%20in%20the%20stream&select=title",
            &bob,
            None,
        )
        .await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
}
