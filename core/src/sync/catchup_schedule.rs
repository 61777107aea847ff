//! When the read path pulls without being asked by the socket: the periodic anti-entropy pull
//! (Realtime is a hint, a change its stream lost is repaired by the next one), REST polling
//! while the socket keeps failing to connect, and retries of a failed memberships read or
//! pull. One state machine with one deadline, so the shell needs one timer for all of them.

use crate::backoff::BackoffPolicy;
use crate::realtime::ConnectionState;
use crate::rng::SplitMix64;
use crate::Millis;

/// How the schedule is tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Between anti-entropy pulls while the page is visible, jittered by ±25 %.
    pub anti_entropy_ms: u64,
    /// Failed connects before REST polling stands in for the socket.
    pub poll_after_attempts: u32,
    /// Between polls.
    pub poll_interval_ms: u64,
}

/// What is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Pull every followed band from its cursor.
    PullBands,
    /// Read the user's memberships again.
    Memberships,
}

/// How soon a failed memberships read is tried again (jittered, doubling to a minute).
const MEMBERSHIPS_RETRY: BackoffPolicy = BackoffPolicy {
    initial_ms: 1_000,
    max_ms: 60_000,
};

/// How soon a pull that failed (no answer, or a server error) is asked again, likewise: the
/// anti-entropy pull would repair it too, but only a minute later.
const PULL_RETRY: BackoffPolicy = BackoffPolicy {
    initial_ms: 1_000,
    max_ms: 60_000,
};

/// The read path's own schedule.
#[derive(Debug)]
pub struct CatchUpSchedule {
    config: ScheduleConfig,
    rng: SplitMix64,
    visible: bool,
    following_user: bool,
    anti_entropy_at: Option<Millis>,
    poll_at: Option<Millis>,
    memberships_failures: u32,
    memberships_retry_at: Option<Millis>,
    pull_failures: u32,
    pull_retry_at: Option<Millis>,
}

impl CatchUpSchedule {
    /// A schedule; nothing is due until [`follow_user`](Self::follow_user) or a connection
    /// failure.
    pub fn new(config: ScheduleConfig, seed: u64) -> Self {
        Self {
            config,
            rng: SplitMix64::new(seed),
            visible: true,
            following_user: false,
            anti_entropy_at: None,
            poll_at: None,
            memberships_failures: 0,
            memberships_retry_at: None,
            pull_failures: 0,
            pull_retry_at: None,
        }
    }

    fn jittered(&mut self) -> u64 {
        let period = self.config.anti_entropy_ms;
        let quarter = period / 4;
        period - quarter + self.rng.up_to(2 * quarter)
    }

    /// The user's bands are followed: anti-entropy pulls start, with a memberships read each.
    pub fn follow_user(&mut self, now: Millis) {
        self.following_user = true;
        self.follow_band(now);
    }

    /// A band is followed: anti-entropy pulls start (Realtime is a hint, also for a band
    /// followed on its own).
    pub fn follow_band(&mut self, now: Millis) {
        if self.anti_entropy_at.is_none() {
            self.anti_entropy_at = Some(now + self.jittered());
        }
    }

    /// The page became visible or hidden (anti-entropy pulls pause while it is hidden).
    pub fn set_visible(&mut self, visible: bool) {
        self.visible = visible;
    }

    /// Whether REST polling stands in for the socket.
    pub fn is_polling(&self) -> bool {
        self.poll_at.is_some()
    }

    /// The socket's state changed. Polling starts once connects keep failing (with a pull at
    /// once) and stops once the socket is back (its own catch-up takes over).
    pub fn connection(&mut self, now: Millis, state: &ConnectionState) -> Vec<Due> {
        let failing = match state {
            ConnectionState::Reconnecting { attempt, .. } => {
                *attempt >= self.config.poll_after_attempts
            }
            ConnectionState::Error { .. } => true,
            _ => false,
        };
        if matches!(state, ConnectionState::Connected) {
            self.poll_at = None;
        } else if failing && self.poll_at.is_none() {
            self.poll_at = Some(now + self.config.poll_interval_ms);
            return self.poll_dues();
        }
        Vec::new()
    }

    fn poll_dues(&self) -> Vec<Due> {
        let mut dues = vec![Due::PullBands];
        if self.following_user {
            dues.push(Due::Memberships);
        }
        dues
    }

    /// A memberships read starts: a retry waiting for it is not needed any more.
    pub fn memberships_started(&mut self) {
        self.memberships_retry_at = None;
    }

    /// A memberships read succeeded.
    pub fn memberships_read(&mut self) {
        self.memberships_failures = 0;
    }

    /// A memberships read failed or was unreadable: it is tried again with backoff. Returns
    /// the attempt that failed.
    pub fn memberships_failed(&mut self, now: Millis) -> u32 {
        self.memberships_failures += 1;
        let delay = MEMBERSHIPS_RETRY.delay(self.memberships_failures, &mut self.rng);
        self.memberships_retry_at = Some(now + delay);
        self.memberships_failures
    }

    /// A pull failed (no answer, or a server error): the bands are pulled again with backoff.
    pub fn pull_failed(&mut self, now: Millis) {
        self.pull_failures += 1;
        let delay = PULL_RETRY.delay(self.pull_failures, &mut self.rng);
        let at = now + delay;
        self.pull_retry_at = Some(self.pull_retry_at.map_or(at, |pending| pending.min(at)));
    }

    /// A pull finished: the next failure starts the delays over.
    pub fn pull_finished(&mut self) {
        self.pull_failures = 0;
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next needed.
    pub fn poll_timeout(&self) -> Option<Millis> {
        [
            self.anti_entropy_at,
            self.poll_at,
            self.memberships_retry_at,
            self.pull_retry_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// What is due at `now`, each at most once.
    pub fn handle_timeout(&mut self, now: Millis) -> Vec<Due> {
        let mut dues = Vec::new();
        if self.anti_entropy_at.is_some_and(|at| at <= now) {
            self.anti_entropy_at = Some(now + self.jittered());
            if self.visible {
                dues.extend([Due::Memberships, Due::PullBands]);
            }
        }
        if self.poll_at.is_some_and(|at| at <= now) {
            self.poll_at = Some(now + self.config.poll_interval_ms);
            dues.extend(self.poll_dues());
        }
        if self.memberships_retry_at.is_some_and(|at| at <= now) {
            self.memberships_retry_at = None;
            dues.push(Due::Memberships);
        }
        if self.pull_retry_at.is_some_and(|at| at <= now) {
            self.pull_retry_at = None;
            dues.push(Due::PullBands);
        }
        // In a fixed order, each once (sorting them would bring a sort into the module for two
        // values).
        let mut ordered = Vec::with_capacity(2);
        for due in [Due::PullBands, Due::Memberships] {
            if dues.contains(&due) {
                ordered.push(due);
            }
        }
        ordered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> CatchUpSchedule {
        let config = ScheduleConfig {
            anti_entropy_ms: 60_000,
            poll_after_attempts: 3,
            poll_interval_ms: 30_000,
        };
        CatchUpSchedule::new(config, 7)
    }

    #[test]
    fn anti_entropy_pulls_every_period_with_jitter_while_visible() {
        let mut s = schedule();
        assert_eq!(
            s.poll_timeout(),
            None,
            "nothing before the user is followed"
        );
        s.follow_user(Millis(0));
        let first = s.poll_timeout().unwrap();
        assert!((45_000..=75_000).contains(&first.0), "{first}");
        assert_eq!(
            s.handle_timeout(first),
            vec![Due::PullBands, Due::Memberships]
        );
        let second = s.poll_timeout().unwrap();
        assert!(second.0 - first.0 >= 45_000 && second.0 - first.0 <= 75_000);
        s.set_visible(false);
        assert!(s.handle_timeout(second).is_empty(), "paused while hidden");
        assert!(s.poll_timeout().unwrap() > second, "but still scheduled");
    }

    #[test]
    fn polling_starts_after_failed_connects_and_stops_once_connected() {
        let mut s = schedule();
        s.follow_user(Millis(0));
        let retrying = |attempt| ConnectionState::Reconnecting {
            attempt,
            delay_ms: 1_000,
        };
        assert!(s.connection(Millis(1), &retrying(2)).is_empty());
        assert!(!s.is_polling());
        assert_eq!(
            s.connection(Millis(2), &retrying(3)),
            vec![Due::PullBands, Due::Memberships],
            "a poll at once"
        );
        assert!(s.is_polling());
        assert!(s.connection(Millis(3), &retrying(4)).is_empty(), "once");
        assert_eq!(s.poll_timeout(), Some(Millis(30_002)));
        assert_eq!(
            s.handle_timeout(Millis(30_002)),
            vec![Due::PullBands, Due::Memberships]
        );
        s.connection(Millis(30_003), &ConnectionState::Connected);
        assert!(!s.is_polling());
        assert!(
            s.poll_timeout().unwrap().0 >= 45_000,
            "only anti-entropy is left"
        );
    }

    #[test]
    fn a_failed_pull_is_asked_again_with_growing_delays() {
        let mut s = schedule();
        s.pull_failed(Millis(0));
        let first = s.poll_timeout().unwrap();
        assert!((500..=1_000).contains(&first.0), "{first}");
        assert_eq!(s.handle_timeout(first), vec![Due::PullBands]);
        assert_eq!(s.poll_timeout(), None, "asked once");
        s.pull_failed(first);
        let second = s.poll_timeout().unwrap();
        assert!(second.0 - first.0 >= 1_000, "doubled: {second}");
        s.pull_failed(first);
        assert_eq!(
            s.poll_timeout(),
            Some(second),
            "one retry for the bands failing together"
        );
        s.handle_timeout(second);
        s.pull_finished();
        s.pull_failed(Millis(10_000));
        assert!(
            s.poll_timeout().unwrap().0 <= 11_000,
            "the delays start over after a pull finished"
        );
    }

    #[test]
    fn a_failed_memberships_read_is_retried_with_growing_delays() {
        let mut s = schedule();
        assert_eq!(s.memberships_failed(Millis(0)), 1);
        let first = s.poll_timeout().unwrap();
        assert!((500..=1_000).contains(&first.0), "{first}");
        assert_eq!(s.handle_timeout(first), vec![Due::Memberships]);
        s.memberships_started();
        assert_eq!(s.memberships_failed(first), 2);
        let second = s.poll_timeout().unwrap();
        assert!(second.0 - first.0 >= 1_000, "doubled: {second}");
        s.memberships_started();
        assert_eq!(
            s.poll_timeout(),
            None,
            "a read under way replaces the retry"
        );
        s.memberships_read();
        assert_eq!(
            s.memberships_failed(Millis(5_000)),
            1,
            "the count starts over"
        );
    }
}
