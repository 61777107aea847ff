//! Working together in a real browser against the dev server: conflicts the user settles, the
//! activity feed, and who is editing what.
#![cfg(target_arch = "wasm32")]

mod support;

use rockon_sync::api::SyncClient;
use rockon_sync_core::value::{json, Value};
use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn server_title(user: &User, id: &str) -> Value {
    let (_, rows) = rest("GET", &format!("songs?id=eq.{id}"), &user.token, None).await;
    rows[0]["title"].clone()
}

/// A song alice's client created and pushed, then retitled by bob on the server and by alice
/// locally (she has not seen his change): the push meets his version and conflicts on the
/// title. Returns the song's id once the conflict is recorded.
async fn conflicting_song(client: &SyncClient, bob: &User) -> String {
    let created = to_json(
        &call(client.create(
            "songs".into(),
            js(json!({"bandId": ROCKERS, "title": "Draft", "key": "C"})),
        ))
        .await
        .unwrap(),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    eventually(10_000, "created", || async {
        client.status("songs", &id) == "synced"
    })
    .await;
    let (status, _) = rest(
        "PATCH",
        &format!("songs?id=eq.{id}"),
        &bob.token,
        Some(json!({"title": "Bob's title"})),
    )
    .await;
    assert_eq!(status, 200);
    call(client.update(
        "songs".into(),
        id.clone(),
        js(json!({"title": "Alice's title"})),
    ))
    .await
    .unwrap();
    eventually(10_000, "conflict recorded", || async {
        client.status("songs", &id) == "conflict"
    })
    .await;
    id
}

#[wasm_bindgen_test]
async fn a_conflict_is_told_at_once_and_settled_as_the_user_chooses() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let client = open(&alice, &unique("resolve"), URL, json!({})).await;
    let events = record(&client);

    // Keep mine: alice's title goes to the server as an ordinary write.
    let mine = conflicting_song(&client, &bob).await;
    let conflict_toast = || {
        events_of(&events, "notification")
            .into_iter()
            .find(|n| n["kind"] == "conflict")
    };
    // The status turns as the conflict is recorded; its events follow once it is stored.
    eventually(5_000, "a conflict toast", || async {
        conflict_toast().is_some()
    })
    .await;
    let toast = conflict_toast().unwrap();
    assert!(
        toast["text"]
            .as_str()
            .unwrap()
            .ends_with("also changed 'Bob's title': choose the values to keep"),
        "{toast}"
    );
    let refused = call(client.resolve_conflict("songs".into(), mine.clone(), js(json!("both"))))
        .await
        .unwrap_err();
    assert_eq!(code(&refused), "invalid_argument");
    let refused =
        call(client.resolve_conflict("songs".into(), mine.clone(), js(json!({"tempo": 120}))))
            .await
            .unwrap_err();
    assert_eq!(code(&refused), "not_in_conflict");
    call(client.resolve_conflict("songs".into(), mine.clone(), js(json!("mine"))))
        .await
        .unwrap();
    eventually(10_000, "alice's title on the server", || async {
        server_title(&bob, &mine).await == "Alice's title"
            && client.status("songs", &mine) == "synced"
    })
    .await;
    let refused = call(client.resolve_conflict("songs".into(), mine.clone(), js(json!("mine"))))
        .await
        .unwrap_err();
    assert_eq!(code(&refused), "no_conflict", "settled once");

    // A chosen value for the field.
    let chosen = conflicting_song(&client, &bob).await;
    call(client.resolve_conflict(
        "songs".into(),
        chosen.clone(),
        js(json!({"title": "Our title"})),
    ))
    .await
    .unwrap();
    eventually(10_000, "the chosen title on the server", || async {
        server_title(&bob, &chosen).await == "Our title"
    })
    .await;

    // Keep theirs: nothing to push, the record goes.
    let theirs = conflicting_song(&client, &bob).await;
    call(client.resolve_conflict("songs".into(), theirs.clone(), js(json!("theirs"))))
        .await
        .unwrap();
    assert_eq!(client.status("songs", &theirs), "synced");
    assert!(to_json(&client.outbox()).as_array().unwrap().is_empty());
    assert_eq!(server_title(&bob, &theirs).await, "Bob's title");
    let left = to_json(&call(client.conflicts()).await.unwrap());
    assert_eq!(left, json!([]));
    client.close();
}

#[wasm_bindgen_test]
async fn the_activity_feed_keeps_others_changes_and_agrees_with_unread_marks() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let database = unique("feed");
    let client = open(&alice, &database, URL, json!({})).await;
    let events = record(&client);
    client.follow_band(ROCKERS).unwrap();
    initial_pull_done(&events).await;
    let first = insert_song(&bob, ROCKERS, "Feed one").await;
    let second = insert_song(&bob, ROCKERS, "Feed two").await;
    // Alice's own change is not activity.
    call(client.create(
        "songs".into(),
        js(json!({"bandId": ROCKERS, "title": "Mine"})),
    ))
    .await
    .unwrap();
    eventually(10_000, "two entries", || async {
        client.activity_unread(ROCKERS) == 2
    })
    .await;
    assert!(events_of(&events, "activity")
        .iter()
        .any(|e| e["bandId"] == ROCKERS && e["unread"] == 2));
    let feed = to_json(&client.activity(ROCKERS, JsValue::UNDEFINED));
    let entries = feed.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{feed}");
    assert_eq!(entries[0]["rowId"], second.as_str(), "newest first");
    assert_eq!(entries[0]["author"], bob.id.as_str());
    assert_eq!(entries[0]["action"], "added");
    assert_eq!(entries[0]["label"], "Feed two");
    assert_eq!(entries[0]["read"], false);
    let page =
        to_json(&client.activity(ROCKERS, js(json!({"limit": 1, "before": entries[0]["id"]}))));
    assert_eq!(page[0]["rowId"], first.as_str());

    // Reading an entry reads its row…
    let entry_id = entries[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        client
            .mark_activity_read(ROCKERS, js(json!([entry_id])))
            .unwrap(),
        1
    );
    let unread_rows = to_json(&client.unread_rows(Some(ROCKERS.into()), None));
    assert!(!unread_rows
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == second.as_str()));
    assert!(unread_rows
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == first.as_str()));
    // …and reading a row reads its entries.
    client.mark_read("songs", &first);
    assert_eq!(client.activity_unread(ROCKERS), 0);

    // Kept across a reload, read state and all.
    let newer = insert_song(&bob, ROCKERS, "Feed three").await;
    eventually(10_000, "the third entry", || async {
        client.activity_unread(ROCKERS) == 1
    })
    .await;
    client.close();
    let reopened = open(&alice, &database, URL, json!({})).await;
    let feed = to_json(&reopened.activity(ROCKERS, JsValue::UNDEFINED));
    let rows: Vec<(&str, bool)> = feed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["rowId"].as_str().unwrap(), e["read"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        rows,
        [
            (newer.as_str(), false),
            (second.as_str(), true),
            (first.as_str(), true)
        ]
    );
    assert_eq!(
        reopened
            .mark_activity_read(ROCKERS, JsValue::UNDEFINED)
            .unwrap(),
        1
    );
    assert_eq!(reopened.activity_unread(ROCKERS), 0);
    assert_eq!(
        to_json(&reopened.unread_rows(Some(ROCKERS.into()), None)),
        json!([])
    );
    reopened.close();
}

#[wasm_bindgen_test]
async fn members_see_who_else_is_editing_a_row() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let watcher = open(&alice, &unique("editors-alice"), URL, json!({})).await;
    watcher.follow_band(ROCKERS).unwrap();
    let editor = open(&bob, &unique("editors-bob"), URL, json!({})).await;
    editor.follow_band(ROCKERS).unwrap();
    let song = insert_song(&alice, ROCKERS, "Edited together").await;
    let editing = json!({"view": "songs", "editing": {"table": "songs", "id": song}});
    editor.set_presence(ROCKERS, js(editing)).unwrap();
    eventually(10_000, "bob is editing", || async {
        to_json(&watcher.editors("songs", &song))
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["userId"] == bob.id.as_str())
    })
    .await;
    // Nobody else edits another row, and bob does not see himself.
    assert_eq!(to_json(&watcher.editors("songs", "other")), json!([]));
    eventually(10_000, "bob sees alice's presence", || async {
        !to_json(&editor.presence(ROCKERS))
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    assert_eq!(to_json(&editor.editors("songs", &song)), json!([]));
    // Done editing: gone from the editors.
    editor
        .set_presence(ROCKERS, js(json!({"view": "songs"})))
        .unwrap();
    eventually(10_000, "bob stopped editing", || async {
        to_json(&watcher.editors("songs", &song)) == json!([])
    })
    .await;
    watcher.close();
    editor.close();
}
