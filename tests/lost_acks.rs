//! A write whose request reached the server but whose answer never came back (the dev
//! server's `lose_answers` switch commits, holds the connection, then drops it). The tab
//! reloads while the request is in flight; what the user does next must still win. New rows
//! sent together in one request whose answer is lost land once.
#![cfg(target_arch = "wasm32")]

mod support;

use rockon_sync_core::value::{json, Value};
use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn server_row(user: &User, id: &str) -> Value {
    let path = format!("songs?id=eq.{id}&select=title,key,version,deleted_at");
    let (status, body) = rest("GET", &path, &user.token, None).await;
    assert_eq!(status, 200, "{body}");
    body[0].clone()
}

/// Creates a song whose POST commits but is still waiting for its lost answer when this
/// returns; the client is closed then, as a reloading tab would be.
async fn create_then_reload_in_flight(
    alice: &User,
    database: &str,
) -> (String, rockon_sync::api::SyncClient) {
    fault(json!({"action": "lose_answers", "count": 1, "after_ms": 3_000})).await;
    let first = open(alice, database, URL, json!({})).await;
    let row = call(first.create(
        "songs".into(),
        js(json!({"bandId": ROCKERS, "title": unique("in flight")})),
    ))
    .await
    .unwrap();
    let id = to_json(&row)["id"].as_str().unwrap().to_owned();
    eventually(3_000, "the POST committed", || async {
        server_row(alice, &id).await["version"] == 1
    })
    .await;
    first.close();
    let reloaded = open(alice, database, URL, json!({})).await;
    (id, reloaded)
}

#[wasm_bindgen_test]
async fn a_delete_after_a_reload_mid_create_reaches_the_server() {
    let alice = sign_in("alice").await;
    let (id, reloaded) = create_then_reload_in_flight(&alice, &unique("lost-create-delete")).await;
    call(reloaded.remove("songs".into(), id.clone()))
        .await
        .unwrap();
    eventually(10_000, "the server row is tombstoned", || async {
        !server_row(&alice, &id).await["deleted_at"].is_null()
    })
    .await;
    eventually(5_000, "nothing left to push", || async {
        to_json(&reloaded.outbox()) == json!([])
    })
    .await;
    reloaded.close();
}

#[wasm_bindgen_test]
async fn an_edit_after_a_reload_mid_create_reaches_the_server() {
    let alice = sign_in("alice").await;
    let (id, reloaded) = create_then_reload_in_flight(&alice, &unique("lost-create-edit")).await;
    call(reloaded.update("songs".into(), id.clone(), js(json!({"key": "F#m"}))))
        .await
        .unwrap();
    eventually(10_000, "the edit is on the server", || async {
        server_row(&alice, &id).await["key"] == "F#m"
    })
    .await;
    eventually(5_000, "synced", || async {
        reloaded.status("songs", &id) == "synced"
    })
    .await;
    assert_eq!(
        local(&reloaded, &id).await["key"],
        "F#m",
        "and kept locally"
    );
    assert_eq!(server_row(&alice, &id).await["version"], 2, "applied once");
    reloaded.close();
}

#[wasm_bindgen_test]
async fn new_rows_sent_together_whose_answer_was_lost_land_once() {
    let alice = sign_in("alice").await;
    let database = unique("lost-batch");
    // Made with the server unreachable, the rows wait to go together.
    let offline = open(&alice, &database, "http://127.0.0.1:9", json!({})).await;
    let batch = unique("batch");
    let mut ids = Vec::new();
    for n in 0..20 {
        let values = json!({"bandId": ROCKERS, "title": format!("{batch} {n:02}")});
        let row = call(offline.create("songs".into(), js(values)))
            .await
            .unwrap();
        ids.push(to_json(&row)["id"].as_str().unwrap().to_owned());
    }
    offline.close();
    // The one request carrying them commits; its answer is held, then lost.
    fault(json!({"action": "lose_answers", "count": 1, "after_ms": 2_000})).await;
    let online = open(&alice, &database, URL, json!({})).await;
    let path = format!("songs?select=id,version&title=gte.{batch}&title=lt.{batch}~");
    eventually(2_000, "all twenty committed at once", || async {
        let (_, rows) = rest("GET", &path, &alice.token, None).await;
        rows.as_array().is_some_and(|rows| rows.len() == 20)
    })
    .await;
    let waiting = ids
        .iter()
        .filter(|id| online.status("songs", id) == "syncing");
    assert_eq!(waiting.count(), 20, "the answer has not come");
    eventually(20_000, "every write confirmed", || async {
        to_json(&online.outbox()) == json!([])
    })
    .await;
    let (status, rows) = rest("GET", &path, &alice.token, None).await;
    assert_eq!(status, 200, "{rows}");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 20, "each row once");
    assert!(
        rows.iter().all(|row| row["version"] == 1),
        "none written twice: {rows:?}"
    );
    for id in &ids {
        assert_eq!(online.status("songs", id), "synced", "{id}");
    }
    online.close();
}

/// A write whose answer stalls (the connection held open, nothing coming back) is given up
/// after `requestTimeoutMs` and sent again: it lands once, and long before the stalled answer
/// would have ended (20 s here; the wait below is 10).
#[wasm_bindgen_test]
async fn a_write_whose_answer_stalls_is_aborted_and_lands_once() {
    let alice = sign_in("alice").await;
    let client = open(
        &alice,
        &unique("stalled-write"),
        URL,
        json!({"requestTimeoutMs": 1_000}),
    )
    .await;
    fault(json!({"action": "lose_answers", "count": 1, "after_ms": 20_000})).await;
    let title = unique("stalled");
    let row = call(client.create(
        "songs".into(),
        js(json!({"bandId": ROCKERS, "title": title})),
    ))
    .await
    .unwrap();
    let id = to_json(&row)["id"].as_str().unwrap().to_owned();
    eventually(10_000, "confirmed despite the stalled answer", || async {
        to_json(&client.outbox()) == json!([])
    })
    .await;
    assert_eq!(client.status("songs", &id), "synced");
    fault(json!({"action": "reset"})).await;
    let path = format!("songs?select=id,version&title=eq.{title}");
    let (status, rows) = rest("GET", &path, &alice.token, None).await;
    assert_eq!(status, 200, "{rows}");
    assert_eq!(
        rows,
        json!([{"id": id, "version": 1}]),
        "on the server once"
    );
    client.close();
}
