//! A real IndexedDB, opened through rexie, in a real browser.
#![cfg(target_arch = "wasm32")]

use rexie::{ObjectStore, Rexie, TransactionMode};
use rockon_sync_core::value::json;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn rows_written_in_one_transaction_read_back_by_index() {
    let name = format!("rockon-sync-test-{}", js_sys::Math::random());
    let db = Rexie::builder(&name)
        .version(1)
        .add_object_store(
            ObjectStore::new("songs")
                .key_path("id")
                .add_index(rexie::Index::new("band_id", "band_id")),
        )
        .build()
        .await
        .expect("IndexedDB opens");

    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let rows: Vec<JsValue> = (0..200)
        .map(|i| {
            let band = if i % 2 == 0 { "b1" } else { "b2" };
            let row = json!({"id": format!("s{i}"), "band_id": band, "title": format!("Song {i}")});
            serde::Serialize::serialize(&row, &serializer).unwrap()
        })
        .collect();
    let tx = db
        .transaction(&["songs"], TransactionMode::ReadWrite)
        .unwrap();
    let songs = tx.store("songs").unwrap();
    songs
        .put_all(rows.into_iter().map(|r| (r, None)))
        .await
        .unwrap();
    tx.done().await.unwrap();

    let tx = db
        .transaction(&["songs"], TransactionMode::ReadOnly)
        .unwrap();
    let band_one = tx
        .store("songs")
        .unwrap()
        .index("band_id")
        .unwrap()
        .get_all(Some(rexie::KeyRange::only(&"b1".into()).unwrap()), None)
        .await
        .unwrap();
    assert_eq!(band_one.len(), 100);
    let first: rockon_sync_core::value::Value =
        serde_wasm_bindgen::from_value(band_one[0].clone()).unwrap();
    assert_eq!(first["band_id"], "b1");
    tx.done().await.unwrap();

    db.close();
    Rexie::delete(&name).await.expect("deleted");
}

/// Two tabs that drew the same salt write in the same millisecond: the second new outbox entry
/// under that sequence number must fail, not replace the first (a lost write).
#[wasm_bindgen_test]
async fn a_new_outbox_entry_never_replaces_another_tabs() {
    use rockon_sync::io::store::{Store, StoreError};
    use rockon_sync_core::outbox::{Entry, Op};
    use rockon_sync_core::schema::Schema;
    use rockon_sync_core::sync::StoreOp;

    let name = format!("rockon-sync-test-{}", js_sys::Math::random());
    let store = Store::open(&name, Schema::rockon()).await.unwrap();
    let entry = |title: &str| Entry {
        seq: 42,
        table: "songs".into(),
        row_id: format!("id-{title}"),
        op: Op::Insert,
        fields: json!({"id": format!("id-{title}"), "band_id": "b1", "title": title})
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
    store
        .execute(&[StoreOp::AddEntry(entry("first tab"))])
        .await
        .unwrap();
    let taken = store
        .execute(&[StoreOp::AddEntry(entry("second tab"))])
        .await;
    assert!(
        matches!(
            taken,
            Err(StoreError(rockon_sync_core::sync::StoreError::KeyTaken(_)))
        ),
        "{taken:?}"
    );
    let stored = store.outbox().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].fields["title"], "first tab");
    // A put (an update of an entry this tab owns) still replaces, as it must.
    store
        .execute(&[StoreOp::PutEntry(entry("updated"))])
        .await
        .unwrap();
    assert_eq!(store.outbox().await.unwrap()[0].fields["title"], "updated");
    store.close();
}

/// The store contract the sync engine relies on, the same suite the in-memory store passes
/// natively (`rockon_sync_core::sync::conformance`).
#[wasm_bindgen_test]
async fn indexeddb_keeps_the_store_contract() {
    use rockon_sync::io::store::Store;
    use rockon_sync::io::sync_store::SyncStore;
    use rockon_sync_core::schema::Schema;
    use rockon_sync_core::sync::conformance;

    let name = format!("rockon-sync-test-{}", js_sys::Math::random());
    let store = Store::open(&name, Schema::rockon()).await.unwrap();
    let result = conformance::run(&mut SyncStore(store.clone())).await;
    store.close();
    Store::delete(&name).await.unwrap();
    result.unwrap();
}
