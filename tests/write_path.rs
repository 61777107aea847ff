//! The write path in a real browser: IndexedDB through rexie, the outbox, pushes to the dev
//! server's REST API (started with fault switches by the test command).
#![cfg(target_arch = "wasm32")]

mod support;

use rockon_sync::api::SyncClient;
use rockon_sync_core::value::{json, Value};
use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn synced(client: &SyncClient, table: &str, id: &str) {
    eventually(10_000, &format!("{table} {id} synced"), || async {
        client.status(table, id) == "synced"
    })
    .await;
}

async fn server_row(user: &User, table: &str, id: &str) -> Value {
    let (_, rows) = rest("GET", &format!("{table}?id=eq.{id}"), &user.token, None).await;
    rows[0].clone()
}

#[wasm_bindgen_test]
fn new_ids_are_random_version_4_uuids() {
    let ids: Vec<String> = (0..64)
        .map(|_| rockon_sync::io::writer::new_uuid())
        .collect();
    for id in &ids {
        let groups: Vec<&str> = id.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
        assert_eq!(lengths, [8, 4, 4, 4, 12], "{id}");
        assert!(
            id.bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{id}"
        );
        assert!(groups[2].starts_with('4'), "version 4: {id}");
        assert!("89ab".contains(&groups[3][..1]), "RFC 4122 variant: {id}");
    }
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
}

#[wasm_bindgen_test]
async fn create_update_and_remove_reach_the_server() {
    let bob = sign_in("bob").await;
    let client = open(&bob, &unique("write"), URL, json!({})).await;
    let events = record(&client);
    let created = call(client.create(
        "songs".into(),
        js(json!({"bandId": ROCKERS, "title": "Hey Jude", "tempo": 74})),
    ))
    .await
    .unwrap();
    let created = to_json(&created);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["bandId"], ROCKERS,
        "rows come back in the app's shape"
    );
    // The optimistic write is readable at once and announced.
    let listed = to_json(
        &call(client.list("songs".into(), ROCKERS.into(), js(json!({}))))
            .await
            .unwrap(),
    );
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == id.as_str()));
    assert!(events_of(&events, "change")
        .iter()
        .any(|e| e["source"] == "local" && e["action"] == "insert"));
    synced(&client, "songs", &id).await;
    let on_server = server_row(&bob, "songs", &id).await;
    assert_eq!(
        (on_server["title"].as_str(), on_server["version"].as_i64()),
        (Some("Hey Jude"), Some(1))
    );
    assert_eq!(on_server["created_by"], bob.id.as_str());
    let local = to_json(&call(client.get("songs".into(), id.clone())).await.unwrap());
    assert_eq!(
        local["version"], 1,
        "the server's row replaced the optimistic one"
    );

    call(client.update("songs".into(), id.clone(), js(json!({"key": "F"}))))
        .await
        .unwrap();
    synced(&client, "songs", &id).await;
    assert_eq!(server_row(&bob, "songs", &id).await["key"], "F");

    call(client.remove("songs".into(), id.clone()))
        .await
        .unwrap();
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
    synced(&client, "songs", &id).await;
    assert!(
        server_row(&bob, "songs", &id).await["deleted_at"].is_string(),
        "a tombstone"
    );
    let all = to_json(
        &call(client.list(
            "songs".into(),
            ROCKERS.into(),
            js(json!({"includeDeleted": true})),
        ))
        .await
        .unwrap(),
    );
    assert!(all
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == id.as_str()));

    // Bad writes are refused with typed errors and write nothing.
    let error = call(client.create(
        "songs".into(),
        js(json!({"bandId": ROCKERS, "tempo": "fast", "title": "x"})),
    ))
    .await
    .unwrap_err();
    assert_eq!(
        js_sys::Reflect::get(&error, &"code".into()).unwrap(),
        "wrong_type"
    );
    let error = call(client.create("gigs".into(), js(json!({}))))
        .await
        .unwrap_err();
    assert_eq!(
        js_sys::Reflect::get(&error, &"code".into()).unwrap(),
        "unknown_table"
    );
}

#[wasm_bindgen_test]
async fn offline_writes_survive_a_reload_and_land_exactly_once_in_order() {
    let bob = sign_in("bob").await;
    let database = unique("offline");
    // The server is unreachable: nothing listens on port 9.
    let offline = open(&bob, &database, "http://127.0.0.1:9", json!({})).await;
    let batch = unique("batch");
    let mut ids = Vec::new();
    for n in 0..40 {
        let row = call(offline.create(
            "songs".into(),
            js(json!({"bandId": ROCKERS, "title": format!("{batch} {n:02}")})),
        ))
        .await
        .unwrap();
        ids.push(to_json(&row)["id"].as_str().unwrap().to_owned());
    }
    for (n, id) in ids.iter().take(10).enumerate() {
        call(offline.update(
            "songs".into(),
            id.clone(),
            js(json!({"notes": format!("edited {n}")})),
        ))
        .await
        .unwrap();
    }
    // Waiting for the server (a retry may be in flight at this instant).
    let waiting = offline.status("songs", &ids[0]);
    assert!(waiting == "pending" || waiting == "syncing", "{waiting}");
    // A reload: the client goes away, a new one opens the same database.
    drop(offline);
    let online = open(&bob, &database, URL, json!({})).await;
    assert!(
        to_json(&online.outbox()).as_array().unwrap().len() >= 40,
        "the outbox survived"
    );
    eventually(20_000, "outbox drained", || async {
        to_json(&online.outbox()).as_array().unwrap().is_empty()
    })
    .await;
    let (_, rows) = rest(
        "GET",
        &format!("songs?select=id,title,notes,created_at&title=gte.{batch}&title=lt.{batch}~&order=created_at.asc"),
        &bob.token,
        None,
    )
    .await;
    let mut rows = rows.as_array().unwrap().clone();
    assert_eq!(rows.len(), 40, "every write once, none twice");
    // Rows sent in one request share a commit time; none made later may commit earlier.
    rows.sort_by_key(|r| r["title"].as_str().unwrap().to_owned());
    let committed: Vec<&str> = rows
        .iter()
        .map(|r| r["created_at"].as_str().unwrap())
        .collect();
    assert!(
        committed.windows(2).all(|pair| pair[0] <= pair[1]),
        "pushed in the order they were made: {committed:?}"
    );
    assert_eq!(rows[3]["notes"], "edited 3");
}

#[wasm_bindgen_test]
async fn a_storm_of_server_errors_ends_in_success_without_duplicates() {
    let bob = sign_in("bob").await;
    let client = open(&bob, &unique("storm"), URL, json!({})).await;
    let title = unique("storm");
    fault(json!({"action": "fail_rest", "count": 2, "status": 503})).await;
    let row = to_json(
        &call(client.create(
            "songs".into(),
            js(json!({"bandId": ROCKERS, "title": title})),
        ))
        .await
        .unwrap(),
    );
    let id = row["id"].as_str().unwrap().to_owned();
    eventually(10_000, "503s ridden out", || async {
        client.status("songs", &id) == "synced"
    })
    .await;
    fault(json!({"action": "fail_rest", "count": 2, "status": 429})).await;
    call(client.update(
        "songs".into(),
        id.clone(),
        js(json!({"notes": "after 429s"})),
    ))
    .await
    .unwrap();
    synced(&client, "songs", &id).await;
    fault(json!({"action": "fail_rest", "count": 1, "status": 500})).await;
    call(client.update("songs".into(), id.clone(), js(json!({"key": "A"}))))
        .await
        .unwrap();
    synced(&client, "songs", &id).await;
    let (_, rows) = rest("GET", &format!("songs?title=eq.{title}"), &bob.token, None).await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "no duplicates");
    assert_eq!(
        (rows[0]["notes"].as_str(), rows[0]["key"].as_str()),
        (Some("after 429s"), Some("A"))
    );
}

#[wasm_bindgen_test]
async fn refused_writes_wait_visibly_for_retry_or_discard() {
    let bob = sign_in("bob").await;
    let client = open(&bob, &unique("refused"), URL, json!({})).await;
    // Bob is not in carol's band: row-level security refuses the insert.
    let row = to_json(
        &call(client.create(
            "songs".into(),
            js(json!({"bandId": TRIO, "title": "Not mine"})),
        ))
        .await
        .unwrap(),
    );
    let id = row["id"].as_str().unwrap().to_owned();
    eventually(10_000, "refused", || async {
        client.status("songs", &id) == "error"
    })
    .await;
    let outbox = to_json(&client.outbox());
    let entry = &outbox[0];
    assert_eq!(
        (
            entry["failed"]["status"].as_u64(),
            entry["failed"]["code"].as_str()
        ),
        (Some(403), Some("42501"))
    );
    let seq = entry["seq"].as_f64().unwrap();
    assert_eq!(call(client.discard(seq)).await.unwrap(), true);
    assert!(
        call(client.get("songs".into(), id.clone()))
            .await
            .unwrap()
            .is_undefined(),
        "discarded insert is gone"
    );
    assert_eq!(client.status("songs", &id), "synced");

    // A 400 that goes away: retry succeeds. Only a write takes it: the discard's read of the
    // row again may still be on its way.
    fault(json!({"action": "fail_rest", "count": 1, "status": 400, "writes_only": true})).await;
    let row = to_json(
        &call(client.create(
            "songs".into(),
            js(json!({"bandId": ROCKERS, "title": unique("retry")})),
        ))
        .await
        .unwrap(),
    );
    let id = row["id"].as_str().unwrap().to_owned();
    eventually(10_000, "400", || async {
        client.status("songs", &id) == "error"
    })
    .await;
    let seq = to_json(&client.outbox())[0]["seq"].as_f64().unwrap();
    call(client.retry(seq)).await.unwrap();
    synced(&client, "songs", &id).await;
    assert_eq!(server_row(&bob, "songs", &id).await["version"], 1);
}

/// A discarded edit leaves its row as the server has it now, not as it was when the edit was
/// made: another member changed it meanwhile, and this client follows nothing (no pull and no
/// socket would bring the change), so only reading the row again can.
#[wasm_bindgen_test]
async fn a_discarded_edit_leaves_the_row_as_the_server_has_it_now() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let client = open(&bob, &unique("discard-refetch"), URL, json!({})).await;
    let row = to_json(
        &call(client.create(
            "songs".into(),
            js(json!({"bandId": ROCKERS, "title": "Draft"})),
        ))
        .await
        .unwrap(),
    );
    let id = row["id"].as_str().unwrap().to_owned();
    synced(&client, "songs", &id).await;
    // Bob's edit is refused for good; Alice retitles the song on the server.
    fault(json!({"action": "fail_rest", "count": 1, "status": 400})).await;
    call(client.update("songs".into(), id.clone(), js(json!({"title": "Bob's"}))))
        .await
        .unwrap();
    eventually(10_000, "refused", || async {
        client.status("songs", &id) == "error"
    })
    .await;
    let path = format!("songs?id=eq.{id}");
    let (status, _) = rest(
        "PATCH",
        &path,
        &alice.token,
        Some(json!({"title": "Alice's"})),
    )
    .await;
    assert_eq!(status, 200);
    let seq = to_json(&client.outbox())[0]["seq"].as_f64().unwrap();
    assert_eq!(call(client.discard(seq)).await.unwrap(), true);
    eventually(5_000, "the server's row, read again", || async {
        let local = call(client.get("songs".into(), id.clone())).await.unwrap();
        to_json(&local)["title"] == "Alice's"
    })
    .await;
    assert_eq!(client.status("songs", &id), "synced");
    client.close();
}

#[wasm_bindgen_test]
async fn concurrent_edits_merge_by_field_and_surface_the_conflict() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let client = open(&alice, &unique("conflict"), URL, json!({})).await;
    let events = record(&client);
    let row = to_json(
        &call(client.create(
            "songs".into(),
            js(json!({"bandId": ROCKERS, "title": "Draft", "key": "C"})),
        ))
        .await
        .unwrap(),
    );
    let id = row["id"].as_str().unwrap().to_owned();
    synced(&client, "songs", &id).await;
    // Bob's client holds the same row (as the read path delivers it) and retitles it.
    let bob_client = open(&bob, &unique("conflict-bob"), URL, json!({})).await;
    let server_copy = server_row(&bob, "songs", &id).await;
    let applied = call(bob_client.apply_server_rows("songs".into(), js(json!([server_copy]))))
        .await
        .unwrap();
    assert_eq!(applied, 1);
    call(bob_client.update(
        "songs".into(),
        id.clone(),
        js(json!({"title": "Bob's title"})),
    ))
    .await
    .unwrap();
    synced(&bob_client, "songs", &id).await;
    // Alice, still on version 1, changes the key (only she did) and the title (both did).
    call(client.update(
        "songs".into(),
        id.clone(),
        js(json!({"key": "D", "title": "Alice's title"})),
    ))
    .await
    .unwrap();
    eventually(10_000, "conflict settled", || async {
        client.status("songs", &id) == "conflict"
            && to_json(&client.outbox()).as_array().unwrap().is_empty()
    })
    .await;
    let on_server = server_row(&alice, "songs", &id).await;
    assert_eq!(on_server["key"], "D", "the field only alice changed merged");
    assert_eq!(
        on_server["title"], "Bob's title",
        "server wins the field both changed"
    );
    let local = to_json(&call(client.get("songs".into(), id.clone())).await.unwrap());
    assert_eq!(
        (local["title"].as_str(), local["key"].as_str()),
        (Some("Bob's title"), Some("D"))
    );
    let conflicts = events_of(&events, "conflict");
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0]["fields"][0]["field"], "title");
    assert_eq!(
        conflicts[0]["fields"][0]["local"], "Alice's title",
        "the losing value is recoverable"
    );
    let stored = to_json(&call(client.conflicts()).await.unwrap());
    assert!(stored
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["rowId"] == id.as_str()));
    // Acknowledged, the row is simply synced.
    call(client.acknowledge("songs".into(), id.clone()))
        .await
        .unwrap();
    assert_eq!(client.status("songs", &id), "synced");
    let left = to_json(&call(client.conflicts()).await.unwrap());
    assert!(left.as_array().unwrap().is_empty());
}

#[wasm_bindgen_test]
async fn a_database_deleted_underneath_is_reported_and_reopened() {
    let bob = sign_in("bob").await;
    let database = unique("evicted");
    let client = open(&bob, &database, URL, json!({})).await;
    let events = record(&client);
    let values = js(json!({"bandId": ROCKERS, "title": unique("before")}));
    let row = to_json(&call(client.create("songs".into(), values)).await.unwrap());
    synced(&client, "songs", row["id"].as_str().unwrap()).await;
    assert_eq!(
        call(client.count("songs".into(), ROCKERS.into()))
            .await
            .unwrap(),
        1
    );
    // Another tab (or the browser evicting storage) deletes the database: the client steps
    // aside instead of blocking it, says so, and reopens a fresh database.
    rexie::Rexie::delete(&database)
        .await
        .expect("the delete is not blocked");
    eventually(10_000, "reopened", || async {
        events_of(&events, "storage")
            .iter()
            .any(|e| e["state"] == "reopened")
    })
    .await;
    let states: Vec<Value> = events_of(&events, "storage")
        .iter()
        .map(|e| e["state"].clone())
        .collect();
    assert_eq!(states, [json!("closed"), json!("reopened")]);
    assert_eq!(
        call(client.count("songs".into(), ROCKERS.into()))
            .await
            .unwrap(),
        0
    );
    let values = js(json!({"bandId": ROCKERS, "title": unique("after")}));
    let row = to_json(&call(client.create("songs".into(), values)).await.unwrap());
    synced(&client, "songs", row["id"].as_str().unwrap()).await;
}

#[wasm_bindgen_test]
async fn an_expired_token_holds_pushes_until_a_new_one_arrives() {
    let bob = sign_in("bob").await;
    let client = open(&bob, &unique("expiry"), URL, json!({})).await;
    let events = record(&client);
    fault(json!({"action": "expire_tokens"})).await;
    let row = to_json(
        &call(client.create(
            "songs".into(),
            js(json!({"bandId": ROCKERS, "title": unique("held")})),
        ))
        .await
        .unwrap(),
    );
    let id = row["id"].as_str().unwrap().to_owned();
    eventually(10_000, "auth event", || async {
        !events_of(&events, "auth").is_empty()
    })
    .await;
    assert_eq!(client.status("songs", &id), "pending", "held, not failed");
    // Tokens issued after the expiry moment are valid.
    gloo_timers::future::TimeoutFuture::new(1_100).await;
    let fresh = sign_in("bob").await;
    client.set_auth(fresh.token.clone());
    synced(&client, "songs", &id).await;
    assert_eq!(server_row(&fresh, "songs", &id).await["version"], 1);
    fault(json!({"action": "reset"})).await;
}

#[wasm_bindgen_test]
async fn server_rows_apply_in_one_batch_and_older_versions_never_win() {
    let bob = sign_in("bob").await;
    let client = open(&bob, &unique("apply"), "http://127.0.0.1:9", json!({})).await;
    let row = |id: &str, version: i64, title: &str| {
        json!({"id": id, "band_id": ROCKERS, "title": title, "version": version, "deleted_at": null,
               "updated_at": "2026-11-23T10:00:00+00:00", "duration_seconds": 180})
    };
    let batch = js(json!([row("r1", 2, "two"), row("r2", 1, "one")]));
    let written = call(client.apply_server_rows("songs".into(), batch))
        .await
        .unwrap();
    assert_eq!(written, 2);
    let stored = to_json(&call(client.get("songs".into(), "r1".into())).await.unwrap());
    assert_eq!(
        (stored["title"].as_str(), stored["durationSeconds"].as_i64()),
        (Some("two"), Some(180))
    );
    // A duplicate and an out-of-order older version change nothing; a newer one wins.
    // r2 arrives newest first within one batch: arrival order must not matter.
    let batch = js(json!([
        row("r1", 2, "two again"),
        row("r1", 1, "old"),
        row("r2", 4, "four"),
        row("r2", 3, "three")
    ]));
    assert_eq!(
        call(client.apply_server_rows("songs".into(), batch))
            .await
            .unwrap(),
        1
    );
    let r1 = to_json(&call(client.get("songs".into(), "r1".into())).await.unwrap());
    let r2 = to_json(&call(client.get("songs".into(), "r2".into())).await.unwrap());
    assert_eq!(
        (r1["title"].as_str(), r2["title"].as_str()),
        (Some("two"), Some("four"))
    );
    let error = call(client.apply_server_rows("gigs".into(), js(json!([]))))
        .await
        .unwrap_err();
    assert_eq!(
        js_sys::Reflect::get(&error, &"code".into()).unwrap(),
        "unknown_table"
    );
}

#[wasm_bindgen_test]
async fn other_apps_bring_their_own_schema() {
    let bob = sign_in("bob").await;
    // WedSync: guests of a wedding.
    let schema = json!({"tables": [{
        "name": "guests", "alias": "guests", "scope": "wedding_id", "label": "full_name",
        "fields": [
            {"name": "full_name", "type": "text", "required": true},
            {"name": "party_size", "type": "integer"},
            {"name": "dietary_needs", "type": "json"}
        ]
    }]});
    let client = open(
        &bob,
        &unique("wedsync"),
        "http://127.0.0.1:9",
        json!({"schema": schema}),
    )
    .await;
    let values = js(json!({"weddingId": "w1", "fullName": "Ada Lovelace", "partySize": 2}));
    let guest = to_json(&call(client.create("guests".into(), values)).await.unwrap());
    assert_eq!(guest["weddingId"], "w1");
    let listed = to_json(
        &call(client.list("guests".into(), "w1".into(), js(json!({}))))
            .await
            .unwrap(),
    );
    assert_eq!(listed[0]["fullName"], "Ada Lovelace");
    let error = call(client.create("songs".into(), js(json!({"bandId": ROCKERS, "title": "x"}))))
        .await
        .unwrap_err();
    assert_eq!(
        js_sys::Reflect::get(&error, &"code".into()).unwrap(),
        "unknown_table"
    );
    let error = call(client.create(
        "guests".into(),
        js(json!({"weddingId": "w1", "partySize": "two", "fullName": "B"})),
    ))
    .await
    .unwrap_err();
    assert_eq!(
        js_sys::Reflect::get(&error, &"code".into()).unwrap(),
        "wrong_type"
    );
}

#[wasm_bindgen_test]
async fn lists_sort_the_way_people_read() {
    let bob = sign_in("bob").await;
    let client = open(&bob, &unique("sorting"), "http://127.0.0.1:9", json!({})).await;
    for title in ["Zebra", "äpple", "10 Songs", "9 Songs", "Bravo"] {
        call(client.create(
            "songs".into(),
            js(json!({"bandId": ROCKERS, "title": title})),
        ))
        .await
        .unwrap();
    }
    let titles = |rows: Value| -> Vec<String> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let sorted = to_json(
        &call(client.list(
            "songs".into(),
            ROCKERS.into(),
            js(json!({"orderBy": "title"})),
        ))
        .await
        .unwrap(),
    );
    assert_eq!(
        titles(sorted),
        ["9 Songs", "10 Songs", "äpple", "Bravo", "Zebra"]
    );
    let top = js(json!({"orderBy": "title", "descending": true, "limit": 2}));
    let top = to_json(
        &call(client.list("songs".into(), ROCKERS.into(), top))
            .await
            .unwrap(),
    );
    assert_eq!(titles(top), ["Zebra", "Bravo"]);
}

#[wasm_bindgen_test]
async fn connection_info_counts_pending_and_failed_writes_and_the_last_sync() {
    let alice = sign_in("alice").await;
    let client = open(&alice, &unique("sync-state"), URL, json!({})).await;
    let info = |client: &SyncClient| to_json(&client.connection_info());
    assert_eq!(
        info(&client)["lastSyncedAt"],
        Value::Null,
        "nothing confirmed yet"
    );
    client.set_online(false);
    let before = js_sys::Date::now();
    call(client.create(
        "songs".into(),
        js(json!({"bandId": ROCKERS, "title": unique("waits")})),
    ))
    .await
    .unwrap();
    assert_eq!(
        (
            info(&client)["pendingCount"].clone(),
            info(&client)["failedCount"].clone()
        ),
        (json!(1), json!(0))
    );
    // Back online the write lands; a write to a band alice is not in is refused and kept.
    client.set_online(true);
    call(client.create(
        "songs".into(),
        js(json!({"bandId": TRIO, "title": unique("refused")})),
    ))
    .await
    .unwrap();
    eventually(10_000, "one landed, one refused", || async {
        let now = info(&client);
        now["pendingCount"] == 0 && now["failedCount"] == 1
    })
    .await;
    let synced = info(&client)["lastSyncedAt"]
        .as_f64()
        .expect("a confirmed push");
    assert!(synced >= before, "{synced} >= {before}");
    client.close();
}
