//! The bands a client follows come from the user's memberships. A failed or unreadable answer
//! is an error to retry, never "member of no band": nothing is purged, and the bands are
//! followed once the server answers again. A real removal parks the band's pending writes as
//! failed instead of dropping them.
#![cfg(target_arch = "wasm32")]

mod support;

use gloo_timers::future::TimeoutFuture;
use rockon_sync_core::value::json;
use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn joined(events: &js_sys::Array, band: &str) -> bool {
    events_of(events, "bands")
        .iter()
        .any(|e| e["joined"].as_array().unwrap().iter().any(|b| b == band))
}

fn left_any(events: &js_sys::Array) -> bool {
    events_of(events, "bands")
        .iter()
        .any(|e| !e["left"].as_array().unwrap().is_empty())
}

async fn songs_held(client: &rockon_sync::api::SyncClient) -> u32 {
    let count = call(client.count("songs".into(), ROCKERS.into()))
        .await
        .unwrap();
    count.as_f64().unwrap() as u32
}

#[wasm_bindgen_test]
async fn a_reload_while_rest_answers_are_unreadable_keeps_the_bands_and_follows_them_later() {
    let alice = sign_in("alice").await;
    let database = unique("memberships-unreadable");
    let first = open(&alice, &database, URL, json!({})).await;
    let first_events = record(&first);
    first.connect().unwrap();
    eventually(10_000, "the Rockers are followed", || async {
        joined(&first_events, ROCKERS)
    })
    .await;
    // Alice may be in other bands (other tests make some): wait for the Rockers' songs.
    eventually(10_000, "the Rockers' songs are pulled", || async {
        songs_held(&first).await > 0
    })
    .await;
    let held = songs_held(&first).await;
    first.close();

    // The next REST answers are 200s whose body is an error object, not rows.
    fault(json!({"action": "fail_rest", "count": 6, "status": 200})).await;
    let reloaded = open(&alice, &database, URL, json!({})).await;
    let events = record(&reloaded);
    reloaded.connect().unwrap();
    eventually(5_000, "the failed read is reported", || async {
        events_of(&events, "error")
            .iter()
            .any(|e| e["code"] == "memberships_unavailable")
    })
    .await;
    TimeoutFuture::new(300).await;
    assert!(
        !left_any(&events),
        "no band is left on an unreadable answer"
    );
    // The first pull may have stopped short of the band's last page: the reloaded client may
    // go on with it, so the count can grow, never shrink.
    let still_held = songs_held(&reloaded).await;
    assert!(
        still_held >= held,
        "nothing purged: {still_held} songs held, {held} before"
    );

    fault(json!({"action": "reset"})).await;
    eventually(
        15_000,
        "the bands are followed once the server answers",
        || async { joined(&events, ROCKERS) },
    )
    .await;
    reloaded.close();
}

#[wasm_bindgen_test]
async fn removal_from_a_band_parks_its_pending_writes_as_not_a_member() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    // A band of alice's own, with bob in it.
    let band = rockon_sync::io::writer::new_uuid();
    let (status, _) = rest(
        "POST",
        "bands",
        &alice.token,
        Some(json!({"id": band, "name": unique("Duo")})),
    )
    .await;
    assert_eq!(status, 201);
    let member = json!({"band_id": band, "user_id": bob.id, "role": "member"});
    assert_eq!(
        rest("POST", "band_memberships", &alice.token, Some(member))
            .await
            .0,
        201
    );

    let client = open(&bob, &unique("memberships-removed"), URL, json!({})).await;
    let events = record(&client);
    client.connect().unwrap();
    eventually(10_000, "bob follows the band", || async {
        joined(&events, &band)
    })
    .await;
    // Offline, his write waits in the outbox while alice removes him.
    client.set_online(false);
    let row = call(client.create(
        "songs".into(),
        js(json!({"bandId": band, "title": "Bob's idea"})),
    ))
    .await
    .unwrap();
    let id = to_json(&row)["id"].as_str().unwrap().to_owned();
    let path = format!("band_memberships?band_id=eq.{band}&user_id=eq.{}", bob.id);
    let removal = json!({"deleted_at": "2026-01-01T00:00:00Z"});
    assert_eq!(
        rest("PATCH", &path, &alice.token, Some(removal)).await.0,
        200
    );
    // Back online, the client learns of the removal and its push is refused, in either order.
    client.set_online(true);
    eventually(15_000, "bob's client leaves the band", || async {
        events_of(&events, "bands").iter().any(|e| {
            e["left"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b == &json!(band))
        })
    })
    .await;
    eventually(10_000, "the write is parked, not dropped", || async {
        let outbox = to_json(&client.outbox());
        outbox.as_array().unwrap().iter().any(|entry| {
            let code = &entry["failed"]["code"];
            entry["rowId"] == json!(id) && (code == "not_a_member" || code == "42501")
        })
    })
    .await;
    assert_eq!(client.status("songs", &id), "error");
    assert_eq!(
        local(&client, &id).await["title"],
        "Bob's idea",
        "his values are kept"
    );
    client.close();
}

#[wasm_bindgen_test]
async fn a_change_the_realtime_stream_lost_arrives_by_the_periodic_pull() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let client = open(
        &alice,
        &unique("anti-entropy"),
        URL,
        json!({"antiEntropyMs": 2_000}),
    )
    .await;
    let events = record(&client);
    client.connect().unwrap();
    eventually(10_000, "the Rockers are followed", || async {
        joined(&events, ROCKERS)
    })
    .await;
    initial_pull_done(&events).await;
    // The socket stays up; the server's stream loses bob's insert and tells nobody.
    fault(json!({"action": "drop_changes", "count": 1})).await;
    let id = insert_song(&bob, ROCKERS, &unique("lost by the stream")).await;
    eventually(6_000, "the periodic pull brings it", || async {
        local(&client, &id).await != rockon_sync_core::value::Value::Null
    })
    .await;
    fault(json!({"action": "reset"})).await;
    client.close();
}
