//! The change stream: committed changes arrive from a wal2json logical replication slot over
//! the streaming replication protocol (PostgreSQL's own `pg_recvlogical` holds the walsender
//! connection, so each change is decoded once, the moment it commits), and each is delivered,
//! in commit order, to the subscriptions whose filters match and whose claims pass row-level
//! security for that row.
//!
//! Polling `pg_logical_slot_get_changes` instead re-decodes the WAL from the slot's restart
//! point on every call (it advances only every ~15 s), which capped throughput near 100
//! changes/s with latencies in the hundreds of milliseconds.

use super::hub::Subscription;
use crate::db;
use crate::state::AppState;
use rockon_sync_core::value::Value as CoreValue;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const PG_RECVLOGICAL: &str = "/usr/lib/postgresql/15/bin/pg_recvlogical";

/// Runs the stream until the process ends, restarting it after errors or on request.
pub async fn run(state: Arc<AppState>, database_url: String) {
    loop {
        match stream(&state, &database_url).await {
            Ok(()) => eprintln!("realtime: change stream restarted"),
            Err(error) => {
                eprintln!("realtime: change stream failed: {error}; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Row-level security for the subscribers' roles: table → role → SQL condition.
type Policies = BTreeMap<String, BTreeMap<String, String>>;

async fn load_policies(client: &tokio_postgres::Client) -> Result<Policies, String> {
    let rows = client
        .query(
            "select c.relname::text, r.role::text,
                    case when not c.relrowsecurity or r.role = 'service_role' then 'true'
                         else coalesce((select string_agg('(' || coalesce(p.qual, 'true') || ')', ' or ')
                                        from pg_policies p
                                        where p.schemaname = 'public' and p.tablename = c.relname
                                          and p.cmd in ('SELECT', 'ALL') and p.permissive = 'PERMISSIVE'
                                          and (r.role = any (p.roles) or 'public' = any (p.roles))), 'false')
                    end
             from pg_class c
             join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
             cross join unnest(array['anon', 'authenticated', 'service_role']) as r(role)
             where c.relkind in ('r', 'p')",
            &[],
        )
        .await
        .map_err(|e| db::describe(&e))?;
    let mut policies = Policies::new();
    for row in rows {
        policies
            .entry(row.get(0))
            .or_default()
            .insert(row.get(1), row.get(2));
    }
    Ok(policies)
}

async fn stream(state: &AppState, database_url: &str) -> Result<(), String> {
    let (client, connection) = db::connect(database_url).await?;
    let driver = tokio::spawn(connection);
    let policies = load_policies(&client).await?;
    let published: Vec<(String, String)> = client
        .query(
            "select schemaname::text, tablename::text from pg_publication_tables where pubname = 'supabase_realtime'",
            &[],
        )
        .await
        .map_err(|e| db::describe(&e))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    // A fresh slot each time, as the real server keeps no queue: changes committed while the
    // stream was down are lost, and clients must catch up over REST.
    let slot = format!("rockon_devserver_{}", std::process::id());
    // Slots of earlier runs on a shared database (a restart, a crash) would hold WAL forever.
    let _ = client
        .execute(
            "select pg_drop_replication_slot(slot_name) from pg_replication_slots
             where slot_name like 'rockon\\_devserver\\_%' and not active",
            &[],
        )
        .await;
    client
        .query_one(
            "select pg_create_logical_replication_slot($1, 'wal2json')",
            &[&slot],
        )
        .await
        .map_err(|e| db::describe(&e))?;
    // From here on every commit is retained in the slot and will be decoded.
    state.hub.set_stream_ready(true);
    let mut receiver = Command::new(PG_RECVLOGICAL)
        .args([
            "--dbname",
            database_url,
            "--slot",
            &slot,
            "--start",
            "--no-loop",
            "-f",
            "-",
        ])
        .args([
            "-o",
            "format-version=2",
            "-o",
            "include-timestamp=1",
            "-o",
            "include-types=1",
        ])
        .args([
            "-o",
            "add-tables=public.*,realtime.messages",
            "--status-interval=10",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            state.hub.set_stream_ready(false);
            format!("starting {PG_RECVLOGICAL}: {e}")
        })?;
    let stdout = receiver.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut committed = String::new();
    let outcome = loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => {
                    let Ok(change) = serde_json::from_str::<Value>(&line) else { continue };
                    match change.get("action").and_then(Value::as_str) {
                        Some("B") => committed = text(&change, "timestamp").to_owned(),
                        Some(action @ ("I" | "U" | "D")) => {
                            let schema = text(&change, "schema");
                            let table = text(&change, "table");
                            if (schema, table, action) == ("realtime", "messages", "I") {
                                send_message(state, &change);
                            } else if published.iter().any(|(s, t)| s == schema && t == table) {
                                let at = change.get("timestamp").and_then(Value::as_str).unwrap_or(&committed).to_owned();
                                if let Err(error) = deliver(state, &client, &policies, action, &change, &at).await {
                                    break Err(error);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                Ok(None) => break Err("pg_recvlogical ended".to_owned()),
                Err(error) => break Err(error.to_string()),
            },
            _ = state.faults.restart_stream.notified() => break Ok(()),
        }
    };
    state.hub.set_stream_ready(false);
    let _ = receiver.kill().await;
    let _ = client
        .execute("select pg_drop_replication_slot($1)", &[&slot])
        .await;
    driver.abort();
    outcome
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
    policies: &Policies,
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
    if state.faults.take_dropped_change() {
        // Lost on the way, as hosted Realtime may lose a change: nobody is told.
        return Ok(());
    }
    // One RLS evaluation per distinct set of claims, in one round trip.
    let mut distinct: Vec<Value> = Vec::new();
    for sub in &candidates {
        if !distinct.contains(&sub.claims) {
            distinct.push(sub.claims.clone());
        }
    }
    let conditions: Vec<String> = distinct
        .iter()
        .map(|claims| {
            let role = claims.get("role").and_then(Value::as_str).unwrap_or("anon");
            policies
                .get(table)
                .and_then(|roles| roles.get(role))
                .cloned()
                .unwrap_or_else(|| "false".to_owned())
        })
        .collect();
    let qualified = format!("{}.{}", quote(schema), quote(table));
    let record_json = record.clone().map(Value::Object);
    let old_json = old.clone().map(Value::Object);
    let verdict = client
        .query_one(
            "select record_out, old_out, visible, commit_timestamp from rockon_devserver.fan_out($1::text::regclass, $2::json, $3::json, $4::jsonb[], $5::text[], $6::text)",
            &[&qualified, &record_json, &old_json, &distinct, &conditions, &committed],
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
    // The change in the core's values once, not once per socket it goes to.
    let data = CoreValue::from(data);
    for ((_, topic), (ids, sub)) in grouped {
        let ids = ids.into_iter().map(CoreValue::from).collect();
        let payload = [("ids".to_owned(), ids), ("data".to_owned(), data.clone())];
        let payload = CoreValue::Object(payload.into_iter().collect());
        sub.outbox
            .send(None, None, &topic, "postgres_changes", payload);
    }
    Ok(())
}

/// Broadcast from Database: a message committed to `realtime.messages` goes to the members of
/// its topic, private or public as the message says. Private members were admitted at join
/// (and again at each new token) by the `realtime.messages` select policies; nothing is checked
/// per message, which is what makes this mode cheap for the database.
fn send_message(state: &AppState, change: &Value) {
    let Some(message) = row_of(change.get("columns")) else {
        return;
    };
    let field = |name: &str| message.get(name).and_then(Value::as_str).unwrap_or("");
    if field("extension") != "broadcast" {
        return;
    }
    if state.faults.take_dropped_change() {
        return;
    }
    let private = message
        .get("private")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let payload = json!({
        "type": "broadcast",
        "event": field("event"),
        "payload": message.get("payload").cloned().unwrap_or(Value::Null),
        "meta": {"id": message.get("id").cloned().unwrap_or(Value::Null)},
    });
    let topic = format!("realtime:{}", field("topic"));
    state.hub.broadcast_from_database(&topic, private, &payload);
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}
