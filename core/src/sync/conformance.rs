//! The contract every store of the sync engine keeps, as one suite run against each store: the
//! in-memory store natively (`cargo test`), the IndexedDB store in Chrome and Firefox
//! (`wasm-pack test`).

use super::store::{
    cursor_key, ApplyBatch, MemoryStore, ReadResult, ServerRows, StoreError, StoreOp, StoreRead,
};
use crate::catchup::Cursor;
use crate::json_text::json_text;
use crate::merge::FieldConflict;
use crate::outbox::{ConflictRecord, Entry, Op};
use crate::realtime::{HeldMap, Record, RowSlot};
use crate::value::{Map, Value};
use std::rc::Rc;

/// A store the engine's storage outputs can be carried out on.
#[allow(async_fn_in_trait)] // single-threaded drivers: no `Send` bound wanted
pub trait Store {
    /// Executes a batch in one transaction: all of it or, on error, none of it.
    async fn write(&mut self, ops: &[StoreOp]) -> Result<(), StoreError>;
    /// Answers a read.
    async fn read(&mut self, read: &StoreRead) -> Result<ReadResult, StoreError>;
    /// Applies server data in one transaction; answers the ids of the rows written.
    async fn apply(&mut self, batch: &ApplyBatch) -> Result<Vec<String>, StoreError>;
}

impl Store for MemoryStore {
    async fn write(&mut self, ops: &[StoreOp]) -> Result<(), StoreError> {
        MemoryStore::write(self, ops)
    }

    async fn read(&mut self, read: &StoreRead) -> Result<ReadResult, StoreError> {
        Ok(MemoryStore::read(self, read))
    }

    async fn apply(&mut self, batch: &ApplyBatch) -> Result<Vec<String>, StoreError> {
        MemoryStore::apply(self, batch)
    }
}

/// The tables the suite writes to, as `(table, scope column)`; the store must hold them.
pub const TABLES: [(&str, &str); 2] = [("songs", "band_id"), ("setlists", "band_id")];

fn row(id: &str, band: &str, title: &str, version: i64) -> Map<String, Value> {
    let fields = [
        ("id", id.into()),
        ("band_id", band.into()),
        ("title", title.into()),
    ];
    let mut row: Map<String, Value> = fields.map(|(k, v)| (k.to_owned(), v)).into_iter().collect();
    row.insert("version".into(), version.into());
    row.insert("deleted_at".into(), Value::Null);
    row
}

fn entry(seq: u64, row_id: &str) -> Entry {
    Entry {
        seq,
        table: "songs".into(),
        row_id: row_id.into(),
        op: Op::Update,
        fields: row(row_id, "b1", "edited", 1),
        base: Some(row(row_id, "b1", "base", 1)),
        attempts: 0,
        failed: None,
        last_error: None,
        edited: 0,
        field_edits: Vec::new(),
    }
}

fn conflict(row_id: &str) -> ConflictRecord {
    ConflictRecord {
        table: "songs".into(),
        row_id: row_id.into(),
        local: row(row_id, "b1", "mine", 1),
        remote: Some(row(row_id, "b1", "theirs", 2)),
        fields: vec![FieldConflict {
            field: "title".into(),
            base: Value::from("base"),
            local: Value::from("mine"),
            remote: Value::from("theirs"),
            kept: Value::from("theirs"),
        }],
        deleted_remotely: false,
        seq: 7,
        field_seqs: vec![("title".into(), 6)],
    }
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what.to_owned())
    }
}

async fn write<S: Store>(store: &mut S, ops: &[StoreOp]) -> Result<(), String> {
    store.write(ops).await.map_err(|e| e.to_string())
}

async fn outbox<S: Store>(store: &mut S) -> Result<ReadResult, String> {
    let read = StoreRead::Outbox;
    store.read(&read).await.map_err(|e| e.to_string())
}

async fn stored_row<S: Store>(store: &mut S, id: &str) -> Result<ReadResult, String> {
    let read = StoreRead::Row {
        table: "songs".into(),
        id: id.into(),
        with_conflict: true,
    };
    store
        .read(&read)
        .await
        .map_err(|e| format!("read {id}: {e}"))
}

/// Runs the suite on an empty `store`; the error names the first broken rule.
pub async fn run<S: Store>(store: &mut S) -> Result<(), String> {
    rows_round_trip(store).await?;
    batches_are_atomic(store).await?;
    outbox_in_order(store).await?;
    conflicts_kept(store).await?;
    band_rows(store).await?;
    server_rows_by_version(store).await?;
    large_batches_by_version(store).await?;
    cursors_saved_with_rows(store).await
}

async fn rows_round_trip<S: Store>(store: &mut S) -> Result<(), String> {
    let song = row("s1", "b1", "Intro", 3);
    let put = StoreOp::PutRow {
        table: "songs".into(),
        row: song.clone(),
    };
    write(store, &[put]).await?;
    let expected = ReadResult::Row {
        row: Some(song),
        conflict: None,
    };
    check(
        stored_row(store, "s1").await? == expected,
        "a put row reads back as written",
    )?;
    let missing = ReadResult::Row {
        row: None,
        conflict: None,
    };
    check(
        stored_row(store, "nope").await? == missing,
        "a missing row reads as none",
    )?;
    let delete = StoreOp::DeleteRow {
        table: "songs".into(),
        id: "s1".into(),
    };
    write(store, &[delete]).await?;
    check(
        stored_row(store, "s1").await? == missing,
        "a deleted row is gone",
    )
}

async fn batches_are_atomic<S: Store>(store: &mut S) -> Result<(), String> {
    write(store, &[StoreOp::AddEntry(entry(10, "s2"))]).await?;
    let batch = [
        StoreOp::PutRow {
            table: "songs".into(),
            row: row("s2", "b1", "lost", 1),
        },
        StoreOp::AddEntry(entry(10, "s3")),
    ];
    let result = store.write(&batch).await;
    check(
        matches!(result, Err(StoreError::KeyTaken(_))),
        "adding an entry under a taken sequence number fails with KeyTaken",
    )?;
    let missing = ReadResult::Row {
        row: None,
        conflict: None,
    };
    check(
        stored_row(store, "s2").await? == missing,
        "a failed batch writes nothing (its row is not stored)",
    )?;
    let outbox = outbox(store).await?;
    check(
        matches!(&outbox, ReadResult::Outbox { entries, .. } if entries == &[entry(10, "s2")]),
        "a failed batch leaves the other tab's entry as it was",
    )
}

async fn outbox_in_order<S: Store>(store: &mut S) -> Result<(), String> {
    let mut changed = entry(10, "s2");
    changed.attempts = 1;
    let batch = [
        StoreOp::AddEntry(entry(30, "s4")),
        StoreOp::AddEntry(entry(20, "s5")),
        StoreOp::PutEntry(changed.clone()),
    ];
    write(store, &batch).await?;
    write(store, &[StoreOp::RemoveEntry(20)]).await?;
    let outbox = outbox(store).await?;
    let expected = vec![changed, entry(30, "s4")];
    check(
        matches!(&outbox, ReadResult::Outbox { entries, .. } if entries == &expected),
        "the outbox reads back in sequence order, with puts replacing and removes removing",
    )?;
    let clear = [StoreOp::RemoveEntry(10), StoreOp::RemoveEntry(30)];
    write(store, &clear).await
}

async fn conflicts_kept<S: Store>(store: &mut S) -> Result<(), String> {
    let song = row("s6", "b1", "mine", 1);
    let batch = [
        StoreOp::PutRow {
            table: "songs".into(),
            row: song.clone(),
        },
        StoreOp::PutConflict(conflict("s6")),
    ];
    write(store, &batch).await?;
    let expected = ReadResult::Row {
        row: Some(song.clone()),
        conflict: Some(Box::new(conflict("s6"))),
    };
    check(
        stored_row(store, "s6").await? == expected,
        "a row reads with its conflict record",
    )?;
    let outbox = outbox(store).await?;
    check(
        matches!(&outbox, ReadResult::Outbox { conflicts, .. } if conflicts == &["songs:s6"]),
        "the outbox read lists conflict keys as table:id",
    )?;
    let remove = StoreOp::RemoveConflict {
        table: "songs".into(),
        id: "s6".into(),
    };
    write(store, &[remove]).await?;
    let expected = ReadResult::Row {
        row: Some(song),
        conflict: None,
    };
    check(
        stored_row(store, "s6").await? == expected,
        "an acknowledged conflict is gone, its row stays",
    )
}

async fn band_rows<S: Store>(store: &mut S) -> Result<(), String> {
    let mut tombstone = row("s8", "b2", "gone", 4);
    tombstone.insert(
        "deleted_at".into(),
        Value::from("2026-12-01T10:00:00.000000Z"),
    );
    let batch = [
        StoreOp::PutRow {
            table: "songs".into(),
            row: row("s7", "b2", "one", 1),
        },
        StoreOp::PutRow {
            table: "songs".into(),
            row: tombstone,
        },
        StoreOp::PutRow {
            table: "setlists".into(),
            row: row("l1", "b2", "set", 1),
        },
        StoreOp::PutRow {
            table: "songs".into(),
            row: row("s9", "b3", "other band", 1),
        },
    ];
    write(store, &batch).await?;
    let read = StoreRead::BandRows { band: "b2".into() };
    let mut found = match store.read(&read).await.map_err(|e| e.to_string())? {
        ReadResult::BandRows(tables) => tables,
        other => return Err(format!("band rows read as {other:?}")),
    };
    found.retain(|(_, ids)| !ids.is_empty());
    for (_, ids) in &mut found {
        ids.sort();
    }
    found.sort();
    let expected = vec![
        ("setlists".to_owned(), vec!["l1".to_owned()]),
        ("songs".to_owned(), vec!["s7".to_owned(), "s8".to_owned()]),
    ];
    check(
        found == expected,
        "a band's rows are listed per table, tombstones included, other bands not",
    )
}

fn songs(rows: &[Map<String, Value>]) -> ServerRows {
    let json = json_text(&rows);
    ServerRows::text("songs".into(), json)
}

async fn apply<S: Store>(store: &mut S, batch: ApplyBatch) -> Result<Vec<String>, String> {
    let mut written = store.apply(&batch).await.map_err(|e| e.to_string())?;
    written.sort();
    Ok(written)
}

async fn title_of<S: Store>(store: &mut S, id: &str) -> Result<Option<Value>, String> {
    Ok(match stored_row(store, id).await? {
        ReadResult::Row { row: Some(row), .. } => row.get("title").cloned(),
        _ => None,
    })
}

async fn server_rows_by_version<S: Store>(store: &mut S) -> Result<(), String> {
    let first = ApplyBatch {
        rows: vec![songs(&[
            row("v1", "b4", "one", 2),
            row("v2", "b4", "two", 2),
        ])],
        ..ApplyBatch::default()
    };
    check(
        apply(store, first).await? == ["v1", "v2"],
        "new server rows are written and reported",
    )?;
    let second = ApplyBatch {
        rows: vec![songs(&[
            row("v1", "b4", "older", 1),
            row("v2", "b4", "echo", 2),
            row("v3", "b4", "newest", 5),
            row("v3", "b4", "stale", 4),
        ])],
        deletions: vec![("songs".into(), "v2".into())],
        cursor: None,
    };
    check(
        apply(store, second).await? == ["v3"],
        "only rows newer than the stored copy are written",
    )?;
    check(
        title_of(store, "v1").await? == Some(Value::from("one")),
        "an older version leaves the stored row alone",
    )?;
    check(
        title_of(store, "v3").await? == Some(Value::from("newest")),
        "within a batch the newest version of a row wins, whatever the order",
    )?;
    check(
        title_of(store, "v2").await?.is_none(),
        "a deletion in the batch removes the row",
    )?;
    // Rows a driver holds (read from a frame by the driver itself) are stored alike.
    let held = |row| Record::held(Rc::new(HeldMap(row)), RowSlot::Record);
    let mut rows = songs(&[row("v5", "b4", "as text", 1)]);
    rows.held = vec![
        held(row("v3", "b4", "held, stale", 4)),
        held(row("v6", "b4", "held", 1)),
    ];
    let third = ApplyBatch {
        rows: vec![rows],
        ..ApplyBatch::default()
    };
    let mut written = apply(store, third).await?;
    written.sort();
    check(
        written == ["v5", "v6"],
        "held rows are written by version too",
    )?;
    check(
        title_of(store, "v6").await? == Some(Value::from("held")),
        "a held row is stored as it is",
    )
}

/// Batches of hundreds of rows, as a burst brings them: a store may look up the stored copies
/// and put the rows in other ways than for a few (the IndexedDB store does), by the same rules.
async fn large_batches_by_version<S: Store>(store: &mut S) -> Result<(), String> {
    let rows = |prefix: &str, range: std::ops::Range<usize>, title: &str, version: i64| {
        range
            .map(|n| row(&format!("{prefix}{n:03}"), "b6", title, version))
            .collect::<Vec<_>>()
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let first = ApplyBatch {
        rows: vec![songs(&rows("a", 0..300, "first", 1))],
        ..ApplyBatch::default()
    };
    check(
        apply(store, first).await?.len() == 300,
        "a batch of 300 new rows is written",
    )?;
    // The band holds fewer rows than arrive: even rows are newer, odd ones echoes.
    let mut arriving: Vec<_> = (0..300)
        .map(|n| {
            let (title, version) = if n % 2 == 0 {
                ("second", 2)
            } else {
                ("echo", 1)
            };
            row(&format!("a{n:03}"), "b6", title, version)
        })
        .collect();
    arriving.extend(rows("b", 0..100, "second", 1));
    let second = ApplyBatch {
        rows: vec![songs(&arriving)],
        // A newer row and an echo the batch deletes too.
        deletions: vec![
            ("songs".into(), "a000".into()),
            ("songs".into(), "a001".into()),
        ],
        cursor: None,
    };
    let expected: Vec<String> = (0..300)
        .step_by(2)
        .map(|n| format!("a{n:03}"))
        .chain((0..100).map(|n| format!("b{n:03}")))
        .collect();
    check(
        sorted(apply(store, second).await?) == expected,
        "of 400 rows, those newer than their stored copies are written, deleted or not",
    )?;
    check(
        title_of(store, "a298").await? == Some(Value::from("second"))
            && title_of(store, "a299").await? == Some(Value::from("first"))
            && title_of(store, "a000").await?.is_none()
            && title_of(store, "a001").await?.is_none(),
        "the last of a large batch is stored by version and its deletions hold",
    )?;
    // The band holds more rows than arrive.
    let third = ApplyBatch {
        rows: vec![songs(&rows("c", 0..200, "third", 1))],
        ..ApplyBatch::default()
    };
    check(
        apply(store, third).await?.len() == 200
            && title_of(store, "c199").await? == Some(Value::from("third")),
        "a batch of 200 rows into a band of 399 is written",
    )
}

async fn cursors_saved_with_rows<S: Store>(store: &mut S) -> Result<(), String> {
    let read = StoreRead::Cursors { band: "b5".into() };
    let cursors = |result| match result {
        ReadResult::Cursors(cursors) => Ok(cursors),
        other => Err(format!("cursors read as {other:?}")),
    };
    let before = cursors(store.read(&read).await.map_err(|e| e.to_string())?)?;
    check(
        before.iter().all(Option::is_none),
        "a band never pulled has no cursors",
    )?;
    let cursor = Cursor {
        updated_at: "2026-12-01T10:00:00.000000+00:00".into(),
        id: "c1".into(),
    };
    let batch = ApplyBatch {
        rows: vec![songs(&[row("c1", "b5", "pulled", 1)])],
        deletions: Vec::new(),
        cursor: Some((cursor_key("songs", "b5"), cursor.clone())),
    };
    check(
        apply(store, batch).await? == ["c1"],
        "a page's rows are written",
    )?;
    let after = cursors(store.read(&read).await.map_err(|e| e.to_string())?)?;
    // `songs` is the first table of every store the suite runs on.
    check(
        after.first() == Some(&Some(cursor)) && after.iter().skip(1).all(Option::is_none),
        "the cursor saved with a page reads back for its table only",
    )?;
    let other = StoreRead::Cursors { band: "b6".into() };
    let elsewhere = cursors(store.read(&other).await.map_err(|e| e.to_string())?)?;
    check(
        elsewhere.iter().all(Option::is_none),
        "another band's cursors are its own",
    )?;
    let forget = StoreOp::ForgetCursor {
        table: "songs".into(),
        band: "b5".into(),
    };
    write(store, &[forget]).await?;
    let forgotten = cursors(store.read(&read).await.map_err(|e| e.to_string())?)?;
    check(
        forgotten.iter().all(Option::is_none),
        "a forgotten cursor is gone",
    )
}

/// A fresh in-memory store for the suite's tables.
pub fn memory_store() -> MemoryStore {
    let scopes = TABLES.iter().map(|(t, s)| (t.to_string(), s.to_string()));
    MemoryStore::new(scopes.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// The memory store's futures are ready at once: one poll runs them.
    fn now<F: Future>(future: F) -> F::Output {
        let mut context = Context::from_waker(Waker::noop());
        match pin!(future).poll(&mut context) {
            Poll::Ready(output) => output,
            Poll::Pending => unreachable!("the memory store never waits"),
        }
    }

    #[test]
    fn the_memory_store_keeps_the_contract() {
        now(run(&mut memory_store())).unwrap();
    }
}
