//! Driving the outbox one row at a time, as the tests of its per-row rules do.

use rockon_sync_core::outbox::{Effect, HttpRequest, HttpResult, Outbox, Push};
use rockon_sync_core::schema::TableSchema;
use rockon_sync_core::Millis;

/// The outbox as the per-row tests drive it: each wave carries one entry.
pub trait OneRow {
    /// The outbox driven.
    fn outbox(&mut self) -> &mut Outbox;

    /// The wave due at `now`, which must be one request carrying one entry.
    fn next_request(&mut self, now: Millis) -> Option<(u64, HttpRequest)> {
        let mut wave = self.outbox().next_wave(now);
        assert!(wave.len() <= 1, "one request: {wave:?}");
        let Push { seqs, request } = wave.pop()?;
        assert_eq!(seqs.len(), 1, "one entry: {seqs:?}");
        Some((seqs[0], request))
    }

    /// The answer to the request that carried `seq`; the follow-up GET's request, if any.
    fn answer(
        &mut self,
        now: Millis,
        seq: u64,
        result: HttpResult,
        table: &TableSchema,
    ) -> (Vec<Effect>, Option<HttpRequest>) {
        let (effects, follow_up) = self.outbox().complete(now, &[seq], result, table);
        (effects, follow_up.map(|push| push.request))
    }
}

impl OneRow for Outbox {
    fn outbox(&mut self) -> &mut Outbox {
        self
    }
}
