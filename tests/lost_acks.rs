//! A write whose request reached the server but whose answer never came back (the dev
//! server's `lose_answers` switch commits, holds the connection, then drops it). The tab
//! reloads while the request is in flight; what the user does next must still win.
#![cfg(target_arch = "wasm32")]

mod support;

use serde_json::{json, Value};
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
