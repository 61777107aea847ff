//! The read path's commands and queries over the [`Driver`]: the core's read engine decides
//! which channels to join, what to pull when, which rows to store and what to tell.

use super::driver::Driver;
use super::http::Endpoint;
use rockon_sync_core::realtime::{Input as SocketInput, RealtimeConfig};
use rockon_sync_core::schema::Schema;
use rockon_sync_core::sync::{Input, ReadCommand, ReadConfig, ReadEngine, ScheduleConfig};
use rockon_sync_core::value::Value;

pub use rockon_sync_core::sync::{ChangeDelivery, ConnectionInfo, Member, ReadEvent};

/// When the socket cannot connect, how the reader falls back to pulling over REST.
#[derive(Debug, Clone, Copy)]
pub struct Fallback {
    /// Failed connects before polling starts.
    pub after_attempts: u32,
    /// Milliseconds between polls.
    pub interval_ms: u32,
    /// Milliseconds between anti-entropy pulls while the page is visible, even with the
    /// socket up (jittered by ±25 %): Realtime is a hint, and a change its stream lost (say,
    /// across a restart of the server's change stream) is repaired by the next one.
    pub anti_entropy_ms: u32,
}

impl Default for Fallback {
    fn default() -> Self {
        Self {
            after_attempts: 3,
            interval_ms: 30_000,
            anti_entropy_ms: 60_000,
        }
    }
}

/// A read engine for the project at `endpoint`.
pub fn engine(
    endpoint: &Endpoint,
    schema: Schema,
    fallback: Fallback,
    delivery: ChangeDelivery,
) -> ReadEngine {
    let config = ReadConfig {
        realtime: RealtimeConfig::new(
            format!("{}/realtime/v1", endpoint.base_url.trim_end_matches('/')),
            endpoint.anon_key.clone(),
        ),
        schedule: ScheduleConfig {
            anti_entropy_ms: u64::from(fallback.anti_entropy_ms),
            poll_after_attempts: fallback.after_attempts,
            poll_interval_ms: u64::from(fallback.interval_ms),
        },
        delivery,
        report_arrivals: endpoint.devtools.is_some(),
    };
    ReadEngine::new(config, schema, super::clock::seed())
}

/// The read path of one client.
pub struct Reader {
    driver: Driver,
}

impl Reader {
    /// The read path of the client `driver` carries out; the socket opens on
    /// [`connect`](Self::connect).
    pub fn new(driver: Driver) -> Reader {
        Reader { driver }
    }

    fn command(&self, command: ReadCommand) -> Result<(), String> {
        self.driver.handle(Input::Read(command))
    }

    /// Opens the socket with the current token.
    pub fn connect(&self) {
        let token = self.driver.endpoint().token;
        let _ = self.command(ReadCommand::SetToken(token));
        let _ = self.command(ReadCommand::Connect);
    }

    /// Follows a band: joins its channel (changes to its songs, setlists, shows and practice
    /// sessions) and pulls what changed since the saved cursor once subscribed.
    pub fn follow_band(&self, band_id: &str) -> Result<(), String> {
        self.command(ReadCommand::FollowBand(band_id.to_owned()))
    }

    /// Follows the user's memberships: every band they belong to now, or join or create later,
    /// is followed; a band they leave or are removed from is left and purged.
    pub fn follow_user(&self, user_id: &str) -> Result<(), String> {
        self.command(ReadCommand::FollowUser(user_id.to_owned()))
    }

    /// Uses a new token for the socket and for pulls.
    pub fn set_token(&self, token: String) {
        self.driver.set_token(token.clone());
        let _ = self.command(ReadCommand::SetToken(token));
    }

    /// Tells the engine the network or the page's visibility changed.
    pub fn input(&self, input: SocketInput<'static>) {
        let _ = self.driver.handle(Input::Socket(input));
    }

    /// Where pulls go, with the current token.
    pub fn endpoint(&self) -> Endpoint {
        self.driver.endpoint()
    }

    /// The connection as the app shows it.
    pub fn info(&self) -> ConnectionInfo {
        let mut info = self.driver.engine().reads().info();
        info.last_synced_at = self.driver.last_synced_at();
        info
    }

    /// Tracks under `key` (the user id) on band channels joined from now on.
    pub fn set_presence_key(&self, key: &str) {
        self.driver
            .run(|engine| engine.reads_mut().set_presence_key(key));
    }

    /// Shows `meta` (what the user is viewing) to the band's members online.
    pub fn set_presence(&self, band: &str, meta: Value) {
        let band = band.to_owned();
        let _ = self.command(ReadCommand::SetPresence { band, meta });
    }

    /// The band's members online now.
    pub fn members(&self, band: &str) -> Vec<Member> {
        self.driver.engine().reads().members(band)
    }

    /// The members other than `me` editing row `id` of `table` now.
    pub fn editors(&self, table: &str, id: &str, me: &str) -> Vec<Member> {
        self.driver.engine().reads().editors(table, id, me)
    }

    /// Reconnects now (after a failure or during a backoff).
    pub fn retry(&self) {
        let _ = self.command(ReadCommand::Retry);
    }

    /// Closes the socket and stops for good.
    pub fn close(&self) {
        let _ = self.command(ReadCommand::Close);
        self.driver.stop();
    }

    /// Pulls a band's tables now.
    pub fn pull(&self, band_id: &str) {
        let _ = self.command(ReadCommand::Pull(band_id.to_owned()));
    }
}
