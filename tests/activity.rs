//! The JS API's events in a real browser against the dev server: named listeners and
//! unsubscribing, unread marks that survive a reload (and an upgrade of their storage), batched
//! notifications with a rate cap.
#![cfg(target_arch = "wasm32")]

mod support;

use js_sys::{Array, Function};
use rockon_sync_core::value::{json, Value};
use support::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Records the events named `name` into a new array; returns it and the unsubscribe function.
fn listen(client: &rockon_sync::api::SyncClient, name: &str) -> (Array, Function) {
    let events = Array::new();
    let listener = Function::new_with_args("list, event", "list.push(event)")
        .bind1(&JsValue::NULL, &events)
        .unchecked_into::<Function>();
    let unsubscribe = client.on(name, listener);
    (events, unsubscribe)
}

fn field(event: &JsValue, key: &str) -> Value {
    to_json(event)[key].clone()
}

fn unread_total(client: &rockon_sync::api::SyncClient) -> u64 {
    to_json(&client.unread())["total"].as_u64().unwrap()
}

async fn insert_setlist(user: &User, title: &str) -> String {
    let id = rockon_sync::io::writer::new_uuid();
    let row = json!({"id": id, "band_id": ROCKERS, "name": title});
    let (status, body) = rest("POST", "setlists", &user.token, Some(row)).await;
    assert_eq!(status, 201, "{body}");
    id
}

#[wasm_bindgen_test]
async fn named_listeners_get_only_their_events_and_unsubscribe_for_good() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let client = open(&alice, &unique("emit"), URL, json!({})).await;
    let all = record(&client);
    let (songs, stop_songs) = listen(&client, "songs:changed");
    let (setlists, _keep) = listen(&client, "setlists:changed");
    let (changes, stop_changes) = listen(&client, "change");
    let throwing = Function::new_no_args("throw new Error('a listener bug')");
    let _thrower = client.on("change", throwing);
    client.follow_band(ROCKERS).unwrap();
    initial_pull_done(&all).await;

    let song = insert_song(&bob, ROCKERS, &unique("emitted")).await;
    eventually(5_000, "the song's change", || async {
        songs
            .iter()
            .any(|e| field(&e, "ids").as_array().unwrap().contains(&json!(song)))
    })
    .await;
    assert!(songs.iter().all(|e| field(&e, "table") == "songs"));
    assert!(setlists.iter().all(|e| field(&e, "table") == "setlists"));
    assert!(
        changes.length() >= songs.length(),
        "despite the throwing one"
    );

    let stopped_at = (songs.length(), changes.length());
    stop_songs.call0(&JsValue::NULL).unwrap();
    stop_songs.call0(&JsValue::NULL).expect("twice is harmless");
    stop_changes.call0(&JsValue::NULL).unwrap();
    let setlist = insert_setlist(&bob, &unique("after")).await;
    eventually(5_000, "the setlist's change", || async {
        setlists.iter().any(|e| {
            field(&e, "ids")
                .as_array()
                .unwrap()
                .contains(&json!(setlist))
        })
    })
    .await;
    let song = insert_song(&bob, ROCKERS, &unique("unheard")).await;
    eventually(5_000, "the second song reaches the store", || async {
        !local(&client, &song).await.is_null()
    })
    .await;
    assert_eq!((songs.length(), changes.length()), stopped_at);
    client.close();
    client.close();
    let closed = call(client.list("songs".into(), ROCKERS.into(), JsValue::UNDEFINED)).await;
    let code = js_sys::Reflect::get(&closed.expect_err("closed"), &"code".into()).unwrap();
    assert_eq!(code.as_string().as_deref(), Some("database_closed"));
}

#[wasm_bindgen_test]
async fn others_changes_are_unread_across_a_reload_until_read_and_own_never() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let database = unique("unread");
    let client = open(&bob, &database, URL, json!({})).await;
    let all = record(&client);
    let (unread_events, _keep) = listen(&client, "unread");
    client.follow_band(ROCKERS).unwrap();
    initial_pull_done(&all).await;
    assert_eq!(unread_total(&client), 0, "the first download is not news");

    let by_alice = insert_song(&alice, ROCKERS, &unique("from alice")).await;
    let by_bob_elsewhere = insert_song(&bob, ROCKERS, &unique("from bob's phone")).await;
    eventually(5_000, "alice's song is unread", || async {
        to_json(&client.unread_rows(Some(ROCKERS.into()), Some("songs".into())))
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == by_alice)
    })
    .await;
    eventually(5_000, "bob's own song arrived", || async {
        !local(&client, &by_bob_elsewhere).await.is_null()
    })
    .await;
    let counts = to_json(&client.unread());
    assert_eq!(counts["byBand"][ROCKERS]["songs"], 1, "{counts}");
    assert_eq!(
        counts["total"], 1,
        "own changes, any device, are never unread"
    );
    assert!(unread_events.length() > 0);
    assert_eq!(
        field(&unread_events.get(unread_events.length() - 1), "total"),
        1
    );
    client.close();

    // A reload: the mark is still there; reading it clears it for good.
    let reloaded = open(&bob, &database, URL, json!({})).await;
    assert_eq!(unread_total(&reloaded), 1, "marks survive a reload");
    reloaded.mark_read("songs", &by_alice);
    reloaded.mark_read("songs", &by_alice);
    assert_eq!(unread_total(&reloaded), 0);
    let all = record(&reloaded);
    reloaded.follow_band(ROCKERS).unwrap();
    // Another of alice's changes, then bob edits that row: editing clears it.
    let second = insert_setlist(&alice, &unique("alice's setlist")).await;
    eventually(5_000, "the setlist is unread", || async {
        unread_total(&reloaded) == 1
    })
    .await;
    call(reloaded.update(
        "setlists".into(),
        second.clone(),
        js(json!({"name": "seen"})),
    ))
    .await
    .unwrap();
    assert_eq!(unread_total(&reloaded), 0, "editing a row reads it");
    assert!(
        events_of(&all, "error").is_empty(),
        "{:?}",
        events_of(&all, "error")
    );
    reloaded.close();
    let again = open(&bob, &database, URL, json!({})).await;
    eventually(2_000, "reads are persisted", || async {
        unread_total(&again) == 0
    })
    .await;
    assert_eq!(again.mark_all_read(None, None), 0);
    again.close();
}

#[wasm_bindgen_test]
async fn notifications_show_at_once_grow_in_place_and_are_capped() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let options = json!({"notifications": {"windowMs": 400, "maxToasts": 2, "periodMs": 3000}});
    let client = open(&bob, &unique("toasts"), URL, options).await;
    let all = record(&client);
    let (toasts, _keep) = listen(&client, "notification");
    client.follow_band(ROCKERS).unwrap();
    initial_pull_done(&all).await;

    let title = unique("<b>Wonderwall</b>");
    insert_song(&alice, ROCKERS, &title).await;
    eventually(5_000, "one toast", || async { toasts.length() == 1 }).await;
    let first = to_json(&toasts.get(0));
    assert_eq!(first["text"], format!("Alice added '{title}'"));
    assert_eq!(first["kind"], "changes");
    assert_eq!(first["author"], alice.id);

    // Past the first toast's window, a burst: its first change shows at once, and the same
    // toast (same id) becomes "3 changes by Alice" when the window closes.
    gloo_timers::future::TimeoutFuture::new(600).await;
    let burst = unique("burst");
    insert_song(&alice, ROCKERS, &burst).await;
    eventually(5_000, "the burst's first toast", || async {
        toasts.length() == 2
    })
    .await;
    assert_eq!(
        field(&toasts.get(1), "text"),
        format!("Alice added '{burst}'")
    );
    for _ in 0..2 {
        insert_song(&alice, ROCKERS, &unique("burst")).await;
    }
    eventually(5_000, "the burst's toast grows", || async {
        toasts.length() == 3
    })
    .await;
    let (started, grown) = (to_json(&toasts.get(1)), to_json(&toasts.get(2)));
    assert_eq!(grown["text"], "3 changes by Alice");
    assert_eq!(grown["id"], started["id"], "the same toast, updated");
    // Past the cap of two toasts a period, the rest is one summary at the period's end.
    gloo_timers::future::TimeoutFuture::new(600).await;
    insert_setlist(&alice, &unique("capped")).await;
    insert_song(&alice, ROCKERS, &unique("capped")).await;
    gloo_timers::future::TimeoutFuture::new(1_000).await;
    assert_eq!(toasts.length(), 3, "over the cap: held back");
    eventually(6_000, "the summary", || async { toasts.length() == 4 }).await;
    assert_eq!(field(&toasts.get(3), "text"), "2 changes by Alice");

    // Bob's own changes never make a toast.
    insert_song(&bob, ROCKERS, &unique("mine")).await;
    gloo_timers::future::TimeoutFuture::new(1_000).await;
    assert_eq!(toasts.length(), 4);
    client.close();
}

#[wasm_bindgen_test]
async fn the_dashboard_counts_purges_and_exports() {
    let alice = sign_in("alice").await;
    let client = open(&alice, &unique("dashboard"), URL, json!({})).await;
    let events = record(&client);
    client.follow_band(ROCKERS).unwrap();
    initial_pull_done(&events).await;
    let songs_of = |stats: &Value| {
        stats["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == "songs" && t["bandId"] == ROCKERS)
            .cloned()
            .unwrap()
    };
    let in_sync = || async {
        let stats = to_json(&call(client.stats()).await.unwrap());
        let songs = songs_of(&stats);
        songs["server"].as_u64().is_some() && songs["local"] == songs["server"]
    };
    eventually(10_000, "local and server counts agree", in_sync).await;

    // A write RLS refuses (alice is not in TRIO) stays parked in the outbox…
    let parked = to_json(
        &call(client.create(
            "songs".into(),
            js(json!({"bandId": TRIO, "title": "parked"})),
        ))
        .await
        .unwrap(),
    );
    eventually(5_000, "the refusal parks it", || async {
        to_json(&client.outbox())[0]["failed"]["status"] == 403
    })
    .await;
    // …and survives a purge of the cache, which downloads the band again.
    let removed = call(client.purge_local()).await.unwrap().as_f64().unwrap();
    assert!(removed >= 20.0, "{removed}");
    let kept = call(client.get("songs".into(), parked["id"].as_str().unwrap().into()))
        .await
        .unwrap();
    assert!(!kept.is_undefined(), "rows with pending writes are kept");
    let purged: Vec<Value> = events_of(&events, "change")
        .into_iter()
        .filter(|e| e["source"] == "purge")
        .collect();
    assert!(!purged.is_empty());
    eventually(10_000, "downloaded again", in_sync).await;

    let export: Value = serde_json::from_str(
        &call(client.export_json())
            .await
            .unwrap()
            .as_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(export["userId"], alice.id);
    assert!(export["tables"]["songs"].as_array().unwrap().len() >= 20);
    assert_eq!(export["outbox"].as_array().unwrap().len(), 1);
    let log = to_json(&client.sync_log());
    assert!(log.as_array().unwrap().iter().all(|e| e["at"].is_number()));
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "change"));

    client.force_sync();
    let seq = to_json(&client.outbox())[0]["seq"].as_f64().unwrap();
    call(client.discard(seq)).await.unwrap();
    client.close();
}

#[wasm_bindgen_test]
async fn presence_shows_members_and_their_views_within_the_band_only() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let carol = sign_in("carol").await;
    let watcher = open(&bob, &unique("presence-bob"), URL, json!({})).await;
    let (seen, _keep) = listen(&watcher, "presence");
    watcher.follow_band(ROCKERS).unwrap();
    let outsider = open(&carol, &unique("presence-carol"), URL, json!({})).await;
    let outsider_events = record(&outsider);
    outsider.follow_band(ROCKERS).unwrap();
    let client = open(&alice, &unique("presence-alice"), URL, json!({})).await;
    client.follow_band(ROCKERS).unwrap();

    let alice_views = || {
        let mut views = Vec::new();
        for event in seen.iter() {
            for member in field(&event, "members").as_array().unwrap() {
                let view = member["meta"]["view"].clone();
                if member["userId"] == alice.id && views.last() != Some(&view) {
                    views.push(view);
                }
            }
        }
        views
    };
    // Tracked once the channel is joined.
    client
        .set_presence(ROCKERS, js(json!({"view": "songs"})))
        .unwrap();
    eventually(5_000, "alice is online", || async {
        alice_views().last() == Some(&json!("songs"))
    })
    .await;
    // A burst of view changes costs at most one message now and the newest a moment later
    // (Realtime allows 5 presence messages per 30 s): nothing in between.
    for view in ["setlists", "shows", "practices", "song"] {
        client
            .set_presence(ROCKERS, js(json!({"view": view, "itemId": "s1"})))
            .unwrap();
    }
    eventually(5_000, "alice's newest view", || async {
        alice_views().last() == Some(&json!("song"))
    })
    .await;
    let views = alice_views();
    assert!(views.len() <= 3, "{views:?}");
    assert!(!views.contains(&json!("shows")) && !views.contains(&json!("practices")));
    let members = to_json(&watcher.presence(ROCKERS));
    let entry = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["userId"] == alice.id)
        .cloned()
        .expect("alice is online");
    assert_eq!(entry["sessions"], 1);
    assert_eq!(entry["meta"]["itemId"], "s1");

    // Carol is not in the band: her join is refused, and she sees nobody.
    eventually(5_000, "carol's join is refused", || async {
        events_of(&outsider_events, "channelError")
            .iter()
            .any(|e| e["code"] == "unauthorized")
    })
    .await;
    assert!(events_of(&outsider_events, "presence").is_empty());
    assert_eq!(to_json(&outsider.presence(ROCKERS)), json!([]));

    // Alice leaves: bob sees her go.
    client.close();
    eventually(5_000, "alice went offline", || async {
        to_json(&watcher.presence(ROCKERS))
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["userId"] != alice.id)
    })
    .await;
    watcher.close();
    outsider.close();
}

/// Runs `body` (the text of an async function of `name` and `record`) on the raw IndexedDB
/// database `name`, as another version of the library would have left it.
async fn raw_idb(name: &str, record: Value, body: &str) -> Value {
    let run = Function::new_with_args("name, record", body);
    let promise = run
        .call2(&JsValue::NULL, &name.into(), &js(record))
        .unwrap();
    to_json(&call(promise.unchecked_into()).await.unwrap())
}

const OPEN: &str = "const db = await new Promise((ok, fail) => { \
    const request = indexedDB.open(name); request.onsuccess = () => ok(request.result); \
    request.onerror = () => fail(request.error); });";

/// Puts `record` into `store` of the raw IndexedDB database `name`.
async fn raw_put(name: &str, store: &str, record: Value) {
    let put = format!(
        "return (async () => {{ {OPEN} await new Promise((ok) => {{ \
         const tx = db.transaction('{store}', 'readwrite'); \
         tx.objectStore('{store}').put(record); tx.oncomplete = ok; }}); \
         db.close(); return null; }})();"
    );
    raw_idb(name, record, &put).await;
}

/// A database bob opened once, with `record` then put into its `store` as another version of
/// the library would have left it; the client reopened on it.
async fn reopened_after(
    prefix: &str,
    store: &str,
    record: Value,
) -> (rockon_sync::api::SyncClient, String) {
    let bob = sign_in("bob").await;
    let database = unique(prefix);
    open(&bob, &database, URL, json!({})).await.close();
    raw_put(&database, store, record).await;
    (open(&bob, &database, URL, json!({})).await, database)
}

/// Every record of `store` of the raw IndexedDB database `name`, as `map` (a JavaScript
/// function of a record) makes it.
async fn raw_records(name: &str, store: &str, map: &str) -> Value {
    let all = format!(
        "return (async () => {{ {OPEN} const records = await new Promise((ok) => {{ \
         const request = db.transaction('{store}').objectStore('{store}').getAll(); \
         request.onsuccess = () => ok(request.result); }}); db.close(); \
         return records.map({map}); }})();"
    );
    raw_idb(name, Value::Null, &all).await
}

#[wasm_bindgen_test]
async fn marks_stored_one_per_row_are_kept_and_stored_per_band_and_table() {
    // An earlier version kept one record per unread row.
    let legacy = json!({"key": "songs:s-1", "table": "songs", "bandId": ROCKERS, "id": "s-1"});
    let (reopened, database) = reopened_after("legacy-marks", "read_marks", legacy).await;
    assert_eq!(unread_total(&reopened), 1, "the mark is kept");
    let slot = format!("#{ROCKERS}/songs/0");
    eventually(2_000, "one record for the band's songs", || async {
        raw_records(&database, "read_marks", "(r) => r.key").await == json!([slot])
    })
    .await;
    reopened.mark_read("songs", "s-1");
    assert_eq!(unread_total(&reopened), 0);
    eventually(2_000, "no record left", || async {
        raw_records(&database, "read_marks", "(r) => r.key").await == json!([])
    })
    .await;
    reopened.close();
}

#[wasm_bindgen_test]
async fn marks_a_record_holds_are_read_and_removed_where_they_are() {
    // An earlier version numbered a table's records by a hash of the rows' ids (0 to 15).
    let record = json!({"key": format!("#{ROCKERS}/songs/5"), "bandId": ROCKERS,
        "table": "songs", "ids": ["s-1", "s-2"]});
    let (reopened, database) = reopened_after("hashed-marks", "read_marks", record).await;
    assert_eq!(unread_total(&reopened), 2, "both marks are kept");
    let ids = "(record) => [record.key, record.ids]";
    reopened.mark_read("songs", "s-1");
    assert_eq!(unread_total(&reopened), 1);
    let key = format!("#{ROCKERS}/songs/5");
    eventually(2_000, "the record is rewritten in place", || async {
        raw_records(&database, "read_marks", ids).await == json!([[key, ["s-2"]]])
    })
    .await;
    reopened.mark_read("songs", "s-2");
    eventually(2_000, "no record left", || async {
        raw_records(&database, "read_marks", ids).await == json!([])
    })
    .await;
    reopened.close();
}

#[wasm_bindgen_test]
async fn feed_entries_stored_one_per_record_are_kept_and_stored_per_band() {
    // An earlier version kept one record per feed entry.
    let entry = json!({"id": "0001700000000000-00000000", "bandId": ROCKERS, "author": "alice",
        "action": "added", "table": "songs", "rowId": "s-1", "label": "Old news", "at": 1.0,
        "read": false});
    let (reopened, database) = reopened_after("legacy-feed", "activity", entry).await;
    let feed = to_json(&reopened.activity(ROCKERS, JsValue::UNDEFINED));
    assert_eq!(feed[0]["label"], "Old news", "the entry is kept: {feed}");
    assert_eq!(reopened.activity_unread(ROCKERS), 1);
    let records = "(record) => [record.id, (record.entries || []).length]";
    let key = format!("#{ROCKERS}");
    eventually(2_000, "one record for the band", || async {
        raw_records(&database, "activity", records).await == json!([[key, 1]])
    })
    .await;
    reopened.close();
}
