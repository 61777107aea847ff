//! Working together on a band's rows: resolving conflicts, the activity feed, and who is
//! editing what.

use super::client::SyncClient;
use super::coordinator::TabMessage;
use super::error::SyncError;
use super::events::json;
use crate::io::store::from_js;
use crate::io::task::promise;
use crate::io::writer::WriteError;
use js_sys::{Promise, Reflect};
use rockon_sync_core::feed::FeedEntry;
use rockon_sync_core::json_text::{ObjectWriter, WriteJson};
use rockon_sync_core::merge::Resolution;
use rockon_sync_core::value::Value;
use wasm_bindgen::prelude::*;

/// Activity entries returned when `activity` is asked for no `limit`.
const DEFAULT_PAGE: usize = 50;

/// A feed entry as the app gets it: the stored entry and the author's display name.
struct ActivityItem<'a> {
    entry: &'a FeedEntry,
    author_name: Option<String>,
}

/// Someone editing a row.
struct EditorItem {
    user_id: String,
    name: Option<String>,
    sessions: usize,
}

impl WriteJson for ActivityItem<'_> {
    fn write_json(&self, out: &mut String) {
        let mut item = ObjectWriter::new(out);
        let fields = self.entry.write_fields(&mut item);
        fields.field("authorName", &self.author_name).end();
    }
}

impl WriteJson for EditorItem {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("userId", &self.user_id)
            .field("name", &self.name)
            .field("sessions", &self.sessions)
            .end();
    }
}

#[wasm_bindgen]
impl SyncClient {
    /// Settles a row's conflict: `'mine'` keeps the user's values for every field both sides
    /// changed (and brings back a row the server deleted), `'theirs'` keeps the server's, and
    /// an object sets chosen fields (`{ title: 'Wonderwall' }`, the app's field names). What
    /// the row does not hold yet is pushed as an ordinary conditional write; the conflict
    /// record goes. Rejects with `no_conflict`, `not_in_conflict` or `invalid_argument`.
    #[wasm_bindgen(js_name = resolveConflict)]
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn resolve_conflict(
        &self,
        table: String,
        id: String,
        #[wasm_bindgen(unchecked_param_type = "ConflictChoice")] choice: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let resolution = match from_js(&choice) {
                Ok(Value::String(choice)) if choice == "mine" => Resolution::KeepMine,
                Ok(Value::String(choice)) if choice == "theirs" => Resolution::KeepTheirs,
                Ok(Value::Object(fields)) => {
                    let spec = inner
                        .store
                        .schema()
                        .table(&table)
                        .map_err(|e| SyncError::new(e.code(), e.to_string()))?;
                    let wire = spec
                        .to_wire_write(&fields, false)
                        .map_err(|e| SyncError::new(e.code(), e.to_string()))?;
                    Resolution::Fields(wire)
                }
                _ => {
                    return Err(SyncError::new(
                        "invalid_argument",
                        "choice must be 'mine', 'theirs' or an object of field values",
                    )
                    .into())
                }
            };
            inner
                .writer
                .resolve_conflict(&table, &id, resolution)
                .await
                .map_err(|e: WriteError| JsValue::from(SyncError::new(e.code(), e.to_string())))?;
            inner.tabs.post(TabMessage::Outbox);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Other members' changes to a band, newest first, as kept here (the newest 200 per band
    /// survive reloads): `{ limit?: 50, before?: <entry id> }` pages back.
    #[wasm_bindgen(unchecked_return_type = "ActivityEntry[]")]
    pub fn activity(
        &self,
        band_id: &str,
        #[wasm_bindgen(unchecked_param_type = "ActivityOptions | undefined")] options: JsValue,
    ) -> JsValue {
        let field = |name: &str| Reflect::get(&options, &name.into()).ok();
        let limit = field("limit")
            .and_then(|v| v.as_f64())
            .map_or(DEFAULT_PAGE, |n| n.max(0.0) as usize);
        let before = field("before").and_then(|v| v.as_string());
        let activity = &self.inner.activity;
        let entries = activity.feed_page(band_id, limit, before.as_deref());
        let mut items: Vec<ActivityItem> = Vec::with_capacity(entries.len());
        for entry in &entries {
            items.push(ActivityItem {
                entry,
                author_name: activity.name_of(&entry.author),
            });
        }
        json(&items)
    }

    /// How many of a band's activity entries are unread.
    #[wasm_bindgen(js_name = activityUnread)]
    pub fn activity_unread(&self, band_id: &str) -> u32 {
        self.inner.activity.feed_unread(band_id) as u32
    }

    /// Marks a band's activity entries read (`ids`, or all of them), and their rows with them:
    /// the unread marks and the feed agree. Returns how many entries were unread.
    #[wasm_bindgen(js_name = markActivityRead)]
    pub fn mark_activity_read(
        &self,
        band_id: &str,
        #[wasm_bindgen(unchecked_param_type = "string[] | undefined")] ids: JsValue,
    ) -> Result<u32, JsValue> {
        let ids: Option<Vec<String>> = if ids.is_undefined() || ids.is_null() {
            None
        } else {
            let ids = from_js(&ids).ok();
            let ids = ids.as_ref().and_then(rockon_sync_core::fields::strings);
            Some(ids.ok_or_else(|| {
                SyncError::new("invalid_argument", "ids must be an array of entry ids")
            })?)
        };
        let count = self.inner.activity.mark_feed_read(band_id, ids.as_deref());
        Ok(count as u32)
    }

    /// The other members editing row `id` of `table` now (from presence: an app tracks
    /// `editing: { table, id }` in `setPresence`).
    #[wasm_bindgen(unchecked_return_type = "Editor[]")]
    pub fn editors(&self, table: &str, id: &str) -> JsValue {
        let me = &self.inner.user_id;
        let name = |user: &str| self.inner.activity.name_of(user);
        let mut items: Vec<EditorItem> = Vec::new();
        if self.inner.tabs.is_leader() {
            for member in self.inner.reader.editors(table, id, me) {
                items.push(EditorItem {
                    name: name(&member.user_id),
                    user_id: member.user_id,
                    sessions: member.sessions,
                });
            }
        } else {
            // A follower knows presence as the leading tab relayed it.
            for members in self.inner.tabs.all_remote_members().iter() {
                let Ok(Value::Array(members)) = from_js(members) else {
                    continue;
                };
                for m in members {
                    let Some(user) = m["userId"].as_str().filter(|user| *user != me) else {
                        continue;
                    };
                    if m["editing"]["table"] == table && m["editing"]["id"] == id {
                        items.push(EditorItem {
                            name: name(user),
                            user_id: user.to_owned(),
                            sessions: m["sessions"].as_u64().unwrap_or(1) as usize,
                        });
                    }
                }
            }
        }
        json(&items)
    }
}
