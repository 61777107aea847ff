//! Private band channels as hosted Realtime keeps them: apart from public channels of the same
//! topic, and re-authorized when a token is refreshed.

mod support;

use serde_json::{json, Value};
use support::*;

fn join(key: &str, token: &str, private: bool) -> Value {
    json!({"config": {"broadcast": {"ack": false, "self": false}, "presence": {"key": key, "enabled": true},
                      "postgres_changes": [], "private": private}, "access_token": token})
}

/// Joins `topic` and returns the join ref, asserting the join was accepted.
async fn joined(client: &mut Phoenix, topic: &str, payload: Value) -> String {
    let join_ref = client.send(None, topic, "phx_join", payload).await;
    let reply = client
        .next_event("phx_reply", 3_000)
        .await
        .expect("join reply");
    assert_eq!(reply.payload["status"], "ok", "{}", reply.payload);
    join_ref
}

fn broadcast(text: &str) -> Value {
    json!({"type": "broadcast", "event": "note", "payload": {"text": text}})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_join_of_a_band_topic_neither_sees_nor_reaches_the_private_channel() {
    let server = Server::start(&[]);
    let topic = format!("realtime:band:{ROCKERS}");
    let (alice, bob) = (token("alice", 3600), token("bob", 3600));

    let mut member = Phoenix::connect(&server, "2.0.0").await;
    let member_ref = joined(&mut member, &topic, join("bob", &bob, true)).await;
    member.next_event("presence_state", 2_000).await.unwrap();
    let track = json!({"type": "presence", "event": "track", "payload": {"view": "songs"}});
    member
        .send(Some(&member_ref), &topic, "presence", track)
        .await;
    member.next_event("presence_diff", 2_000).await.unwrap();

    // With only the anon key, a public join of the same topic is accepted, as on hosted
    // Realtime, but it is another channel: no presence of the band, no way in.
    let mut stranger = Phoenix::connect(&server, "2.0.0").await;
    let stranger_ref = joined(&mut stranger, &topic, join("x", &server.anon_key, false)).await;
    let state = stranger.next_event("presence_state", 2_000).await.unwrap();
    assert_eq!(
        state.payload,
        json!({}),
        "the band's presence stays private"
    );
    stranger
        .send(
            Some(&stranger_ref),
            &topic,
            "broadcast",
            broadcast("injected"),
        )
        .await;
    assert!(
        member.next_event("broadcast", 500).await.is_none(),
        "nothing injected"
    );

    // Another member on the private channel sees bob and reaches him.
    let mut other = Phoenix::connect(&server, "2.0.0").await;
    let other_ref = joined(&mut other, &topic, join("alice", &alice, true)).await;
    let state = other.next_event("presence_state", 2_000).await.unwrap();
    assert_eq!(state.payload["bob"]["metas"][0]["view"], "songs");
    other
        .send(Some(&other_ref), &topic, "broadcast", broadcast("hello"))
        .await;
    let message = member
        .next_event("broadcast", 2_000)
        .await
        .expect("delivered");
    assert_eq!(message.payload["payload"]["text"], "hello");
    assert!(
        stranger.next_event("broadcast", 500).await.is_none(),
        "nothing leaks out"
    );
}

/// Sends bob's channel a fresh token, as a client does before its old one expires.
async fn refresh(bob: &mut Phoenix, join_ref: &str, topic: &str) {
    let payload = json!({"access_token": token("bob", 3600)});
    bob.send(Some(join_ref), topic, "access_token", payload)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refreshed_token_re_runs_the_policies_of_a_private_channel() {
    let server = Server::start(&[]);
    let topic = format!("realtime:band:{ROCKERS}");
    let alice = token("alice", 3600);
    let mut bob = Phoenix::connect(&server, "2.0.0").await;
    let bob_ref = joined(&mut bob, &topic, join("bob", &token("bob", 3600), true)).await;
    let mut owner = Phoenix::connect(&server, "2.0.0").await;
    let owner_ref = joined(&mut owner, &topic, join("alice", &alice, true)).await;

    // While bob is a member, a refreshed token keeps his channel.
    refresh(&mut bob, &bob_ref, &topic).await;
    owner
        .send(
            Some(&owner_ref),
            &topic,
            "broadcast",
            broadcast("still here"),
        )
        .await;
    let message = bob.next_event("broadcast", 2_000).await.expect("kept");
    assert_eq!(message.payload["payload"]["text"], "still here");

    // Removed from the band, his next refresh closes the channel.
    let path = format!(
        "band_memberships?band_id=eq.{ROCKERS}&user_id=eq.a992f178-aa00-5f5d-bf95-e7d219c43e16"
    );
    let removal = json!({"deleted_at": "2026-01-01T00:00:00Z"});
    let (status, _) = server.rest("PATCH", &path, &alice, Some(removal)).await;
    assert_eq!(status, 200);
    refresh(&mut bob, &bob_ref, &topic).await;
    let system = bob.next_event("system", 2_000).await.expect("told why");
    let message = system.payload["message"].as_str().unwrap();
    assert!(message.starts_with("Unauthorized"), "{message}");
    assert!(bob.next_event("phx_close", 2_000).await.is_some());
    owner
        .send(Some(&owner_ref), &topic, "broadcast", broadcast("gone"))
        .await;
    assert!(
        bob.next_event("broadcast", 500).await.is_none(),
        "nothing after removal"
    );
}
