//! Time and randomness for the core, which has neither of its own.

use rockon_sync_core::Millis;

/// Milliseconds on the page's monotonic clock (`performance.now()`), falling back to
/// `Date.now()` where there is no `performance` (some worker scopes).
pub fn now() -> Millis {
    let performance = web_sys::window().and_then(|w| w.performance());
    let ms = performance.map_or_else(js_sys::Date::now, |p| p.now());
    Millis(ms.max(0.0) as u64)
}

/// A seed for the core's jitter, different in every tab so clients do not reconnect in step.
pub fn seed() -> u64 {
    let high = (js_sys::Math::random() * f64::from(u32::MAX)) as u64;
    let low = (js_sys::Math::random() * f64::from(u32::MAX)) as u64;
    (high << 32) | low
}
