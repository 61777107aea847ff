//! A user's database from an earlier release, opened by this one: each layout version shipped
//! (2, before the activity feed; 3, before the unused stores and indexes went) with a row and a
//! pending write in it. The upgrade keeps both, the write still reaches the server exactly
//! once, and the database has this release's layout afterwards.
#![cfg(target_arch = "wasm32")]

mod support;

use rexie::{Index, ObjectStore, Rexie, TransactionMode};
use rockon_sync::io::layout;
use rockon_sync::io::store::{to_js, DB_VERSION};
use rockon_sync_core::outbox::{Entry, Op};
use rockon_sync_core::schema::{snake_to_camel, Schema};
use rockon_sync_core::value::json;
use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A database at `version`'s layout, built by rexie (an implementation independent of the
/// module's own upgrade code).
fn rexie_layout(name: &str, version: u32, schema: &Schema) -> rexie::RexieBuilder {
    let mut builder = Rexie::builder(name).version(version);
    for spec in layout::at_version(version, schema).stores {
        let mut store = ObjectStore::new(&spec.name).key_path(&spec.key_path);
        if spec.auto_increment {
            store = store.auto_increment(true);
        }
        for index in &spec.indexes {
            store = match index.key_path.as_slice() {
                [single] => store.add_index(Index::new(&index.name, single)),
                several => store.add_index(Index::new_array(
                    &index.name,
                    several.iter().map(String::as_str),
                )),
            };
        }
        builder = builder.add_object_store(store);
    }
    builder
}

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
    let name = unique("upgrade-2");
    let db = version_2(&name).await;
    upgrade_keeps_rows_and_pending_writes(&name, db).await;
}

#[wasm_bindgen_test]
async fn a_version_3_database_keeps_its_rows_and_pending_writes() {
    assert_eq!(
        DB_VERSION, 4,
        "a new layout version needs its own upgrade test"
    );
    let name = unique("upgrade-3");
    let db = rexie_layout(&name, 3, &Schema::rockon())
        .build()
        .await
        .expect("version 3 layout");
    assert!(db.store_names().contains(&"activity".to_owned()));
    upgrade_keeps_rows_and_pending_writes(&name, db).await;
}

/// Writes a row and its pending create into `db` (an older layout), opens it with this
/// release, and checks both survive, the write lands once and the layout is this release's.
async fn upgrade_keeps_rows_and_pending_writes(name: &str, db: Rexie) {
    let alice = sign_in("alice").await;
    let id = rockon_sync::io::writer::new_uuid();
    let title = unique("written before the upgrade");
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
        field_edits: Vec::new(),
    };
    tx.store("outbox")
        .unwrap()
        .put(&to_js(&entry), None)
        .await
        .unwrap();
    tx.done().await.unwrap();
    db.close();

    // Today's client upgrades it in place: the row is listed, the write is still pending…
    let client = open(&alice, name, URL, json!({})).await;
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

    // The unused settings store and indexes are gone; the rest is this release's layout.
    let schema = Schema::rockon();
    let db = rexie_layout(name, DB_VERSION, &schema)
        .build()
        .await
        .unwrap();
    let mut stores = db.store_names();
    stores.sort();
    let mut expected: Vec<String> = layout::at_version(DB_VERSION, &schema)
        .stores
        .into_iter()
        .map(|s| s.name)
        .collect();
    expected.sort();
    assert_eq!(stores, expected);
    assert!(!stores.contains(&"meta".to_owned()));
    let tx = db
        .transaction(&["songs", "outbox"], TransactionMode::ReadOnly)
        .unwrap();
    assert_eq!(
        tx.store("songs").unwrap().index_names(),
        vec!["scope".to_owned()]
    );
    assert!(tx.store("outbox").unwrap().index_names().is_empty());
    tx.done().await.unwrap();
    db.close();
}
