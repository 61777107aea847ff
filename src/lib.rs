//! rockon-sync
