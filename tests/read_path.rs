//! The read path in a real browser: a band's channel on a real WebSocket to the dev server,
//! remote changes applied to IndexedDB, catch-up pulls, row-level security.
#![cfg(target_arch = "wasm32")]

mod support;

use serde_json::{json, Value};
use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn changes_with(events: &js_sys::Array, source: &str, id: &str) -> Vec<Value> {
    events_of(events, "change")
        .into_iter()
        .filter(|e| e["source"] == source && e["ids"].as_array().unwrap().iter().any(|i| i == id))
        .collect()
}

async fn local(client: &rockon_sync::api::SyncClient, id: &str) -> Value {
    to_json(&call(client.get("songs".into(), id.into())).await.unwrap())
}

#[wasm_bindgen_test]
async fn another_members_changes_arrive_live_and_outsiders_get_nothing() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let carol = sign_in("carol").await;
    let client = open(&alice, &unique("read-alice"), URL, json!({})).await;
    let events = record(&client);
    client.follow_band(ROCKERS).unwrap();
    let outsider = open(&carol, &unique("read-carol"), URL, json!({})).await;
    let outsider_events = record(&outsider);
    outsider.follow_band(ROCKERS).unwrap();

    // Subscribed, then the first pull fills the cache.
    eventually(10_000, "initial pull", || async {
        events_of(&events, "change")
            .iter()
            .any(|e| e["source"] == "pull")
    })
    .await;
    let count = call(client.count("songs".into(), ROCKERS.into()))
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(count >= 20.0, "the band's songs are cached: {count}");

    // Bob inserts, updates and deletes; alice's store follows, with change events.
    let id = format!(
        "{:08x}-0000-4000-8000-{:012x}",
        0xfeed,
        (js_sys::Math::random() * 1e12) as u64
    );
    let (status, _) = rest(
        "POST",
        "songs",
        &bob.token,
        Some(json!({"id": id, "band_id": ROCKERS, "title": "Live one"})),
    )
    .await;
    assert_eq!(status, 201);
    eventually(5_000, "insert arrives", || async {
        local(&client, &id).await["title"] == "Live one"
    })
    .await;
    assert!(!changes_with(&events, "remote", &id).is_empty());
    rest(
        "PATCH",
        &format!("songs?id=eq.{id}"),
        &bob.token,
        Some(json!({"title": "Live two"})),
    )
    .await;
    eventually(5_000, "update arrives", || async {
        local(&client, &id).await["version"] == 2
    })
    .await;
    assert_eq!(local(&client, &id).await["title"], "Live two");
    rest(
        "PATCH",
        &format!("songs?id=eq.{id}"),
        &bob.token,
        Some(json!({"deleted_at": "2000-01-01T00:00:00Z"})),
    )
    .await;
    eventually(5_000, "tombstone arrives", || async {
        local(&client, &id).await["deletedAt"].is_string()
    })
    .await;
    let visible = to_json(
        &call(client.list("songs".into(), ROCKERS.into(), js(json!({}))))
            .await
            .unwrap(),
    );
    assert!(!visible
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == id.as_str()));

    // Carol joined the same channel name but is not a member: no rows, no events.
    assert_eq!(
        call(outsider.count("songs".into(), ROCKERS.into()))
            .await
            .unwrap(),
        0
    );
    assert!(events_of(&outsider_events, "change").is_empty());
    assert!(call(outsider.get("songs".into(), id.clone()))
        .await
        .unwrap()
        .is_undefined());
}

#[wasm_bindgen_test]
async fn rows_written_while_the_socket_was_down_are_caught_up() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let client = open(&alice, &unique("read-catchup"), URL, json!({})).await;
    let events = record(&client);
    client.follow_band(ROCKERS).unwrap();
    eventually(10_000, "subscribed", || async {
        events_of(&events, "channel")
            .iter()
            .any(|e| e["state"] == "subscribed")
    })
    .await;
    // The socket dies; bob writes meanwhile; the client reconnects and pulls.
    fault(json!({"action": "drop_sockets"})).await;
    let marker = unique("missed");
    let mut ids = Vec::new();
    for n in 0..30 {
        let id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            n,
            (js_sys::Math::random() * 1e12) as u64
        );
        rest(
            "POST",
            "songs",
            &bob.token,
            Some(json!({"id": id, "band_id": ROCKERS, "title": format!("{marker} {n}")})),
        )
        .await;
        ids.push(id);
    }
    eventually(15_000, "all 30 arrive", || async {
        let mut all = true;
        for id in &ids {
            if local(&client, id).await["title"].is_null() {
                all = false;
                break;
            }
        }
        all
    })
    .await;
    let (_, server) = rest(
        "GET",
        &format!("songs?select=id&band_id=eq.{ROCKERS}"),
        &alice.token,
        None,
    )
    .await;
    let server_count = server.as_array().unwrap().len() as f64;
    eventually(10_000, "counts converge", || async {
        call(client.count("songs".into(), ROCKERS.into()))
            .await
            .unwrap()
            .as_f64()
            .unwrap()
            >= server_count
    })
    .await;
}
