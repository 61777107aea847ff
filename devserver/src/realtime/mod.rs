//! Supabase Realtime: Phoenix channels over WebSocket with postgres_changes, presence,
//! broadcast and Broadcast from Database, fed by a wal2json logical replication slot.

pub mod authorize;
pub mod changes;
pub mod filter;
pub mod hub;
pub mod janitor;
pub mod socket;
