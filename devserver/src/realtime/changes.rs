//! The change stream: decodes committed changes from a wal2json logical replication slot and
//! delivers each, in commit order, to the subscriptions whose filters match and whose claims
//! pass row-level security for that row.

use super::hub::Subscription;
use crate::db;
use crate::state::AppState;
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

/// Changes read per poll of the slot.
const BATCH: i32 = 500;
/// Poll this often even without a notification (a safety net; NOTIFY wakes the stream at once).
const FALLBACK_POLL: Duration = Duration::from_millis(250);

/// Runs the stream until the process ends, restarting it after errors or on request.
pub async fn run(state: Arc<AppState>, database_url: String) {
    let mut generation = 0u32;
    loop {
        generation += 1;
        match stream(&state, &database_url, generation).await {
            Ok(()) => eprintln!("realtime: change stream restarted"),
            Err(error) => {
                eprintln!("realtime: change stream failed: {error}; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn stream(state: &AppState, database_url: &str, generation: u32) -> Result<(), String> {
    let (client, mut connection) = db::connect(database_url).await?;
    let (wake, mut woken) = mpsc::unbounded_channel::<()>();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    let _ = wake.send(());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    let result = decode_loop(state, &client, generation, &mut woken).await;
    driver.abort();
    result
}

async fn decode_loop(
    state: &AppState,
    client: &tokio_postgres::Client,
    generation: u32,
    woken: &mut mpsc::UnboundedReceiver<()>,
) -> Result<(), String> {
    let fail = |e: tokio_postgres::Error| db::describe(&e);
    client
        .batch_execute("listen rockon_devserver_changes")
        .await
        .map_err(fail)?;
    // A temporary slot lives as long as this connection: nothing to clean up after a crash.
    let slot = format!("rockon_devserver_{}_{generation}", std::process::id());
    client
        .query_one(
            "select pg_create_logical_replication_slot($1, 'wal2json', true)",
            &[&slot],
        )
        .await
        .map_err(fail)?;
    let published: Vec<(String, String)> = client
        .query(
            "select schemaname::text, tablename::text from pg_publication_tables where pubname = 'supabase_realtime'",
            &[],
        )
        .await
        .map_err(fail)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let mut committed = String::new();
    loop {
        tokio::select! {
            _ = woken.recv() => {}
            _ = tokio::time::sleep(FALLBACK_POLL) => {}
            _ = state.faults.restart_stream.notified() => return Ok(()),
        }
        while woken.try_recv().is_ok() {}
        loop {
            let rows = client
                .query(
                    "select data from pg_logical_slot_get_changes($1, null, $2, 'format-version', '2', \
                     'include-timestamp', '1', 'include-types', '1', 'add-tables', 'public.*')",
                    &[&slot, &BATCH],
                )
                .await
                .map_err(fail)?;
            let count = rows.len();
            for row in rows {
                let data: String = row.get(0);
                let Ok(change) = serde_json::from_str::<Value>(&data) else {
                    continue;
                };
                match change.get("action").and_then(Value::as_str) {
                    Some("B") => {
                        committed = text(&change, "timestamp").to_owned();
                    }
                    Some(action @ ("I" | "U" | "D")) => {
                        let schema = text(&change, "schema");
                        let table = text(&change, "table");
                        if published.iter().any(|(s, t)| s == schema && t == table) {
                            deliver(state, client, action, &change, &committed).await?;
                        }
                    }
                    _ => {}
                }
            }
            if count < BATCH as usize {
                break;
            }
        }
    }
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// wal2json columns `[{name, type, value}]` as a row; json values arrive as text.
fn row_of(columns: Option<&Value>) -> Option<Map<String, Value>> {
    let columns = columns?.as_array()?;
    let mut row = Map::new();
    for column in columns {
        let name = text(column, "name").to_owned();
        let ty = text(column, "type");
        let value = column.get("value").cloned().unwrap_or(Value::Null);
        let value = match (&value, ty) {
            (Value::String(s), "json" | "jsonb") => serde_json::from_str(s).unwrap_or(value),
            _ => value,
        };
        row.insert(name, value);
    }
    Some(row)
}

async fn deliver(
    state: &AppState,
    client: &tokio_postgres::Client,
    action: &str,
    change: &Value,
    committed: &str,
) -> Result<(), String> {
    let schema = text(change, "schema");
    let table = text(change, "table");
    let kind = match action {
        "I" => "INSERT",
        "U" => "UPDATE",
        _ => "DELETE",
    };
    let record = if kind == "DELETE" {
        None
    } else {
        row_of(change.get("columns"))
    };
    let old = if kind == "INSERT" {
        None
    } else {
        row_of(change.get("identity"))
    };
    let Some(row) = record.as_ref().or(old.as_ref()) else {
        return Ok(());
    };
    let candidates = state.hub.candidates(schema, table, kind, row);
    if candidates.is_empty() {
        return Ok(());
    }
    // One RLS evaluation per distinct set of claims, in one round trip.
    let mut distinct: Vec<Value> = Vec::new();
    for sub in &candidates {
        if !distinct.contains(&sub.claims) {
            distinct.push(sub.claims.clone());
        }
    }
    let qualified = format!("{}.{}", quote(schema), quote(table));
    let record_json = record.clone().map(Value::Object);
    let old_json = old.clone().map(Value::Object);
    let verdict = client
        .query_one(
            "select record_out, old_out, visible, commit_timestamp from rockon_devserver.fan_out($1::text::regclass, $2::json, $3::json, $4::jsonb[], $5::text)",
            &[&qualified, &record_json, &old_json, &distinct, &committed],
        )
        .await
        .map_err(|e| db::describe(&e))?;
    let record_out: Option<Value> = verdict.get(0);
    let old_out: Option<Value> = verdict.get(1);
    let visible: Vec<bool> = verdict.get(2);
    let commit_timestamp: String = verdict.get(3);
    let secured = state.schema.table(table).is_some_and(|t| t.row_security);
    // With RLS on, the real server sends only the primary key of the old row.
    let old_record = old_out.map(|old| match (secured, old.get("id")) {
        (true, Some(id)) => json!({ "id": id }),
        _ => old,
    });
    let columns: Vec<Value> = change
        .get(if kind == "DELETE" {
            "identity"
        } else {
            "columns"
        })
        .and_then(Value::as_array)
        .map(|cols| {
            cols.iter()
                .map(|c| json!({"name": text(c, "name"), "type": text(c, "type")}))
                .collect()
        })
        .unwrap_or_default();
    let mut data = json!({
        "schema": schema,
        "table": table,
        "commit_timestamp": commit_timestamp,
        "type": kind,
        "columns": columns,
        "errors": null,
    });
    if let Some(record) = record_out {
        data["record"] = record;
    }
    if let Some(old) = old_record {
        data["old_record"] = old;
    }
    if data.to_string().len() > state.max_change_bytes {
        if let Some(object) = data.as_object_mut() {
            object.remove("record");
            object.insert("errors".into(), json!(["Error 413: Payload Too Large"]));
        }
    }
    // One message per socket and channel, carrying every matching binding id.
    let mut grouped: BTreeMap<(u64, String), (Vec<u64>, &Subscription)> = BTreeMap::new();
    for sub in &candidates {
        let index = distinct
            .iter()
            .position(|c| c == &sub.claims)
            .expect("collected above");
        if visible.get(index).copied().unwrap_or(false) {
            let entry = grouped
                .entry((sub.conn, sub.topic.clone()))
                .or_insert_with(|| (Vec::new(), sub));
            entry.0.push(sub.binding_id);
        }
    }
    for ((_, topic), (ids, sub)) in grouped {
        let payload = json!({"ids": ids, "data": data});
        sub.outbox
            .send(None, None, &topic, "postgres_changes", payload);
    }
    Ok(())
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}
