//! What the write path tells the app, and why it refuses a write.

use super::store::StoreError;
use crate::outbox::{ConflictRecord, RowStatus};
use crate::schema::SchemaError;
use std::fmt;

/// What happened to rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeAction {
    /// Created.
    Insert,
    /// Changed.
    Update,
    /// Created or changed (a pull or a server row does not say which).
    Upsert,
    /// Deleted (tombstoned).
    Delete,
}

impl ChangeAction {
    /// The name the app sees.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Insert => "insert",
            ChangeAction::Update => "update",
            ChangeAction::Upsert => "upsert",
            ChangeAction::Delete => "delete",
        }
    }
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSource {
    /// The app's own write.
    Local,
    /// The server's row replaced the local copy (new version, timestamps) or a merge changed it.
    Server,
    /// Another member's change, from Realtime.
    Remote,
    /// Rows a catch-up pull found.
    Pull,
    /// Rows of a band the user left, removed locally.
    Purge,
}

impl ChangeSource {
    /// The name the app sees.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeSource::Local => "local",
            ChangeSource::Server => "server",
            ChangeSource::Remote => "remote",
            ChangeSource::Pull => "pull",
            ChangeSource::Purge => "purge",
        }
    }
}

/// Rows of one table and band that changed in the local store.
#[derive(Debug, Clone, PartialEq)]
pub struct RowsChanged {
    /// Wire table name.
    pub table: String,
    /// The rows' scope (band); empty when not known.
    pub scope: String,
    /// The rows.
    pub ids: Vec<String>,
    /// What happened.
    pub action: ChangeAction,
    /// Where it came from.
    pub source: ChangeSource,
}

/// What the write path tells the app.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteEvent {
    /// Rows changed.
    Change(RowsChanged),
    /// A row's sync status changed.
    Status {
        /// Wire table name.
        table: String,
        /// The row.
        id: String,
        /// The status.
        status: RowStatus,
    },
    /// A conflict was settled; both versions are in the record.
    Conflict(ConflictRecord),
    /// Pushes wait for a new access token.
    NeedToken,
    /// A failure the app should show.
    Error {
        /// Stable code.
        code: &'static str,
        /// Message.
        message: String,
    },
}

/// Why a write was refused. Nothing was written.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteError {
    /// The schema does not allow it.
    Schema(SchemaError),
    /// No such row.
    NotFound {
        /// Wire table name.
        table: String,
        /// The row.
        id: String,
    },
    /// The row is deleted.
    Deleted,
    /// The row has no conflict to resolve.
    NoConflict,
    /// A resolution named a field the conflict is not about.
    NotInConflict(String),
    /// Storage failed (or the client is closed: `database_closed`).
    Store(StoreError),
}

impl WriteError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            WriteError::Schema(e) => e.code(),
            WriteError::NotFound { .. } => "not_found",
            WriteError::Deleted => "row_deleted",
            WriteError::NoConflict => "no_conflict",
            WriteError::NotInConflict(_) => "not_in_conflict",
            WriteError::Store(e) => e.code(),
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Schema(e) => e.fmt(f),
            WriteError::NotFound { table, id } => write!(f, "no row {id} in {table}"),
            WriteError::Deleted => f.write_str("the row is deleted"),
            WriteError::NoConflict => f.write_str("the row has no conflict to resolve"),
            WriteError::NotInConflict(field) => {
                write!(f, "{field} is not a field of this conflict")
            }
            WriteError::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for WriteError {}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Store(e)
    }
}

impl From<SchemaError> for WriteError {
    fn from(e: SchemaError) -> Self {
        WriteError::Schema(e)
    }
}
