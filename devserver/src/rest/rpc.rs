//! `POST /rest/v1/rpc/<function>`: calls a function of the `public` schema with named
//! arguments from the JSON body, as PostgREST does, in a transaction as the caller (so a
//! security definer function such as `transfer_band_ownership` decides for itself whom it
//! serves). A function that returns `void` answers 204.

use super::sql::{quote, Statement};
use super::RestError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Handles `POST /rest/v1/rpc/<function>`.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match call(&state, &function, &headers, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn call(
    state: &AppState,
    function: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, RestError> {
    let caller = super::admit(state, headers, true)?;
    let args: Map<String, Value> = if body.is_empty() {
        Map::new()
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(args)) => args,
            _ => return Err(RestError::new(400, "PGRST102", "Empty or invalid json")),
        }
    };
    let (names, types, returns) = signature(state, function).await?;
    let mut wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut given: Vec<&str> = args.keys().map(String::as_str).collect();
    wanted.sort_unstable();
    given.sort_unstable();
    if wanted != given {
        return Err(not_found(function, &given));
    }
    // Names and types come from the catalog; values only through the one JSON parameter.
    let arguments = names
        .iter()
        .zip(&types)
        .map(|(name, ty)| {
            let literal = name.replace('\'', "''");
            if ty == "jsonb" || ty == "json" {
                format!("{} => ($1::jsonb -> '{literal}')::{ty}", quote(name))
            } else {
                format!("{} => ($1::jsonb ->> '{literal}')::{ty}", quote(name))
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let called = format!("public.{}({arguments})", quote(function));
    let sql = if returns == "void" {
        format!("with called as (select {called}) select 'null'::jsonb from called")
    } else {
        format!("select to_jsonb({called})")
    };
    let statement = Statement {
        sql,
        params: vec![Box::new(Value::Object(args))],
        counted: false,
    };
    let result = super::run(state, &caller, &statement).await?;
    if returns == "void" {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok((
        [("content-type", "application/json; charset=utf-8")],
        result.to_string(),
    )
        .into_response())
}

/// The argument names and types, and the return type, of the one `public` function `name`.
async fn signature(
    state: &AppState,
    name: &str,
) -> Result<(Vec<String>, Vec<String>, String), RestError> {
    let client =
        state.pool.get().await.map_err(|e| {
            RestError::new(503, "PGRST000", format!("Database connection error: {e}"))
        })?;
    let rows = client
        .query(
            "select coalesce(p.proargnames[1:p.pronargs], '{}'),
                    array(select format_type(t, null) from unnest(p.proargtypes) t),
                    format_type(p.prorettype, null)
             from pg_proc p join pg_namespace n on n.oid = p.pronamespace
             where n.nspname = 'public' and p.proname = $1 and p.prokind = 'f'",
            &[&name],
        )
        .await
        .map_err(|e| RestError::from_db(&e, false))?;
    match rows.as_slice() {
        [row] => Ok((row.get(0), row.get(1), row.get(2))),
        _ => Err(not_found(name, &[])),
    }
}

fn not_found(function: &str, given: &[&str]) -> RestError {
    RestError::new(
        404,
        "PGRST202",
        format!(
            "Could not find the function public.{function}({}) in the schema cache",
            given.join(", ")
        ),
    )
}
