//! What a developer dashboard needs: local against server counts, the outbox, the sync log,
//! and the levers (force a sync, purge the cache, export everything).

use super::client::{store_error, SyncClient};
use super::coordinator::TabCommand;
use super::error::SyncError;
use super::events::object;
use crate::io::http;
use crate::io::store::{to_js, CONFLICTS, OUTBOX, READ_MARKS};
use crate::io::task::promise;
use js_sys::{Array, Promise};
use rockon_sync_core::outbox::{HttpRequest, HttpResult};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
impl SyncClient {
    /// Figures for a dashboard: `{ tables: [{ table, bandId, local, server }], outbox,
    /// conflicts, unread, connection, log }`. `local` and `server` count live rows (not
    /// deleted); `server` is `null` when the server cannot be asked (offline).
    #[wasm_bindgen(unchecked_return_type = "Promise<SyncStats>")]
    pub fn stats(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let schema = inner.store.schema().clone();
            let endpoint = inner.reader.endpoint();
            let info = inner.reader.info();
            let tables = Array::new();
            for band in &info.bands {
                for table in &schema.tables {
                    let live = inner
                        .store
                        .list(&table.name, band)
                        .await
                        .map_err(store_error)?;
                    crate::io::rows::drop_deleted(&live);
                    let request = HttpRequest::get(format!(
                        "/rest/v1/{}?select=id&{}=eq.{}&deleted_at=is.null",
                        table.name,
                        table.scope,
                        rockon_sync_core::percent_encode(band)
                    ));
                    let server = match http::send(&endpoint, &request).await {
                        HttpResult::Response { status: 200, body } => {
                            rockon_sync_core::fields::array(&body)
                                .map_or(JsValue::NULL, |rows| (rows.len() as u32).into())
                        }
                        _ => JsValue::NULL,
                    };
                    tables.push(&object(&[
                        ("table", table.name.as_str().into()),
                        ("bandId", band.as_str().into()),
                        ("local", live.length().into()),
                        ("server", server),
                    ]));
                }
            }
            let conflicts = inner.store.conflicts().await.map_err(store_error)?;
            let storage = crate::io::storage::estimate()
                .await
                .map_or(JsValue::NULL, |estimate| to_js(&estimate));
            Ok(object(&[
                ("tables", tables.into()),
                ("storage", storage),
                ("outbox", to_js(&inner.writer.entries())),
                ("conflicts", conflicts.length().into()),
                ("unread", to_js(&inner.activity.counts())),
                ("connection", to_js(&info)),
                ("log", inner.listeners.log().into()),
            ]))
        })
    }

    /// The sync log: recent changes, connection changes, conflicts and errors, oldest first,
    /// each event with `at` (epoch milliseconds).
    #[wasm_bindgen(js_name = syncLog)]
    #[wasm_bindgen(unchecked_return_type = "(SyncEvent & { at: number })[]")]
    pub fn sync_log(&self) -> Array {
        self.inner.listeners.log()
    }

    /// Syncs now: pending pushes go without waiting out a backoff, and every followed band
    /// is pulled from its cursor.
    #[wasm_bindgen(js_name = forceSync)]
    pub fn force_sync(&self) {
        if self.inner.tabs.relay(TabCommand::ForceSync) {
            return;
        }
        self.inner.writer.set_online(true);
        for band in self.inner.reader.info().bands {
            self.inner.reader.pull(&band);
        }
    }

    /// Empties the local cache — rows, cursors, unread marks, cached names — except rows
    /// with pending writes, which stay with their outbox entries; then downloads every
    /// followed band again. Resolves to the number of rows removed.
    #[wasm_bindgen(js_name = purgeLocal)]
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn purge_local(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let keep = inner.writer.driver().engine().cache_keeps();
            let removed = inner.store.clear_cache(&keep).await.map_err(store_error)?;
            let count = removed.iter().map(|(_, _, ids)| ids.len()).sum::<usize>();
            inner
                .writer
                .driver()
                .run(|engine| engine.cache_purged(removed));
            Ok((count as u32).into())
        })
    }

    /// Everything stored locally as one JSON text: `{ exportedAt, userId, tables: { [table]:
    /// Row[] }, outbox, conflicts, unread }`.
    #[wasm_bindgen(js_name = exportJson)]
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn export_json(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let store = &inner.store;
            let all = |name| async move {
                let records = store.all(name).await.map_err(store_error)?;
                Ok::<JsValue, JsValue>(records.into())
            };
            let mut tables = Vec::new();
            for table in &store.schema().tables {
                tables.push((table.name.as_str(), all(&table.name).await?));
            }
            let export = object(&[
                ("exportedAt", js_sys::Date::new_0().to_iso_string().into()),
                ("userId", inner.user_id.as_str().into()),
                ("tables", object(&tables)),
                ("outbox", all(OUTBOX).await?),
                ("conflicts", all(CONFLICTS).await?),
                ("unread", all(READ_MARKS).await?),
            ]);
            let text =
                js_sys::JSON::stringify_with_replacer_and_space(&export, &JsValue::NULL, &2.into())
                    .map_err(|_| SyncError::new("export_failed", "the data is not JSON"))?;
            Ok(text.into())
        })
    }
}
