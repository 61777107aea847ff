//! Exponential backoff with jitter.
//!
//! Clients that reconnect on a fixed schedule (realtime-js: 1, 2, 5, 10 s) all come back at the
//! same moment after a server restart. Jitter spreads them out: each delay is drawn uniformly from
//! the upper half of the exponential step ("equal jitter"), so it never drops below half the step
//! and never exceeds the cap.

use crate::rng::SplitMix64;

/// How long to wait before the n-th retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The step before the first retry, in milliseconds.
    pub initial_ms: u64,
    /// The largest step, in milliseconds.
    pub max_ms: u64,
}

impl BackoffPolicy {
    /// The un-jittered step for retry `attempt` (1-based): `initial · 2^(attempt-1)`, capped.
    pub fn step(&self, attempt: u32) -> u64 {
        let exponent = attempt.saturating_sub(1).min(63);
        self.initial_ms
            .saturating_mul(1u64 << exponent)
            .min(self.max_ms)
    }

    /// The jittered delay for retry `attempt`: uniform in `[step/2, step]`.
    pub fn delay(&self, attempt: u32, rng: &mut SplitMix64) -> u64 {
        let step = self.step(attempt);
        let half = step / 2;
        half + rng.up_to(step - half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_double_up_to_the_cap() {
        let policy = BackoffPolicy {
            initial_ms: 1_000,
            max_ms: 30_000,
        };
        let steps: Vec<u64> = (1..=7).map(|a| policy.step(a)).collect();
        assert_eq!(steps, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
        assert_eq!(policy.step(u32::MAX), 30_000);
    }

    #[test]
    fn jitter_spreads_clients_apart() {
        let policy = BackoffPolicy {
            initial_ms: 1_000,
            max_ms: 30_000,
        };
        let delays: Vec<u64> = (0..8)
            .map(|seed| policy.delay(4, &mut SplitMix64::new(seed)))
            .collect();
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() >= 6, "jitter too weak: {delays:?}");
    }
}
