//! Browser I/O that drives the sans-IO core: WebSocket, clock, timers.

pub mod activity;
pub mod clock;
pub mod devtools;
pub mod driver;
pub mod frames;
pub mod http;
pub mod idb;
pub mod layout;
pub mod page_events;
pub mod reader;
pub mod realtime_driver;
pub mod rows;
pub mod socket;
pub mod storage;
pub mod store;
pub mod sync_store;
pub mod tabs;
pub mod task;
pub mod writer;
