//! Opening a client: checking the token against the user, opening the user's database, and
//! wiring the write path, the read path and the activity tracker to the app's listeners.

use super::client::{store_error, Inner, StorageWarning, SyncClient};
use super::coordinator::{Coordinator, TabMessage};
use super::error::SyncError;
use super::events::{parse, storage_event, storage_warning};
use super::listeners::Listeners;
use super::options::Options;
use crate::io::activity::{self, Activity};
use crate::io::devtools::Devtools;
use crate::io::driver::{Driver, Sinks};
use crate::io::http::Endpoint;
use crate::io::page_events::PageEvents;
use crate::io::reader::{self, Fallback, ReadEvent, Reader};
use crate::io::store::{from_js, Store};
use crate::io::task::promise;
use crate::io::writer::{self, Writer};
use js_sys::Promise;
use rockon_sync_core::backoff::BackoffPolicy;
use rockon_sync_core::outbox::REQUEST_TIMEOUT_MS;
use rockon_sync_core::schema::Schema;
use rockon_sync_core::sync::{app_events_json, Engine, Event, TabNews};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
impl SyncClient {
    /// Opens the client: `{ supabaseUrl, anonKey, accessToken, userId, schema?,
    /// conflictPolicy?: 'serverWins' | 'clientWins', databaseName?, retryInitialMs? }`.
    /// Resolves once the local database is open; pending writes resume pushing at once.
    #[wasm_bindgen(unchecked_return_type = "Promise<SyncClient>")]
    pub fn open(#[wasm_bindgen(unchecked_param_type = "OpenOptions")] options: JsValue) -> Promise {
        promise(async move { SyncClient::open_async(options).await.map(JsValue::from) })
    }

    /// [`open`](Self::open) for Rust callers.
    pub async fn open_async(options: JsValue) -> Result<SyncClient, JsValue> {
        open(options).await
    }
}

/// Opens the client `options` describe.
async fn open(options: JsValue) -> Result<SyncClient, JsValue> {
    let options = from_js(&options)
        .and_then(|options| Options::read(&options))
        .map_err(|message| SyncError::new("invalid_options", message))?;
    check_token(&options)?;
    let notify_config = options.notifications.to_config()?;
    let schema = options.schema.clone().unwrap_or_else(Schema::rockon);
    let name = options
        .database_name
        .clone()
        .unwrap_or_else(|| format!("rockon-sync:{}", options.user_id));
    let store = Store::open(&name, schema.clone())
        .await
        .map_err(store_error)?;
    let listeners = Listeners::default();
    let storage_warning = StorageWarning::default();
    let warning_ratio = options.storage_warning_ratio.unwrap_or(0.8);
    watch_storage(
        &options,
        &store,
        &listeners,
        &storage_warning,
        warning_ratio,
    );
    let devtools = open_devtools(&options, &store, &listeners);
    let endpoint = Endpoint {
        base_url: options.supabase_url.clone(),
        anon_key: options.anon_key.clone(),
        token: options.access_token.clone(),
        devtools: devtools.clone(),
        timeout_ms: options.request_timeout_ms.unwrap_or(REQUEST_TIMEOUT_MS),
    };
    let tabs = Rc::new(Coordinator::default());
    let driver = open_engine(&store, &endpoint, &options, notify_config).await?;
    let writer = Writer::new(driver.clone());
    let activity = Activity::new(driver.clone());
    let reader = Reader::new(driver.clone());
    driver.set_sinks(sinks(
        &listeners,
        &tabs,
        &schema,
        storage_warning.clone(),
        warning_ratio,
    ));
    reader.set_presence_key(&options.user_id);
    let inner = Rc::new(Inner {
        store,
        writer,
        reader,
        activity,
        listeners,
        page: std::cell::RefCell::new(None),
        user_id: options.user_id,
        database: name.clone(),
        tabs,
        storage_warning,
        devtools,
    });
    super::tabs::join(&inner, &name);
    attach_page(&inner);
    Ok(SyncClient { inner })
}

/// Off unless the app asks: nothing is recorded or persisted for a dashboard.
fn open_devtools(
    options: &Options,
    store: &Rc<Store>,
    listeners: &Listeners,
) -> Option<Rc<Devtools>> {
    let devtools = options.devtools.then(|| Devtools::new(store.clone()))?;
    let keep = devtools.clone();
    listeners.set_keep(Rc::new(move |entry| keep.log(entry.clone())));
    Some(devtools)
}

/// Online, offline, visible and hidden reach the client while it lives.
fn attach_page(inner: &Rc<Inner>) {
    let weak = Rc::downgrade(inner);
    let page = PageEvents::attach(move |event| {
        if let Some(inner) = weak.upgrade() {
            SyncClient { inner }.page_event(event);
        }
    });
    *inner.page.borrow_mut() = Some(page);
}

/// One user's database must never be opened (and pushed from) with another's token.
fn check_token(options: &Options) -> Result<(), JsValue> {
    match rockon_sync_core::jwt::subject(&options.access_token) {
        Ok(subject) if subject == options.user_id => Ok(()),
        Ok(_) => Err(SyncError::new(
            "user_mismatch",
            "the access token belongs to another user than `userId`",
        )
        .into()),
        Err(error) => Err(SyncError::new("invalid_token", error.to_string()).into()),
    }
}

/// How long after opening the storage manager is first asked about persistence and the quota.
const STORAGE_CHECK_DELAY_MS: u32 = 1_000;

/// Asks for persistent storage, warns when the quota runs short (both a second after opening),
/// and tells the app when the database closes or reopens underneath.
fn watch_storage(
    options: &Options,
    store: &Rc<Store>,
    listeners: &Listeners,
    warning: &StorageWarning,
    ratio: f64,
) {
    let persist = options.persist_storage.unwrap_or(true);
    let (sink, warning) = (listeners.clone(), warning.clone());
    crate::io::task::spawn(async move {
        // The app's first reads come right after opening, and the browser answers the storage
        // manager by looking at the origin's databases, which those reads then wait behind
        // (about 5 % of a cold start with 10,000 rows, `BENCH_ONLY=4 npm run bench`). Nothing
        // about the quota is urgent in the first second.
        gloo_timers::future::TimeoutFuture::new(STORAGE_CHECK_DELAY_MS).await;
        if persist {
            // Asked once per open; browsers remember the answer. Not awaited: Firefox may leave
            // it unanswered until the user decides, and the quota is checked meanwhile.
            crate::io::task::spawn(async {
                crate::io::storage::persist().await;
            });
        }
        warn_if_storage_short(&sink, &warning, ratio);
    });
    let sink = listeners.clone();
    store.set_listener(Rc::new(move |state| sink.emit(&storage_event(&state))));
}

/// The sync engine on what this device stored: the outbox, unread marks and feed.
async fn open_engine(
    store: &Rc<Store>,
    endpoint: &Endpoint,
    options: &Options,
    notify_config: rockon_sync_core::notify::NotifyConfig,
) -> Result<Driver, JsValue> {
    let backoff = options.retry_initial_ms.map(|initial_ms| BackoffPolicy {
        initial_ms,
        max_ms: 60_000,
    });
    let writes = writer::load(store, options.conflict_policy, backoff).await;
    let activity = activity::load(store, &options.user_id, notify_config).await;
    let defaults = Fallback::default();
    let fallback = Fallback {
        after_attempts: options
            .poll_after_failed_connects
            .unwrap_or(defaults.after_attempts),
        interval_ms: options.poll_interval_ms.unwrap_or(defaults.interval_ms),
        anti_entropy_ms: options
            .anti_entropy_ms
            .unwrap_or(defaults.anti_entropy_ms)
            .max(1_000),
    };
    let reads = reader::engine(endpoint, store.schema().clone(), fallback, options.changes);
    let engine = Engine::new(
        writes.map_err(store_error)?,
        reads,
        activity.map_err(store_error)?,
    );
    Ok(Driver::new(engine, store.clone(), endpoint.clone()))
}

/// Where the engine's events go: the app's listeners (and, for tab news, the other tabs).
fn sinks(
    listeners: &Listeners,
    tabs: &Rc<Coordinator>,
    schema: &Schema,
    warning: StorageWarning,
    ratio: f64,
) -> Sinks {
    let (sink, schema) = (listeners.clone(), schema.clone());
    let tabs = tabs.clone();
    Sinks {
        event: Box::new(move |event| {
            // A pull is where most data arrives: see whether storage runs short.
            if let Event::Read(ReadEvent::Progress { finished: true, .. }) = event {
                warn_if_storage_short(&sink, &warning, ratio);
            }
            for text in app_events_json(&event, &schema) {
                sink.emit(&parse(&text));
            }
        }),
        tell: Box::new(move |news| match news {
            TabNews::Outbox => tabs.post(TabMessage::Outbox),
            TabNews::Marks => tabs.post(TabMessage::Marks),
        }),
    }
}

/// Emits a `storage` warning when more than `ratio` of the quota is used, and keeps the finding
/// for `connectionInfo` (an app that subscribes later still sees it).
fn warn_if_storage_short(listeners: &Listeners, warning: &StorageWarning, ratio: f64) {
    let (sink, warning) = (listeners.clone(), warning.clone());
    crate::io::task::spawn(async move {
        warning.set(None);
        crate::io::storage::check(ratio, |estimate| {
            warning.set(Some(estimate));
            sink.emit(&storage_warning(&estimate))
        })
        .await;
    });
}
