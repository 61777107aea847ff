//! Broadcast messages are kept three days, as on hosted Realtime (which drops its daily
//! partitions of `realtime.messages`): they are read from the WAL the moment they commit, and
//! the table would otherwise only grow.

use crate::state::AppState;
use std::sync::Arc;
use std::time::Duration;

/// How long a message is kept.
const RETENTION: &str = "3 days";

/// Deletes old messages now and then every `every`, until the process ends.
pub async fn run(state: Arc<AppState>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        if let Err(error) = clean(&state).await {
            eprintln!("realtime: cleaning old messages failed: {error}; trying again later");
        }
    }
}

async fn clean(state: &AppState) -> Result<u64, String> {
    let client = state.system_pool.get().await.map_err(|e| e.to_string())?;
    client
        .execute(
            &format!(
                "delete from realtime.messages where inserted_at < now() - interval '{RETENTION}'"
            ),
            &[],
        )
        .await
        .map_err(|e| crate::db::describe(&e))
}
