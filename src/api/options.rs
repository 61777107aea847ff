//! The options `SyncClient.open` and `list` take, as JavaScript passes them.

use super::error::SyncError;
pub use crate::io::reader::ChangeDelivery;
use rockon_sync_core::merge::ConflictPolicy;
use rockon_sync_core::notify::{NotifyConfig, Policy};
use rockon_sync_core::schema::Schema;
use serde::Deserialize;
use serde_json::Value;

/// Options of `SyncClient.open`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    /// The project URL.
    pub supabase_url: String,
    /// The project's anon key.
    pub anon_key: String,
    /// The signed-in user's access token.
    pub access_token: String,
    /// The signed-in user's id.
    pub user_id: String,
    /// The synced tables; RockOn's by default.
    #[serde(default)]
    pub schema: Option<Schema>,
    /// Who wins a field both sides changed.
    #[serde(default)]
    pub conflict_policy: ConflictPolicy,
    /// Defaults to `rockon-sync:<userId>`.
    #[serde(default)]
    pub database_name: Option<String>,
    /// First retry delay (doubling to 60 s); tests shorten it.
    #[serde(default)]
    pub retry_initial_ms: Option<u64>,
    /// Failed socket connects before falling back to REST polling (default 3).
    #[serde(default)]
    pub poll_after_failed_connects: Option<u32>,
    /// Milliseconds between REST polls while the socket is down (default 30,000).
    #[serde(default)]
    pub poll_interval_ms: Option<u32>,
    /// Milliseconds between anti-entropy pulls while the page is visible (default 60,000).
    #[serde(default)]
    pub anti_entropy_ms: Option<u32>,
    /// Ask the browser to keep the cache under storage pressure (default true).
    #[serde(default)]
    pub persist_storage: Option<bool>,
    /// Warn (`storage` event, `nearlyFull`) when this share of the quota is used (default 0.8).
    #[serde(default)]
    pub storage_warning_ratio: Option<f64>,
    /// Collect what a developer dashboard shows (requests, a persisted sync log, latencies);
    /// off by default.
    #[serde(default)]
    pub devtools: bool,
    /// How other members' changes arrive (Broadcast from Database by default).
    #[serde(default)]
    pub changes: ChangeDelivery,
    /// Notification batching and policy.
    #[serde(default)]
    pub notifications: NotificationOptions,
}

/// `notifications` of [`Options`]; unset fields keep the defaults.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct NotificationOptions {
    /// One author's changes within this window are one toast.
    pub window_ms: Option<u64>,
    /// At most this many toasts per period.
    pub max_toasts: Option<usize>,
    /// The rate cap's period.
    pub period_ms: Option<u64>,
    /// `"all"`, `"none"`, or the tables that make toasts.
    pub policy: Option<Value>,
    /// `null` turns connection toasts off.
    #[serde(default = "default_grace", deserialize_with = "nullable")]
    pub connection_grace_ms: Option<Option<u64>>,
}

fn default_grace() -> Option<Option<u64>> {
    None
}

fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

impl NotificationOptions {
    /// The core's notification settings.
    pub fn to_config(&self) -> Result<NotifyConfig, SyncError> {
        let defaults = NotifyConfig::default();
        let policy = match &self.policy {
            None => defaults.policy,
            Some(Value::String(all)) if all == "all" => Policy::All,
            Some(Value::String(none)) if none == "none" => Policy::None,
            Some(Value::Array(tables)) => Policy::Tables(
                tables
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect(),
            ),
            Some(other) => {
                return Err(SyncError::new(
                    "invalid_options",
                    format!(
                    "notifications.policy must be 'all', 'none' or a list of tables, not {other}"
                ),
                ))
            }
        };
        Ok(NotifyConfig {
            window_ms: self.window_ms.unwrap_or(defaults.window_ms),
            max_toasts: self.max_toasts.unwrap_or(defaults.max_toasts),
            period_ms: self.period_ms.unwrap_or(defaults.period_ms),
            policy,
            connection_grace_ms: self
                .connection_grace_ms
                .unwrap_or(defaults.connection_grace_ms),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListOptions {
    /// Include tombstones.
    #[serde(default)]
    pub include_deleted: bool,
    /// The column to sort by (either spelling).
    #[serde(default)]
    pub order_by: Option<String>,
    /// Sort descending.
    #[serde(default)]
    pub descending: bool,
    /// At most this many rows.
    #[serde(default)]
    pub limit: Option<usize>,
}
