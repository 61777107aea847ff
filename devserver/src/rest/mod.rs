//! `/rest/v1/<table>`: the PostgREST subset supabase-js and rockon-sync use. Every request runs
//! in its own transaction as the token's role with its claims in `request.jwt.claims`, so
//! row-level security decides what the caller may read and write.

pub mod query;
pub mod rpc;
mod sql;

use crate::schema::Schema;
use crate::state::{AppState, Caller};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use query::Query;
use serde_json::{json, Value};
use std::sync::Arc;

/// An error in PostgREST's shape: `{code, message, details, hint}` with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    /// HTTP status.
    pub status: u16,
    /// PostgREST (`PGRST…`) or SQLSTATE code.
    pub code: String,
    /// Message.
    pub message: String,
    /// Details, when known.
    pub details: Option<String>,
    /// Hint, when known.
    pub hint: Option<String>,
}

impl RestError {
    /// An error with no details or hint.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            details: None,
            hint: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// Maps a database error as PostgREST does; `anonymous` turns permission errors into 401.
    pub fn from_db(error: &tokio_postgres::Error, anonymous: bool) -> Self {
        let Some(db) = error.as_db_error() else {
            return RestError::new(
                503,
                "PGRST000",
                format!("Database connection error: {error}"),
            );
        };
        let code = db.code().code();
        let status = match code {
            "23505" | "23503" => 409,
            "42501" if anonymous => 401,
            "42501" => 403,
            "42P01" => 404,
            "40001" | "40P01" => 409,
            c if c.starts_with("08") => 503,
            c if c.starts_with("22") || c.starts_with("23") || c.starts_with("42") => 400,
            "P0001" => 400,
            "P0002" => 404,
            _ => 500,
        };
        RestError {
            status,
            code: code.to_owned(),
            message: db.message().to_owned(),
            details: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "hint": self.hint,
        });
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(body)).into_response()
    }
}

/// What the `Prefer` header asks for.
#[derive(Debug, Default, Clone, Copy)]
struct Prefer {
    representation: bool,
    merge_duplicates: bool,
    ignore_duplicates: bool,
    count_exact: bool,
}

impl Prefer {
    fn from_headers(headers: &HeaderMap) -> Self {
        let mut prefer = Prefer::default();
        for value in headers.get_all("prefer") {
            for item in value.to_str().unwrap_or("").split(',') {
                match item.trim() {
                    "return=representation" => prefer.representation = true,
                    "resolution=merge-duplicates" => prefer.merge_duplicates = true,
                    "resolution=ignore-duplicates" => prefer.ignore_duplicates = true,
                    "count=exact" => prefer.count_exact = true,
                    _ => {}
                }
            }
        }
        prefer
    }
}

/// Handles every method on `/rest/v1/<table>`.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    Path(table): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = respond(
        &state,
        &method,
        &table,
        raw.as_deref().unwrap_or(""),
        &headers,
        &body,
    )
    .await;
    match answer {
        Ok(response) if method != Method::GET => match state.faults.take_lost_answer() {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                lost_answer()
            }
            None => response,
        },
        Ok(response) => {
            if let Some(stall) = state.faults.take_stalled_read() {
                tokio::time::sleep(stall).await;
            }
            response
        }
        Err(error) => error.into_response(),
    }
}

/// A response whose body fails before its first byte: the server closes the connection with
/// the write committed and the client never learns the outcome.
fn lost_answer() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, _>(std::io::Error::other(
            "answer lost (dev server fault switch)",
        ))
    });
    Response::new(axum::body::Body::from_stream(failing))
}

async fn respond(
    state: &AppState,
    method: &Method,
    table: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, RestError> {
    let write = !matches!(*method, Method::GET | Method::HEAD);
    let caller = admit(state, headers, write)?;
    let schema: &Schema = &state.schema;
    let columns = schema.table(table).ok_or_else(|| {
        RestError::new(
            404,
            "42P01",
            format!("relation \"public.{table}\" does not exist"),
        )
    })?;
    let query = Query::parse(raw_query)?;
    let prefer = Prefer::from_headers(headers);
    let single = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/vnd.pgrst.object"));
    let input: Option<Value> = if matches!(*method, Method::POST | Method::PATCH) {
        Some(serde_json::from_slice(body).map_err(|e| {
            RestError::new(400, "PGRST102", "Empty or invalid json").with_details(e.to_string())
        })?)
    } else {
        None
    };
    let statement = match *method {
        Method::GET | Method::HEAD => sql::select(table, columns, &query, prefer.count_exact)?,
        Method::POST => {
            let input = input.as_ref().expect("parsed above");
            sql::insert(
                table,
                columns,
                &query,
                input,
                prefer.merge_duplicates,
                prefer.ignore_duplicates,
            )?
        }
        Method::PATCH => sql::update(
            table,
            columns,
            &query,
            input.as_ref().expect("parsed above"),
        )?,
        Method::DELETE => sql::delete(table, columns, &query)?,
        _ => {
            return Err(RestError::new(
                405,
                "PGRST117",
                format!("Unsupported HTTP method: {method}"),
            ))
        }
    };
    let answer = run(state, &caller, &statement).await?;
    // With `Prefer: count=exact` a select answers `[rows, total]`.
    let (rows, total) = match (statement.counted, answer) {
        (true, Value::Array(mut pair)) if pair.len() == 2 => {
            let total = pair[1].as_u64();
            (pair.swap_remove(0), total)
        }
        (_, rows) => (rows, None),
    };
    let count = rows.as_array().map_or(0, Vec::len);
    let start = query.offset.unwrap_or(0);
    let total_text = total.map_or_else(|| "*".to_owned(), |t| t.to_string());
    let range = if count == 0 {
        format!("*/{total_text}")
    } else {
        format!("{start}-{}/{total_text}", start + count as u64 - 1)
    };
    // As PostgREST: a counted answer that holds only part of the rows is partial content.
    let partial = total.is_some_and(|t| t > 0 && (start > 0 || (count as u64) < t));
    let status = match *method {
        Method::POST => StatusCode::CREATED,
        Method::PATCH | Method::DELETE if !prefer.representation => StatusCode::NO_CONTENT,
        _ if partial => StatusCode::PARTIAL_CONTENT,
        _ => StatusCode::OK,
    };
    let returns_rows = matches!(*method, Method::GET | Method::HEAD) || prefer.representation;
    if !returns_rows {
        return Ok((status, [("content-range", range)]).into_response());
    }
    let body = if single {
        match rows.as_array().map(Vec::as_slice) {
            Some([one]) => one.to_string(),
            _ => {
                return Err(RestError::new(
                    406,
                    "PGRST116",
                    "JSON object requested, multiple (or no) rows returned",
                )
                .with_details(format!("The result contains {count} rows")))
            }
        }
    } else {
        rows.to_string()
    };
    Ok((
        status,
        [
            ("content-type", "application/json; charset=utf-8".to_owned()),
            ("content-range", range),
        ],
        body,
    )
        .into_response())
}

/// The caller of a REST request, unless the fault switch fails the request first.
fn admit(state: &AppState, headers: &HeaderMap, write: bool) -> Result<Caller, RestError> {
    if let Some(status) = state.faults.take_rest_failure(write) {
        return Err(RestError::new(
            status,
            "PGRST000",
            "injected failure (dev server fault switch)",
        ));
    }
    state
        .caller_from_headers(headers)
        .map_err(|e| RestError::new(401, "PGRST301", e.rest_message()))
}

/// Runs `statement` in a transaction as the caller.
async fn run(
    state: &AppState,
    caller: &Caller,
    statement: &sql::Statement,
) -> Result<Value, RestError> {
    let mut client =
        state.pool.get().await.map_err(|e| {
            RestError::new(503, "PGRST000", format!("Database connection error: {e}"))
        })?;
    let anonymous = caller.role == "anon";
    let db_error = |e: tokio_postgres::Error| RestError::from_db(&e, anonymous);
    let tx = client.transaction().await.map_err(db_error)?;
    tx.batch_execute(&caller.session_sql())
        .await
        .map_err(db_error)?;
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = statement
        .params
        .iter()
        .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let row = tx
        .query_one(&statement.sql, &params)
        .await
        .map_err(db_error)?;
    let json: Value = row.get(0);
    tx.commit().await.map_err(db_error)?;
    Ok(json)
}
