use std::fmt;
use std::ops::{Add, Sub};

/// A point on a monotonic clock, in milliseconds since an origin the driver chooses.
///
/// The core never reads a clock: the driver passes `Millis` in with every call (in the browser
/// `performance.now()`, in tests a simulated counter), so behaviour is reproducible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// The time elapsed since `earlier`, or zero when `earlier` is later (clocks given to the
    /// core are monotonic, but a driver bug must not underflow).
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<u64> for Millis {
    type Output = Millis;
    fn add(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }
}

impl Sub<u64> for Millis {
    type Output = Millis;
    fn sub(self, ms: u64) -> Millis {
        Millis(self.0.saturating_sub(ms))
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}
