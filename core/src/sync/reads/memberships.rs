//! The bands a reader follows: exactly the user's memberships, as the server lists them.

use super::{presence::topic_of, ReadEngine, ReadEvent, Waiting};
use crate::memberships::{bands_of, reconcile, BandChanges};
use crate::outbox::{HttpRequest, HttpResult};
use crate::percent_encode;
use crate::sorted::SortedSet;
use crate::Millis;

/// The memberships read in flight, and whether another was asked for meanwhile.
#[derive(Debug, Default)]
pub(super) struct Memberships {
    reading: bool,
    again: bool,
}

impl ReadEngine {
    /// Follows the user's memberships: every band they belong to now, or join or create
    /// later, is followed; a band they leave or are removed from is left (and the app purges
    /// it on the `Bands` event).
    pub(super) fn follow_user(&mut self, now: Millis, user: String) -> Result<(), String> {
        self.schedule.follow_user(now);
        self.presence.key = Some(user.clone());
        let config = self.user_channel(&user);
        let name = format!("user:{user}");
        self.user = Some(user);
        self.join(now, &name, config)
    }

    /// Follows a band: joins its channel; the pull from the saved cursor follows once
    /// subscribed (the Realtime engine's catch-up event).
    pub(super) fn follow_band(&mut self, now: Millis, band: &str) -> Result<(), String> {
        let config = self.band_channel(band);
        self.join(now, &format!("band:{band}"), config)?;
        self.schedule.follow_band(now);
        self.bands.insert(band.to_owned());
        Ok(())
    }

    fn unfollow_band(&mut self, now: Millis, band: &str) {
        self.realtime.leave(now, &topic_of(band));
        self.bands.remove(band);
        self.presence.forget(band);
    }

    /// Reads the user's memberships (once at a time: a call meanwhile reads again after).
    pub(super) fn reconcile_memberships(&mut self) {
        let Some(user) = &self.user else { return };
        if self.memberships.reading {
            self.memberships.again = true;
            return;
        }
        let request = HttpRequest::get(format!(
            "/rest/v1/band_memberships?select=band_id&user_id=eq.{}&deleted_at=is.null",
            percent_encode(user)
        ));
        self.memberships.reading = true;
        self.schedule.memberships_started();
        self.http(Waiting::Memberships, request);
    }

    /// A failed or unreadable answer changes nothing (the bands followed stay followed,
    /// nothing is purged) and is retried with backoff: only the server's readable answer says
    /// the user left a band.
    pub(super) fn memberships_answered(&mut self, now: Millis, result: HttpResult) {
        self.memberships.reading = false;
        let answer = match result {
            HttpResult::Response { status: 200, body } => {
                bands_of(&body).map_err(|e| e.to_string())
            }
            HttpResult::Response { status, body } => Err(format!(
                "HTTP {status}: {}",
                body.chars().take(200).collect::<String>()
            )),
            HttpResult::NetworkError(message) => Err(message),
        };
        match answer {
            Ok(member_of) => {
                self.schedule.memberships_read();
                self.follow_exactly(now, &member_of);
            }
            Err(message) => {
                let attempt = self.schedule.memberships_failed(now);
                self.error(
                    "memberships_unavailable",
                    format!(
                        "reading the user's bands failed (attempt {attempt}, will retry): \
                         {message}"
                    ),
                );
            }
        }
        if std::mem::take(&mut self.memberships.again) {
            self.reconcile_memberships();
        }
    }

    /// Follows the bands in `member_of` and leaves the others.
    fn follow_exactly(&mut self, now: Millis, member_of: &SortedSet<String>) {
        let BandChanges { joined, left } = reconcile(&self.bands, member_of);
        for band in &joined {
            if let Err(message) = self.follow_band(now, band) {
                self.error("too_many_channels", message);
            }
        }
        for band in &left {
            self.unfollow_band(now, band);
        }
        if !joined.is_empty() || !left.is_empty() {
            let current = self.bands.to_vec();
            self.emit(ReadEvent::Bands {
                joined,
                left,
                current,
            });
        }
    }
}
