//! The Realtime server against a raw Phoenix client: protocol, ordering, filters, RLS, expiry,
//! payload cap and malformed input.

mod support;

use serde_json::{json, Value};
use support::*;

fn insert_song(band: &str, title: &str) -> Value {
    json!({"id": new_id(), "band_id": band, "title": title})
}

#[tokio::test]
async fn protocol_basics_for_both_serializers() {
    let server = Server::start(&[]);
    let alice = token("alice", 3600);
    for vsn in ["2.0.0", "1.0.0"] {
        let mut socket = Phoenix::connect(&server, vsn).await;
        // Heartbeat replies carry the same ref.
        let r = socket.send(None, "phoenix", "heartbeat", json!({})).await;
        let reply = socket.next(2_000).await.unwrap();
        assert_eq!(
            (reply.event.as_str(), reply.msg_ref.as_deref()),
            ("phx_reply", Some(r.as_str()))
        );
        assert_eq!(reply.payload["status"], "ok");
        // Bindings are echoed in order with ids.
        let bindings = json!([
            {"event": "INSERT", "schema": "public", "table": "songs", "filter": format!("band_id=eq.{ROCKERS}")},
            {"event": "*", "schema": "public", "table": "setlists"},
        ]);
        let (_, reply) = socket.join("realtime:band", bindings.clone(), &alice).await;
        let echoed = reply["response"]["postgres_changes"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(echoed.len(), 2);
        for (sent, got) in bindings.as_array().unwrap().iter().zip(&echoed) {
            for key in ["event", "schema", "table"] {
                assert_eq!(sent[key], got[key]);
            }
            assert!(got["id"].as_u64().is_some());
        }
        let system = socket.next_event("system", 2_000).await.unwrap();
        assert_eq!(system.payload["message"], "Subscribed to PostgreSQL");
        // A push on a topic that is not joined.
        socket
            .send(None, "realtime:elsewhere", "broadcast", json!({}))
            .await;
        let unmatched = socket.next_event("phx_reply", 2_000).await.unwrap();
        assert_eq!(unmatched.payload["response"]["reason"], "unmatched topic");
        // Leave: reply, then close.
        socket
            .send(None, "realtime:band", "phx_leave", json!({}))
            .await;
        assert_eq!(
            socket.next_event("phx_reply", 2_000).await.unwrap().payload["status"],
            "ok"
        );
        assert!(socket.next_event("phx_close", 2_000).await.is_some());
    }
}

#[tokio::test]
async fn changes_arrive_in_commit_order_under_concurrent_writers() {
    let server = Server::start(&[]);
    let bob = token("bob", 3600);
    let mut socket = Phoenix::connect(&server, "2.0.0").await;
    socket
        .subscribe("realtime:band", songs_of(ROCKERS), &bob)
        .await;
    let server = std::sync::Arc::new(server);
    let mut writers = Vec::new();
    for writer in 0..4 {
        let server = server.clone();
        let bob = bob.clone();
        writers.push(tokio::spawn(async move {
            let row = insert_song(ROCKERS, &format!("writer {writer}"));
            let id = row["id"].as_str().unwrap().to_owned();
            let (status, _) = server.rest("POST", "songs", &bob, Some(row)).await;
            assert_eq!(status, 201);
            for n in 0..24 {
                let (status, rows) = server
                    .rest(
                        "PATCH",
                        &format!("songs?id=eq.{id}"),
                        &bob,
                        Some(json!({"notes": format!("edit {n}")})),
                    )
                    .await;
                assert_eq!(status, 200, "{rows}");
            }
            id
        }));
    }
    let mut ids = Vec::new();
    for writer in writers {
        ids.push(writer.await.unwrap());
    }
    let mut last_version = std::collections::HashMap::new();
    let mut last_commit = String::new();
    for _ in 0..100 {
        let frame = socket
            .next_event("postgres_changes", 10_000)
            .await
            .expect("all 100 changes");
        let data = &frame.payload["data"];
        let record = &data["record"];
        let id = record["id"].as_str().unwrap().to_owned();
        let version = record["version"].as_i64().unwrap();
        let previous = last_version.insert(id, version).unwrap_or(0);
        assert_eq!(version, previous + 1, "versions of a row arrive in order");
        let commit = data["commit_timestamp"].as_str().unwrap().to_owned();
        assert!(
            commit >= last_commit,
            "commit order: {commit} after {last_commit}"
        );
        last_commit = commit;
    }
    assert_eq!(last_version.len(), 4);
    assert!(last_version.values().all(|&v| v == 25));
    assert!(
        socket.next_event("postgres_changes", 300).await.is_none(),
        "nothing extra"
    );
}

#[tokio::test]
async fn filters_and_row_level_security_decide_who_gets_what() {
    let server = Server::start(&[]);
    let (alice, bob, carol) = (
        token("alice", 3600),
        token("bob", 3600),
        token("carol", 3600),
    );
    let mut fast = Phoenix::connect(&server, "2.0.0").await;
    fast.subscribe(
        "realtime:fast",
        json!([{"event": "*", "schema": "public", "table": "songs", "filter": "tempo=gt.150"}]),
        &alice,
    )
    .await;
    let mut listed = Phoenix::connect(&server, "2.0.0").await;
    listed.subscribe("realtime:listed", json!([{"event": "UPDATE", "schema": "public", "table": "songs", "filter": "title=in.(Alpha,Beta)"}]), &alice).await;
    let mut outsider = Phoenix::connect(&server, "2.0.0").await;
    outsider
        .subscribe(
            "realtime:all",
            json!([{"event": "*", "schema": "public", "table": "songs"}]),
            &carol,
        )
        .await;
    let mut trio = Phoenix::connect(&server, "2.0.0").await;
    trio.subscribe("realtime:trio", json!([{"event": "*", "schema": "public", "table": "songs", "filter": format!("band_id=neq.{ROCKERS}")}]), &carol).await;

    let slow = json!({"id": new_id(), "band_id": ROCKERS, "title": "Alpha", "tempo": 90});
    let quick = json!({"id": new_id(), "band_id": ROCKERS, "title": "Gamma", "tempo": 170});
    for row in [&slow, &quick] {
        assert_eq!(
            server
                .rest("POST", "songs", &bob, Some(row.clone()))
                .await
                .0,
            201
        );
    }
    let change = fast.next_event("postgres_changes", 5_000).await.unwrap();
    assert_eq!(change.payload["data"]["record"]["title"], "Gamma");
    assert!(fast.next_event("postgres_changes", 300).await.is_none());
    // Inserts do not reach an UPDATE binding; updates of listed titles do.
    assert!(listed.next_event("postgres_changes", 300).await.is_none());
    let id = slow["id"].as_str().unwrap();
    server
        .rest(
            "PATCH",
            &format!("songs?id=eq.{id}"),
            &bob,
            Some(json!({"notes": "x"})),
        )
        .await;
    let update = listed.next_event("postgres_changes", 5_000).await.unwrap();
    assert_eq!(update.payload["data"]["type"], "UPDATE");
    assert_eq!(
        update.payload["data"]["old_record"],
        json!({"id": id}),
        "with RLS only the key"
    );
    // A member's hard delete is refused by the policies; nothing of it reaches anyone.
    server
        .rest("DELETE", &format!("songs?id=eq.{id}"), &bob, None)
        .await;
    // Carol is in neither band of these rows: nothing, not even the delete.
    assert!(outsider.next_event("postgres_changes", 500).await.is_none());
    // Her own band's change reaches her.
    let own = json!({"id": new_id(), "band_id": TRIO, "title": "Nardis"});
    assert_eq!(server.rest("POST", "songs", &carol, Some(own)).await.0, 201);
    let mine = trio.next_event("postgres_changes", 5_000).await.unwrap();
    assert_eq!(mine.payload["data"]["record"]["title"], "Nardis");
    let seen_by_all = outsider
        .next_event("postgres_changes", 5_000)
        .await
        .unwrap();
    assert_eq!(seen_by_all.payload["data"]["record"]["title"], "Nardis");
}

#[tokio::test]
async fn expired_tokens_close_channels_and_oversize_changes_lose_their_record() {
    let server = Server::start(&["--token-ttl", "2", "--max-change-bytes", "4000"]);
    let short = token("bob", 2);
    let mut socket = Phoenix::connect(&server, "2.0.0").await;
    socket
        .subscribe("realtime:band", songs_of(ROCKERS), &short)
        .await;
    let big =
        json!({"id": new_id(), "band_id": ROCKERS, "title": "Epic", "notes": "la ".repeat(3000)});
    assert_eq!(
        server
            .rest("POST", "songs", &token("bob", 3600), Some(big))
            .await
            .0,
        201
    );
    let change = socket.next_event("postgres_changes", 5_000).await.unwrap();
    assert_eq!(
        change.payload["data"]["errors"],
        json!(["Error 413: Payload Too Large"])
    );
    assert!(change.payload["data"].get("record").is_none());
    // At expiry: system error, then phx_close.
    let system = socket
        .next_event("system", 6_000)
        .await
        .expect("expiry notice");
    assert_eq!(system.payload["extension"], "system");
    assert!(system.payload["message"]
        .as_str()
        .unwrap()
        .contains("Token has expired"));
    assert!(socket.next_event("phx_close", 1_000).await.is_some());
    // Joining with the expired token is refused with the real server's wording.
    let (_, reply) = socket
        .join("realtime:again", songs_of(ROCKERS), &short)
        .await;
    assert!(reply["response"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("InvalidJWTToken: Token has expired"));
    // REST says 401 with PGRST301.
    let (status, body) = server.rest("GET", "songs", &short, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("PGRST301")));
}

#[tokio::test]
async fn access_token_refresh_keeps_a_channel_alive() {
    let server = Server::start(&["--token-ttl", "2"]);
    let mut socket = Phoenix::connect(&server, "2.0.0").await;
    let join_ref = socket
        .subscribe("realtime:band", songs_of(ROCKERS), &token("bob", 2))
        .await;
    socket
        .send(
            Some(&join_ref),
            "realtime:band",
            "access_token",
            json!({"access_token": token("bob", 3600)}),
        )
        .await;
    assert!(
        socket.next_event("system", 3_500).await.is_none(),
        "no expiry after refresh"
    );
    let row = insert_song(ROCKERS, "Still here");
    server
        .rest("POST", "songs", &token("alice", 3600), Some(row))
        .await;
    assert!(socket.next_event("postgres_changes", 5_000).await.is_some());
}

#[tokio::test]
async fn malformed_input_gets_real_answers_and_never_crashes_the_server() {
    let server = Server::start(&[]);
    let bob = token("bob", 3600);
    let mut socket = Phoenix::connect(&server, "2.0.0").await;
    socket.send_raw("this is not json").await;
    socket.send_raw("[1,2]").await;
    socket.send_raw("{\"topic\":1}").await;
    // Bad tokens, each with the real server's reason.
    for (bad, reason) in [
        (
            "",
            "InvalidJWTToken: Fields `role` and `exp` are required in JWT",
        ),
        ("abc.def.ghi", "MalformedJWT"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYXV0aGVudGljYXRlZCIsImV4cCI6OTk5OTk5OTk5OX0.AAAA",
            "JwtSignatureError",
        ),
    ] {
        let (_, reply) = socket.join("realtime:x", songs_of(ROCKERS), bad).await;
        assert_eq!(reply["status"], "error");
        assert!(
            reply["response"]["reason"]
                .as_str()
                .unwrap()
                .starts_with(reason),
            "{reply}"
        );
    }
    // A bad filter: joined, but the database subscription fails.
    let (_, reply) = socket
        .join("realtime:bad", json!([{"event": "*", "schema": "public", "table": "songs", "filter": "title=like.x%"}]), &bob)
        .await;
    assert_eq!(reply["status"], "ok");
    let system = socket.next_event("system", 2_000).await.unwrap();
    assert_eq!(system.payload["status"], "error");
    // An unknown table, likewise.
    socket
        .join(
            "realtime:nope",
            json!([{"event": "*", "schema": "public", "table": "nope"}]),
            &bob,
        )
        .await;
    assert_eq!(
        socket.next_event("system", 2_000).await.unwrap().payload["status"],
        "error"
    );
    // Unknown events on a joined topic are ignored; the socket still works.
    socket
        .send(None, "realtime:bad", "some_future_event", json!({}))
        .await;
    let r = socket.send(None, "phoenix", "heartbeat", json!({})).await;
    assert_eq!(
        socket
            .next_event("phx_reply", 2_000)
            .await
            .unwrap()
            .msg_ref
            .as_deref(),
        Some(r.as_str())
    );
    // An oversize frame ends that socket only.
    socket
        .send_raw(&format!(
            "[null,\"9\",\"phoenix\",\"heartbeat\",\"{}\"]",
            "x".repeat(2 * 1024 * 1024)
        ))
        .await;
    assert!(socket.next_text(2_000).await.is_none());
    let mut fresh = Phoenix::connect(&server, "2.0.0").await;
    fresh
        .subscribe("realtime:band", songs_of(ROCKERS), &bob)
        .await;
    // Bad REST input gets PostgREST errors.
    let (status, body) = server.rest("GET", "songs?title=regex.x", &bob, None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PGRST100")));
    let (status, body) = server
        .rest("POST", "songs", &bob, Some(json!({"nope": 1})))
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PGRST204")));
    let (status, _) = server.rest("GET", "songs?limit=abc", &bob, None).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_connection_carries_at_most_100_channels() {
    let server = Server::start(&[]);
    let bob = token("bob", 3600);
    let mut socket = Phoenix::connect(&server, "2.0.0").await;
    for n in 0..100 {
        let (_, reply) = socket
            .join(&format!("realtime:c{n}"), json!([]), &bob)
            .await;
        assert_eq!(reply["status"], "ok");
    }
    let (_, reply) = socket.join("realtime:one-too-many", json!([]), &bob).await;
    assert_eq!(
        reply["response"]["reason"],
        "ChannelRateLimitReached: Too many channels"
    );
    // Re-joining an existing topic is not a new channel (once the second's budget of 100
    // joins is back).
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (_, reply) = socket.join("realtime:c5", json!([]), &bob).await;
    assert_eq!(reply["status"], "ok");
}

#[tokio::test]
async fn a_write_right_after_the_join_reply_is_delivered() {
    let server = Server::start(&[]);
    let bob = token("bob", 3600);
    let mut socket = Phoenix::connect(&server, "2.0.0").await;
    let (_, reply) = socket.join("realtime:band", songs_of(ROCKERS), &bob).await;
    assert_eq!(reply["status"], "ok");
    // Written before "Subscribed to PostgreSQL" has been read: the subscription already holds.
    let row = insert_song(ROCKERS, "Early bird");
    assert_eq!(server.rest("POST", "songs", &bob, Some(row)).await.0, 201);
    let system = socket.next_event("system", 5_000).await.unwrap();
    assert_eq!(system.payload["message"], "Subscribed to PostgreSQL");
    let change = socket
        .next_event("postgres_changes", 5_000)
        .await
        .expect("not missed");
    assert_eq!(change.payload["data"]["record"]["title"], "Early bird");
}

#[tokio::test]
async fn presence_and_broadcast_between_members_of_a_channel() {
    let server = Server::start(&[]);
    let (alice, bob) = (token("alice", 3600), token("bob", 3600));
    let join = |key: &str, token: &str| {
        json!({"config": {"broadcast": {"ack": true, "self": false}, "presence": {"key": key, "enabled": true},
                          "postgres_changes": [], "private": false}, "access_token": token})
    };
    let mut a = Phoenix::connect(&server, "2.0.0").await;
    let a_ref = a
        .send(None, "realtime:room", "phx_join", join("alice", &alice))
        .await;
    assert_eq!(
        a.next_event("phx_reply", 2_000).await.unwrap().payload["status"],
        "ok"
    );
    assert_eq!(
        a.next_event("presence_state", 2_000).await.unwrap().payload,
        json!({})
    );
    a.send(
        Some(&a_ref),
        "realtime:room",
        "presence",
        json!({"type": "presence", "event": "track", "payload": {"page": "songs"}}),
    )
    .await;
    assert_eq!(
        a.next_event("phx_reply", 2_000).await.unwrap().payload["status"],
        "ok"
    );
    let diff = a.next_event("presence_diff", 2_000).await.unwrap();
    assert_eq!(diff.payload["joins"]["alice"]["metas"][0]["page"], "songs");

    // Bob joins and sees alice in the state.
    let mut b = Phoenix::connect(&server, "1.0.0").await;
    let b_ref = b
        .send(None, "realtime:room", "phx_join", join("bob", &bob))
        .await;
    b.next_event("phx_reply", 2_000).await.unwrap();
    let state = b.next_event("presence_state", 2_000).await.unwrap();
    assert_eq!(state.payload["alice"]["metas"][0]["page"], "songs");

    // A broadcast from bob reaches alice (not bob: self is off) and is acknowledged.
    b.send(
        Some(&b_ref),
        "realtime:room",
        "broadcast",
        json!({"type": "broadcast", "event": "cursor", "payload": {"x": 1}}),
    )
    .await;
    assert_eq!(
        b.next_event("phx_reply", 2_000).await.unwrap().payload["status"],
        "ok"
    );
    let message = a.next_event("broadcast", 2_000).await.unwrap();
    assert_eq!(message.payload["event"], "cursor");
    assert_eq!(message.payload["payload"]["x"], 1);
    assert!(b.next_event("broadcast", 300).await.is_none());

    // Alice leaves: bob gets the leave diff.
    drop(a);
    let leave = b.next_event("presence_diff", 3_000).await.unwrap();
    assert_eq!(
        leave.payload["leaves"]["alice"]["metas"][0]["page"],
        "songs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn private_band_channels_admit_members_only() {
    let server = Server::start(&[]);
    let join = |token: &str| {
        json!({"config": {"broadcast": {"ack": false, "self": false}, "presence": {"key": "k", "enabled": true},
                          "postgres_changes": [], "private": true}, "access_token": token})
    };
    let topic = format!("realtime:band:{ROCKERS}");
    let mut member = Phoenix::connect(&server, "2.0.0").await;
    member
        .send(None, &topic, "phx_join", join(&token("bob", 3600)))
        .await;
    let reply = member.next_event("phx_reply", 2_000).await.unwrap();
    assert_eq!(reply.payload["status"], "ok", "{:?}", reply.payload);

    let mut outsider = Phoenix::connect(&server, "2.0.0").await;
    outsider
        .send(None, &topic, "phx_join", join(&token("carol", 3600)))
        .await;
    let reply = outsider.next_event("phx_reply", 2_000).await.unwrap();
    assert_eq!(reply.payload["status"], "error");
    let reason = reply.payload["response"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("Unauthorized"), "{reason}");
    assert!(
        outsider.next_event("presence_state", 300).await.is_none(),
        "nothing of the channel reaches an outsider"
    );

    // Not a band topic at all: denied, not an error of the server.
    outsider
        .send(
            None,
            "realtime:band:not-a-uuid",
            "phx_join",
            join(&token("carol", 3600)),
        )
        .await;
    let reply = outsider.next_event("phx_reply", 2_000).await.unwrap();
    assert_eq!(reply.payload["status"], "error");
}
