//! Realtime Authorization for private channels: as Supabase does, a probe message for the
//! channel's topic is inserted in a transaction that is rolled back, and the caller may join
//! only if the RLS policies on `realtime.messages` let them read it back.

use crate::auth::Claims;
use crate::state::{AppState, Caller};

/// Whether the caller may read the private channel `topic` (without the `realtime:` prefix).
pub async fn may_read(state: &AppState, claims: &Claims, topic: &str) -> Result<bool, String> {
    let caller = Caller::from_claims(claims).map_err(|e| e.realtime_reason())?;
    let mut client = state.system_pool.get().await.map_err(|e| e.to_string())?;
    let tx = client.transaction().await.map_err(|e| e.to_string())?;
    tx.execute(
        "insert into realtime.messages (topic, extension, private) values ($1, 'presence', true)",
        &[&topic],
    )
    .await
    .map_err(|e| e.to_string())?;
    tx.batch_execute(&caller.session_sql())
        .await
        .map_err(|e| e.to_string())?;
    tx.execute("select set_config('realtime.topic', $1, true)", &[&topic])
        .await
        .map_err(|e| e.to_string())?;
    // A policy that fails to evaluate (say, a malformed topic) denies.
    let allowed = tx
        .query_one(
            "select exists (select 1 from realtime.messages where topic = $1)",
            &[&topic],
        )
        .await
        .map(|row| row.get::<_, bool>(0))
        .unwrap_or(false);
    // Dropping the transaction rolls the probe back.
    drop(tx);
    Ok(allowed)
}
