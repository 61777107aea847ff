//! The guarantees, checked on a finished schedule.
//!
//! - Not lost: every acknowledged write is on the server, or was overtaken by a later write of
//!   the same device to the same field (the outbox folds unsent edits together), or is kept
//!   visible: its entry failed, or a conflict record holds the user's value.
//! - Not duplicated: no value a write set was set on the server twice (each value is unique
//!   to one write, so a second assignment is the same write applied again).
//! - Not diverged: no write is left pending once the faults have been over for the settle
//!   bound, and after a final catch-up every device's rows equal the server's (but rows its failed writes keep).

use super::world::{Ack, World, SETTLE_BOUND_MS};
use rockon_sync_core::value::Value;
use std::collections::BTreeMap;

/// The result of one schedule.
#[derive(Debug)]
pub struct Outcome {
    /// The schedule's seed.
    pub seed: u64,
    /// Writes acknowledged to the app.
    pub acknowledged: usize,
    /// Faults injected.
    pub faults: u32,
    /// What broke.
    pub verdict: Verdict,
    /// The schedule's trace, for a failing report.
    pub trace: Vec<String>,
}

/// What broke, if anything.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Acknowledged writes neither on the server nor visibly kept.
    pub lost: Vec<String>,
    /// Values set on the server more than once.
    pub duplicated: Vec<String>,
    /// Devices whose rows differ from the server's, or writes left pending.
    pub diverged: Vec<String>,
}

impl Verdict {
    /// Whether every guarantee held.
    pub fn is_ok(&self) -> bool {
        self.lost.is_empty() && self.duplicated.is_empty() && self.diverged.is_empty()
    }
}

/// Checks a finished world.
pub fn check(world: &World) -> Outcome {
    let mut world_after = Verdict::default();
    duplicates(world, &mut world_after);
    lost(world, &mut world_after);
    diverged(world, &mut world_after);
    Outcome {
        seed: world.seed,
        acknowledged: world.writes.iter().filter(|w| w.acknowledged).count(),
        faults: world.faults,
        verdict: world_after,
        trace: world.trace.clone(),
    }
}

fn duplicates(world: &World, verdict: &mut Verdict) {
    let mut seen: BTreeMap<(&str, &str, &str, String), u32> = BTreeMap::new();
    for (table, id, field, value) in &world.server.history {
        // Only the values the workload made unique: titles and notes.
        if field == "title" || field == "notes" {
            *seen
                .entry((table, id, field, value.to_string()))
                .or_default() += 1;
        }
    }
    for ((_, id, field, value), count) in seen {
        if count > 1 {
            verdict
                .duplicated
                .push(format!("{id}.{field} = {value} set {count} times"));
        }
    }
}

fn on_server(world: &World, ack: &Ack, field: &str, value: &Value) -> bool {
    world.server.history.iter().any(|(t, id, f, v)| {
        *t == ack.write.table && *id == ack.write.id && f == field && v == value
    })
}

/// Whether write `index` reached the server, or is kept visibly, for `field` (all of a remove).
fn landed_or_kept(world: &World, index: usize, field: &str) -> bool {
    let ack = &world.writes[index];
    if ack.write.kind == "remove" {
        let row = world
            .server
            .rows
            .get(&ack.write.table)
            .and_then(|rows| rows.get(&ack.write.id));
        return match row {
            Some(row) => row.get("deleted_at").is_some_and(|d| !d.is_null()),
            // Created and deleted on this device before the server saw it.
            None => world.writes[..index].iter().any(|earlier| {
                earlier.device == ack.device
                    && earlier.write.id == ack.write.id
                    && earlier.write.kind == "create"
            }),
        } || kept_visibly(world, ack, "", &Value::Null)
            || withdrawn(world, ack, "", &Value::Null);
    }
    let Some(value) = ack.write.fields.get(field) else {
        return true;
    };
    on_server(world, ack, field, value)
        || kept_visibly(world, ack, field, value)
        || overtaken(world, index, field)
        || withdrawn(world, ack, field, value)
}

/// Whether the app discarded the entry that held the write's value (all of a remove).
fn withdrawn(world: &World, ack: &Ack, field: &str, value: &Value) -> bool {
    world.withdrawn.iter().any(|(device, row, delete, fields)| {
        *device == ack.device
            && *row == ack.write.id
            && match field {
                "" => *delete,
                _ => fields.get(field) == Some(value),
            }
    })
}

/// Whether write `later` came after write `earlier`: by the order of acknowledgement when
/// both were acknowledged (a command issued first may commit last), else by the order issued.
fn is_after(world: &World, later: usize, earlier: usize) -> bool {
    let (a, b) = (&world.writes[later], &world.writes[earlier]);
    if a.acknowledged && b.acknowledged {
        a.acknowledged_as > b.acknowledged_as
    } else {
        later > earlier
    }
}

/// Whether a later write of the same device (told the app or not: a reload may have taken the
/// answer) set `field` of the row, or deleted it, and that later write is accounted for: the
/// outbox folds unsent edits of a row into one.
fn overtaken(world: &World, index: usize, field: &str) -> bool {
    let ack = &world.writes[index];
    (0..world.writes.len()).any(|later| {
        let write = &world.writes[later];
        let same_field = write.device == ack.device
            && write.write.id == ack.write.id
            && (write.write.kind == "remove" || write.write.fields.contains_key(field));
        // Two tabs' edits issued in the same millisecond: neither is the user's last, and
        // keeping either keeps the user's value (the engine orders them by sequence number).
        let simultaneous = write.issued_ms == ack.issued_ms
            && (write.write.fields.get(field)).is_some_and(|v| {
                on_server(world, write, field, v) || kept_visibly(world, write, field, v)
            });
        later != index
            && same_field
            && (simultaneous
                || (is_after(world, later, index) && landed_or_kept(world, later, field)))
    })
}

/// Whether the device keeps the value visibly: in a failed entry or a conflict record.
fn kept_visibly(world: &World, ack: &Ack, field: &str, value: &Value) -> bool {
    let store = &world.devices[ack.device].store;
    // A failed entry holds the row's later entries back: the row shows as failed, and the
    // user's retry or discard decides for all of them.
    let row_failed = store
        .outbox
        .values()
        .any(|entry| entry.row_id == ack.write.id && entry.failed.is_some());
    let in_failed_entry = row_failed
        && store.outbox.values().any(|entry| {
            entry.row_id == ack.write.id
                && (field.is_empty() || entry.fields.get(field) == Some(value))
        });
    let in_conflict = store.conflicts.values().any(|record| {
        record.row_id == ack.write.id
            && (field.is_empty() || record.local.get(field) == Some(value))
    });
    in_failed_entry || in_conflict
}

/// Whether the device deleted the row after write `index`.
fn deleted_later(world: &World, index: usize) -> bool {
    let ack = &world.writes[index];
    world.writes[index + 1..].iter().any(|later| {
        later.device == ack.device && later.write.id == ack.write.id && later.write.kind == "remove"
    })
}

fn lost(world: &World, verdict: &mut Verdict) {
    for (index, ack) in world.writes.iter().enumerate() {
        if !ack.acknowledged {
            continue;
        }
        let accounted = if ack.write.kind == "remove" {
            landed_or_kept(world, index, "")
        } else {
            let row_gone = ack.write.kind == "create"
                && !world
                    .server
                    .rows
                    .get(&ack.write.table)
                    .is_some_and(|rows| rows.contains_key(&ack.write.id));
            // A create the device deleted before it was ever sent was withdrawn, not lost.
            (row_gone && deleted_later(world, index))
                || ack.write.fields.keys().all(|field| {
                    field == "id" || field == "band_id" || landed_or_kept(world, index, field)
                })
        };
        if !accounted {
            verdict.lost.push(format!(
                "{} {} {:?} by {}",
                ack.write.kind, ack.write.id, ack.write.fields, world.devices[ack.device].user
            ));
        }
    }
}

fn diverged(world: &World, verdict: &mut Verdict) {
    if world.livelocked {
        verdict
            .diverged
            .push("still busy after the step bound: a livelock".to_owned());
    }
    for device in &world.devices {
        // Only the server's readable answer says the user left a band (memberships never
        // change in the simulation): a write parked as `not_a_member` lost its way.
        let not_a_member =
            device.store.outbox.values().filter(|e| {
                e.failed.as_ref().and_then(|f| f.code.as_deref()) == Some("not_a_member")
            });
        for entry in not_a_member {
            verdict.diverged.push(format!(
                "{}: write {} of {} parked as not a member of a band the user is in",
                device.user, entry.seq, entry.row_id
            ));
        }
        let held_back = |row: &str, seq: u64| {
            device
                .store
                .outbox
                .values()
                .any(|e| e.row_id == row && e.seq < seq && e.failed.is_some())
        };
        let pending = device.store.outbox.values().filter(|e| e.failed.is_none());
        for entry in pending.filter(|e| !held_back(&e.row_id, e.seq)) {
            verdict.diverged.push(format!(
                "{}: write {} of {} ({:?} {:?}, attempts {}) still pending {SETTLE_BOUND_MS} ms after the faults stopped",
                device.user, entry.seq, entry.row_id, entry.op, entry.fields, entry.attempts
            ));
        }
        let kept = |id: &str| {
            device.store.outbox.values().any(|e| e.row_id == id)
                || device
                    .store
                    .conflicts
                    .values()
                    .any(|c| c.row_id == id && c.deleted_remotely)
        };
        let server: BTreeMap<String, _> = world
            .server
            .visible_rows(&device.user)
            .into_iter()
            .map(|(table, row)| {
                let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
                (format!("{table}/{id}"), row)
            })
            .collect();
        for (table, rows) in device.store.rows.iter() {
            for (id, local) in rows.iter() {
                if kept(id) {
                    continue;
                }
                match server.get(&format!("{table}/{id}")) {
                    Some(remote) if remote == local => {}
                    Some(remote) => verdict.diverged.push(format!(
                        "{}: {table}/{id} is {local:?}, the server has {remote:?}",
                        device.user
                    )),
                    None => verdict.diverged.push(format!(
                        "{}: {table}/{id} is not on the server",
                        device.user
                    )),
                }
            }
        }
        for key in server.keys() {
            let (table, id) = key.split_once('/').unwrap_or_default();
            if device.store.row(table, id).is_none() {
                verdict
                    .diverged
                    .push(format!("{}: {key} missing", device.user));
            }
        }
    }
}
