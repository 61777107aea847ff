//! The options `SyncClient.open` and `list` take, as JavaScript passes them.

use super::error::SyncError;
pub use crate::io::reader::ChangeDelivery;
use rockon_sync_core::fields::Fields;
use rockon_sync_core::json_text::json_text;
use rockon_sync_core::merge::ConflictPolicy;
use rockon_sync_core::notify::{NotifyConfig, Policy};
use rockon_sync_core::schema::Schema;
use rockon_sync_core::sorted::SortedSet;
use rockon_sync_core::value::Value;

/// Options of `SyncClient.open`.
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
    pub schema: Option<Schema>,
    /// Who wins a field both sides changed.
    pub conflict_policy: ConflictPolicy,
    /// Defaults to `rockon-sync:<userId>`.
    pub database_name: Option<String>,
    /// First retry delay (doubling to 60 s); tests shorten it.
    pub retry_initial_ms: Option<u64>,
    /// How long a request may go without its whole answer before it is aborted and retried
    /// (default 30,000).
    pub request_timeout_ms: Option<u32>,
    /// Failed socket connects before falling back to REST polling (default 3).
    pub poll_after_failed_connects: Option<u32>,
    /// Milliseconds between REST polls while the socket is down (default 30,000).
    pub poll_interval_ms: Option<u32>,
    /// Milliseconds between anti-entropy pulls while the page is visible (default 60,000).
    pub anti_entropy_ms: Option<u32>,
    /// Ask the browser to keep the cache under storage pressure (default true).
    pub persist_storage: Option<bool>,
    /// Warn (`storage` event, `nearlyFull`) when this share of the quota is used (default 0.8).
    pub storage_warning_ratio: Option<f64>,
    /// Collect what a developer dashboard shows (requests, a persisted sync log, latencies);
    /// off by default.
    pub devtools: bool,
    /// How other members' changes arrive (Broadcast from Database by default).
    pub changes: ChangeDelivery,
    /// Notification batching and policy.
    pub notifications: NotificationOptions,
}

impl Options {
    /// Reads the options object (as JSON) an app passed; the error names the wrong field.
    pub fn read(value: &Value) -> Result<Options, String> {
        let options = Fields::of(value, "options")?;
        Ok(Options {
            supabase_url: options.string("supabaseUrl")?,
            anon_key: options.string("anonKey")?,
            access_token: options.string("accessToken")?,
            user_id: options.string("userId")?,
            schema: options.get("schema").map(Schema::from_json).transpose()?,
            conflict_policy: options
                .opt_choice("conflictPolicy", &ConflictPolicy::NAMED)?
                .unwrap_or_default(),
            database_name: options.opt_string("databaseName")?,
            retry_initial_ms: options.opt_u64("retryInitialMs")?,
            request_timeout_ms: options.opt_u32("requestTimeoutMs")?,
            poll_after_failed_connects: options.opt_u32("pollAfterFailedConnects")?,
            poll_interval_ms: options.opt_u32("pollIntervalMs")?,
            anti_entropy_ms: options.opt_u32("antiEntropyMs")?,
            persist_storage: options.opt_bool("persistStorage")?,
            storage_warning_ratio: options.opt_f64("storageWarningRatio")?,
            devtools: options.flag("devtools")?,
            changes: options
                .opt_choice("changes", &ChangeDelivery::NAMED)?
                .unwrap_or_default(),
            notifications: match options.get("notifications") {
                None => NotificationOptions::default(),
                Some(value) => NotificationOptions::read(value)?,
            },
        })
    }
}

/// `notifications` of [`Options`]; unset fields keep the defaults.
#[derive(Default)]
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
    pub connection_grace_ms: Option<Option<u64>>,
}

impl NotificationOptions {
    fn read(value: &Value) -> Result<NotificationOptions, String> {
        let notifications = Fields::of(value, "options.notifications")?;
        let max_toasts = notifications.opt_u32("maxToasts")?;
        // Absent keeps the default; `null` turns the toasts off.
        let connection_grace_ms = match value.get("connectionGraceMs") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => Some(notifications.opt_u64("connectionGraceMs")?),
        };
        Ok(NotificationOptions {
            window_ms: notifications.opt_u64("windowMs")?,
            max_toasts: max_toasts.map(|n| n as usize),
            period_ms: notifications.opt_u64("periodMs")?,
            policy: notifications.get("policy").cloned(),
            connection_grace_ms,
        })
    }

    /// The core's notification settings.
    pub fn to_config(&self) -> Result<NotifyConfig, SyncError> {
        let defaults = NotifyConfig::default();
        let policy = match &self.policy {
            None => defaults.policy,
            Some(Value::String(all)) if all == "all" => Policy::All,
            Some(Value::String(none)) if none == "none" => Policy::None,
            Some(Value::Array(tables)) => {
                let mut names = SortedSet::new();
                for table in tables {
                    if let Some(name) = table.as_str() {
                        names.insert(name.to_owned());
                    }
                }
                Policy::Tables(names)
            }
            Some(other) => {
                return Err(SyncError::new(
                    "invalid_options",
                    format!(
                        "notifications.policy must be 'all', 'none' or a list of tables, not {}",
                        json_text(other)
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

/// Options of `SyncClient.list`.
#[derive(Default)]
pub struct ListOptions {
    /// Include tombstones.
    pub include_deleted: bool,
    /// The column to sort by (either spelling).
    pub order_by: Option<String>,
    /// Sort descending.
    pub descending: bool,
    /// At most this many rows.
    pub limit: Option<usize>,
}

impl ListOptions {
    /// Reads the options object (as JSON) an app passed; the error names the wrong field.
    pub fn read(value: &Value) -> Result<ListOptions, String> {
        let options = Fields::of(value, "options")?;
        Ok(ListOptions {
            include_deleted: options.flag("includeDeleted")?,
            order_by: options.opt_string("orderBy")?,
            descending: options.flag("descending")?,
            limit: options.opt_u32("limit")?.map(|n| n as usize),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rockon_sync_core::value::json;

    fn required() -> Value {
        json!({ "supabaseUrl": "http://127.0.0.1:1", "anonKey": "anon", "accessToken": "t", "userId": "u" })
    }

    #[test]
    fn unset_options_keep_their_defaults() {
        let options = Options::read(&required()).unwrap();
        assert_eq!(options.supabase_url, "http://127.0.0.1:1");
        assert_eq!(options.anon_key, "anon");
        assert_eq!(options.access_token, "t");
        assert_eq!(options.user_id, "u");
        assert!(options.schema.is_none() && options.database_name.is_none());
        assert_eq!(options.conflict_policy, ConflictPolicy::ServerWins);
        assert_eq!(options.changes, ChangeDelivery::Broadcast);
        assert!(!options.devtools);
        let notify = options.notifications.to_config().unwrap();
        assert_eq!(notify, NotifyConfig::default());
    }

    #[test]
    fn every_option_is_read_by_its_name() {
        let mut value = required();
        let set = json!({
            "schema": serde_json::from_str::<Value>(&rockon_sync_core::json_text::json_text(&Schema::rockon())).unwrap(),
            "conflictPolicy": "clientWins", "databaseName": "db", "retryInitialMs": 5,
            "requestTimeoutMs": 700, "pollAfterFailedConnects": 2, "pollIntervalMs": 300, "antiEntropyMs": 400,
            "persistStorage": false, "storageWarningRatio": 0.5, "devtools": true,
            "changes": "postgres_changes",
            "notifications": { "windowMs": 10, "maxToasts": 2, "periodMs": 20, "policy": ["songs"], "connectionGraceMs": 30 },
        });
        value
            .as_object_mut()
            .unwrap()
            .extend(set.as_object().unwrap().clone());
        let options = Options::read(&value).unwrap();
        assert_eq!(options.schema, Some(Schema::rockon()));
        assert_eq!(options.conflict_policy, ConflictPolicy::ClientWins);
        assert_eq!(options.database_name.as_deref(), Some("db"));
        assert_eq!(options.retry_initial_ms, Some(5));
        assert_eq!(options.request_timeout_ms, Some(700));
        assert_eq!(options.poll_after_failed_connects, Some(2));
        assert_eq!(options.poll_interval_ms, Some(300));
        assert_eq!(options.anti_entropy_ms, Some(400));
        assert_eq!(options.persist_storage, Some(false));
        assert_eq!(options.storage_warning_ratio, Some(0.5));
        assert!(options.devtools);
        assert_eq!(options.changes, ChangeDelivery::PostgresChanges);
        let notify = options.notifications.to_config().unwrap();
        assert_eq!(
            notify,
            NotifyConfig {
                window_ms: 10,
                max_toasts: 2,
                period_ms: 20,
                policy: Policy::Tables(["songs".to_owned()].into_iter().collect()),
                connection_grace_ms: Some(30),
            }
        );
    }

    #[test]
    fn a_null_grace_turns_connection_toasts_off() {
        let mut value = required();
        value["notifications"] = json!({ "connectionGraceMs": null, "policy": "none" });
        let notify = Options::read(&value)
            .unwrap()
            .notifications
            .to_config()
            .unwrap();
        assert_eq!(notify.connection_grace_ms, None);
        assert_eq!(notify.policy, Policy::None);
    }

    #[test]
    fn a_wrong_option_is_refused_naming_it() {
        let cases = [
            ("userId", json!(null), "options.userId is required"),
            ("retryInitialMs", json!(-1), "options.retryInitialMs must be a whole number of at least 0, not a number"),
            ("devtools", json!("yes"), "options.devtools must be true or false, not a string"),
            ("conflictPolicy", json!("lastWins"), "options.conflictPolicy must be one of 'serverWins', 'clientWins', not 'lastWins'"),
            ("notifications", json!({ "maxToasts": "2" }), "options.notifications.maxToasts must be a whole number of at least 0, not a string"),
            ("schema", json!({ "tables": 1 }), "schema.tables must be an array, not a number"),
        ];
        for (key, wrong, error) in cases {
            let mut value = required();
            value[key] = wrong;
            assert_eq!(Options::read(&value).err().as_deref(), Some(error), "{key}");
        }
    }

    #[test]
    fn list_options_are_read_by_their_names() {
        let options = ListOptions::read(
            &json!({ "includeDeleted": true, "orderBy": "title", "descending": true, "limit": 3 }),
        )
        .unwrap();
        assert!(options.include_deleted && options.descending);
        assert_eq!(options.order_by.as_deref(), Some("title"));
        assert_eq!(options.limit, Some(3));
        let unset = ListOptions::read(&json!({})).unwrap();
        assert!(!unset.include_deleted && !unset.descending);
        assert!(unset.order_by.is_none() && unset.limit.is_none());
        assert!(ListOptions::read(&json!({ "limit": -1 })).is_err());
    }
}
