//! Supabase Realtime: Phoenix channels over WebSocket with postgres_changes, presence and
//! broadcast, fed by a wal2json logical replication slot.

pub mod authorize;
pub mod changes;
pub mod filter;
pub mod hub;
pub mod socket;
