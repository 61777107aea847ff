//! A user's database from an earlier release, opened by this one: the IndexedDB layout shipped
//! as version 2 (before the activity feed) with a row and a pending write in it. The upgrade
//! keeps both, and the write still reaches the server exactly once.
#![cfg(target_arch = "wasm32")]

mod support;

use rexie::{Index, ObjectStore, Rexie, TransactionMode};
use rockon_sync::io::store::{to_js, DB_VERSION};
use rockon_sync_core::outbox::{Entry, Op};
use rockon_sync_core::schema::{snake_to_camel, Schema};
use serde_json::json;
use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The layout version 2 created, store by store and index by index.
async fn version_2(name: &str) -> Rexie {
    let mut builder = Rexie::builder(name).version(2);
    for table in &Schema::rockon().tables {
        let scope = snake_to_camel(&table.scope);
        builder = builder.add_object_store(
            ObjectStore::new(&table.name)
                .key_path("id")
                .add_index(Index::new("scope", &scope))
                .add_index(Index::new_array(
                    "scopeUpdated",
                    [scope.as_str(), "updatedAt"],
                )),
        );
    }
    builder
        .add_object_store(
            ObjectStore::new("outbox")
                .key_path("seq")
                .add_index(Index::new("row", "rowId")),
        )
        .add_object_store(ObjectStore::new("conflicts").key_path("key"))
        .add_object_store(ObjectStore::new("meta").key_path("key"))
        .add_object_store(ObjectStore::new("cursors").key_path("key"))
        .add_object_store(ObjectStore::new("read_marks").key_path("key"))
        .add_object_store(ObjectStore::new("profiles").key_path("id"))
        .add_object_store(
            ObjectStore::new("sync_log")
                .key_path("seq")
                .auto_increment(true),
        )
        .build()
        .await
        .expect("version 2 layout")
}

#[wasm_bindgen_test]
async fn a_version_2_database_keeps_its_rows_and_pending_writes() {
    assert_eq!(
        DB_VERSION, 3,
        "a new layout version needs its own upgrade test"
    );
    let alice = sign_in("alice").await;
    let name = unique("upgrade");
    let id = rockon_sync::io::writer::new_uuid();
    let title = unique("written before the upgrade");
    let db = version_2(&name).await;
    let tx = db
        .transaction(&["songs", "outbox"], TransactionMode::ReadWrite)
        .unwrap();
    let row = json!({"id": id, "bandId": ROCKERS, "title": title, "version": 0, "deletedAt": null});
    tx.store("songs")
        .unwrap()
        .put(&js(row), None)
        .await
        .unwrap();
    let entry = Entry {
        seq: 7,
        table: "songs".into(),
        row_id: id.clone(),
        op: Op::Insert,
        fields: json!({"id": id, "band_id": ROCKERS, "title": title})
            .as_object()
            .unwrap()
            .clone(),
        base: None,
        attempts: 0,
        failed: None,
        last_error: None,
        edited: 0,
    };
    tx.store("outbox")
        .unwrap()
        .put(&to_js(&entry), None)
        .await
        .unwrap();
    tx.done().await.unwrap();
    db.close();

    // Today's client upgrades it in place: the row is listed, the write is still pending…
    let client = open(&alice, &name, URL, json!({})).await;
    let local = to_json(&call(client.get("songs".into(), id.clone())).await.unwrap());
    assert_eq!(local["title"], title.as_str());
    let outbox = to_json(&client.outbox());
    assert_eq!(outbox[0]["rowId"], id.as_str(), "{outbox}");
    // …and pushed once; the activity feed the upgrade added works.
    client.force_sync();
    eventually(10_000, "pushed", || async {
        client.status("songs", &id) == "synced"
    })
    .await;
    let (_, rows) = rest("GET", &format!("songs?id=eq.{id}"), &alice.token, None).await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["title"], title.as_str());
    assert_eq!(client.activity_unread(ROCKERS), 0);
    client.close();
}
