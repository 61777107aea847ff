//! The bands a reader follows: exactly the user's memberships, as the server lists them.

use super::{http, with_engine, ChangeDelivery, Inner, ReadEvent};
use rockon_sync_core::memberships;
use rockon_sync_core::outbox::{HttpRequest, HttpResult};
use rockon_sync_core::realtime::{ChannelConfig, PostgresBinding};
use rockon_sync_core::sorted::SortedSet;
use std::rc::Rc;

pub(super) fn follow_band(inner: &Inner, band_id: &str) -> Result<(), String> {
    let database_broadcasts = inner.changes == ChangeDelivery::Broadcast;
    let bindings = if database_broadcasts {
        Vec::new()
    } else {
        let tables = &inner.store.schema().tables;
        tables
            .iter()
            .map(|t| PostgresBinding::table_eq(&t.name, &t.scope, band_id))
            .collect()
    };
    // A private channel: only members may join, so presence (and, with database broadcasts,
    // the band's changes) stays within the band.
    let config = ChannelConfig {
        postgres_changes: bindings,
        presence: inner.presence.key(),
        private: true,
        database_broadcasts,
        ..ChannelConfig::default()
    };
    let name = format!("band:{band_id}");
    let mut result = Ok(());
    with_engine(inner, |engine, now| {
        result = engine
            .join(now, &name, config)
            .map(|_| ())
            .map_err(|e| e.to_string());
    });
    if result.is_ok() {
        inner.bands.borrow_mut().insert(band_id.to_owned());
    }
    result
}

fn unfollow_band(inner: &Inner, band_id: &str) {
    let topic = format!("realtime:band:{band_id}");
    with_engine(inner, |engine, now| engine.leave(now, &topic));
    inner.bands.borrow_mut().remove(band_id);
    inner.presence.forget(band_id);
}

/// Reads the user's memberships and follows exactly their bands. A failed or unreadable
/// answer changes nothing (the bands followed stay followed, nothing is purged) and is retried
/// with backoff: only the server's readable answer says the user left a band.
pub(super) fn reconcile_memberships(inner: &Rc<Inner>) {
    if inner.reconciling.replace(true) {
        return;
    }
    inner.schedule.borrow_mut().memberships_started();
    super::reschedule(inner);
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        let Some(inner) = weak.upgrade() else { return };
        let user = inner.user.borrow().clone();
        if let Some(user) = user {
            let request = HttpRequest::get(format!(
                "/rest/v1/band_memberships?select=band_id&user_id=eq.{}&deleted_at=is.null",
                rockon_sync_core::percent_encode(&user)
            ));
            let endpoint = inner.endpoint.borrow().clone();
            let answer = match http::send(&endpoint, &request).await {
                HttpResult::Response { status: 200, body } => {
                    memberships::bands_of(&body).map_err(|e| e.to_string())
                }
                HttpResult::Response { status, body } => Err(format!(
                    "HTTP {status}: {}",
                    body.chars().take(200).collect::<String>()
                )),
                HttpResult::NetworkError(message) => Err(message),
            };
            match answer {
                Ok(member_of) => {
                    inner.schedule.borrow_mut().memberships_read();
                    follow_exactly(&inner, &member_of);
                }
                Err(message) => retry_memberships(&inner, message),
            }
        }
        inner.reconciling.set(false);
    });
}

/// Follows the bands in `member_of` and leaves the others.
fn follow_exactly(inner: &Rc<Inner>, member_of: &SortedSet<String>) {
    let following = inner.bands.borrow().clone();
    let memberships::BandChanges { joined, left } = memberships::reconcile(&following, member_of);
    for band in &joined {
        if let Err(message) = follow_band(inner, band) {
            (inner.on_event)(ReadEvent::Error {
                code: "too_many_channels",
                message,
            });
        }
    }
    for band in &left {
        unfollow_band(inner, band);
    }
    if !joined.is_empty() || !left.is_empty() {
        let current = inner.bands.borrow().iter().cloned().collect();
        (inner.on_event)(ReadEvent::Bands {
            joined,
            left,
            current,
        });
    }
}

fn retry_memberships(inner: &Rc<Inner>, message: String) {
    let attempt = inner
        .schedule
        .borrow_mut()
        .memberships_failed(crate::io::clock::now());
    super::reschedule(inner);
    (inner.on_event)(ReadEvent::Error {
        code: "memberships_unavailable",
        message: format!(
            "reading the user's bands failed (attempt {attempt}, will retry): {message}"
        ),
    });
}
