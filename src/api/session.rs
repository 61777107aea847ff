//! Ending the user's session in this browser.

use super::client::{store_error, SyncClient};
use super::coordinator::TabMessage;
use super::error::SyncError;
use super::events::object;
use crate::io::store::Store;
use crate::io::task::promise;
use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
impl SyncClient {
    /// Signs the user out of this browser: closes this client, tells the user's other tabs
    /// (they close and emit `signedOut`), and deletes the user's IndexedDB database, so the
    /// next person at this device finds none of their rows. Resolves to the number of pending
    /// writes dropped.
    ///
    /// Writes not yet on the server would be lost, so while there are any it rejects with
    /// `pending_writes` (saying how many) and changes nothing, unless called with
    /// `{ dropPendingWrites: true }`. Revoking the session on the server is the auth
    /// library's part (`supabase.auth.signOut()`).
    #[wasm_bindgen(js_name = signOut)]
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn sign_out(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SignOutOptions | undefined")] options: JsValue,
    ) -> Promise {
        let drop_pending = Reflect::get(&options, &"dropPendingWrites".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let inner = self.inner.clone();
        promise(async move {
            // Another tab may have appended since this tab last looked.
            let pending = inner
                .writer
                .stored_entries()
                .await
                .map_err(store_error)?
                .len();
            if pending > 0 && !drop_pending {
                return Err(SyncError::new(
                    "pending_writes",
                    format!(
                        "{pending} write(s) are not on the server yet: let them sync, or call \
                         signOut({{ dropPendingWrites: true }}) to drop them"
                    ),
                )
                .into());
            }
            inner.tabs.post(TabMessage::SignedOut);
            SyncClient {
                inner: inner.clone(),
            }
            .close();
            Store::delete(&inner.database).await.map_err(store_error)?;
            Ok((pending as u32).into())
        })
    }

    /// In a tab told that the user signed out elsewhere: tell the app, then close.
    pub(super) fn signed_out_elsewhere(&self) {
        let event = object(&[("type", "signedOut".into())]);
        self.inner.listeners.deliver(&event);
        self.close();
    }
}
