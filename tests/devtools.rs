//! The developer dashboard's figures in a real browser: off unless asked, then the requests the
//! layer made, a sync log kept in IndexedDB across reloads with filters, and latencies.
#![cfg(target_arch = "wasm32")]

mod support;

use rockon_sync_core::value::{json, Value};
use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn devtools_collect_nothing_unless_asked() {
    let alice = sign_in("alice").await;
    let client = open(&alice, &unique("devtools-off"), URL, json!({})).await;
    assert_eq!(code(&client.requests().unwrap_err()), "devtools_disabled");
    assert_eq!(code(&client.latencies().unwrap_err()), "devtools_disabled");
    let refused = call(client.devtools_log(JsValue::UNDEFINED))
        .await
        .unwrap_err();
    assert_eq!(code(&refused), "devtools_disabled");
    client.close();
}

#[wasm_bindgen_test]
async fn devtools_record_requests_latencies_and_a_log_that_survives_a_reload() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let database = unique("devtools");
    let client = open(&alice, &database, URL, json!({"devtools": true})).await;
    let events = record(&client);
    client.follow_band(ROCKERS).unwrap();
    initial_pull_done(&events).await;
    let song = to_json(
        &call(client.create(
            "songs".into(),
            js(json!({"bandId": ROCKERS, "title": "Logged"})),
        ))
        .await
        .unwrap(),
    );
    let id = song["id"].as_str().unwrap().to_owned();
    eventually(10_000, "the push is recorded", || async {
        to_json(&client.requests().unwrap())
            .as_array()
            .unwrap()
            .iter()
            .any(|r| {
                r["method"] == "POST" && r["path"].as_str().unwrap().starts_with("/rest/v1/songs")
            })
    })
    .await;
    let requests = to_json(&client.requests().unwrap());
    let push = requests
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["method"] == "POST")
        .unwrap();
    assert!(
        (200..300).contains(&push["status"].as_u64().unwrap()),
        "{push}"
    );
    assert!(push["durationMs"].as_f64().unwrap() >= 0.0);
    assert!(push["bytes"].as_u64().unwrap() > 0);
    assert!(requests.as_array().unwrap().iter().any(
        |r| r["method"] == "GET" && r["status"].as_u64().is_some_and(|s| s == 200 || s == 206)
    ));
    // Another member's change: how long it took shows.
    insert_song(&bob, ROCKERS, "From bob").await;
    eventually(10_000, "a latency sample", || async {
        !to_json(&client.latencies().unwrap())
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    let sample = to_json(&client.latencies().unwrap())[0].clone();
    assert!(sample["ms"].as_f64().unwrap().is_finite(), "{sample}");

    // The log is in IndexedDB: a reopened client reads it, filtered.
    eventually(5_000, "the local change is logged", || async {
        let log = to_json(
            &call(client.devtools_log(js(json!({"kind": "change"}))))
                .await
                .unwrap(),
        );
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "local")
    })
    .await;
    client.close();
    let reopened = open(&alice, &database, URL, json!({"devtools": true})).await;
    let changes = to_json(
        &call(reopened.devtools_log(js(json!({"kind": "change", "table": "songs"}))))
            .await
            .unwrap(),
    );
    let entries = changes.as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["source"] == "local" && e["ids"].as_array().unwrap().contains(&json!(id))),
        "{changes}"
    );
    assert!(entries
        .iter()
        .all(|e| e["type"] == "change" && e["table"] == "songs"));
    // Newest first, and `limit` keeps the newest.
    let at = |e: &Value| e["at"].as_f64().unwrap();
    assert!(entries.windows(2).all(|w| at(&w[0]) >= at(&w[1])));
    let one = to_json(
        &call(reopened.devtools_log(js(json!({"limit": 1}))))
            .await
            .unwrap(),
    );
    assert_eq!(one.as_array().unwrap().len(), 1);
    reopened.close();
}
