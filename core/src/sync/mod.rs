//! The sync engine: the sync layer's decisions, with storage, network and time as inputs and
//! outputs.
//!
//! [`WriteEngine`] is the write path: the app's writes become local rows and outbox entries
//! in one storage batch, and the leading tab pushes them to the REST API. It is driven like
//! [`Realtime`](crate::realtime::Realtime):
//!
//! 1. Feed a [`WriteInput`] with [`WriteEngine::handle`] — an app command, the result of a
//!    storage read or write, an HTTP answer, online, leadership, a new token — with the time.
//! 2. Drain [`WriteEngine::poll_output`], carrying out each [`WriteOutput`] in order: storage
//!    reads and write batches (each batch one transaction, in the order given), HTTP requests,
//!    events for the app, and replies to commands. Feed each result back with its id.
//! 3. Call [`WriteEngine::handle_timeout`] at [`WriteEngine::poll_timeout`].
//!
//! [`MemoryStore`] carries out storage in memory; the simulation (`core/sim`) drives several
//! engines against a model of the server through thousands of fault schedules.

mod activity;
mod app_events;
mod catchup_schedule;
pub mod conformance;
mod engine;
mod events;
mod reads;
mod store;
mod tabs;
mod writes;

pub use activity::{ActivityEngine, ActivityEvent, ActivityOutput, ActivityWrite};
pub use app_events::{
    app_events_json, change_json, decoded_frame_json, presence_json, realtime_event_json,
};
pub use catchup_schedule::{CatchUpSchedule, Due, ScheduleConfig};
pub use engine::{Engine, Event, Input, Op, Output, Stored, TabNews};
pub use events::{ChangeAction, ChangeSource, RowsChanged, WriteError, WriteEvent};
pub use reads::{
    band_of, topic_of, ChangeDelivery, ConnectionInfo, EditedRow, LocalEdits, Member, ReadCommand,
    ReadConfig, ReadEngine, ReadEvent, ReadInput, ReadOutput, SocketAction, BATCH_CHANGES,
};
pub use store::{
    conflict_key, cursor_key, is_newer, ApplyBatch, MemoryStore, ReadResult, ServerRows,
    StoreError, StoreOp, StoreRead,
};
pub use tabs::{TabAction, TabGroup, TabMessageKind};
pub use writes::{CommandId, OpId, WriteCommand, WriteEngine, WriteInput, WriteOutput, WriteReply};
