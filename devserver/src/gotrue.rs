//! `/auth/v1`: the GoTrue subset supabase-js uses (sign-up, password sign-in, refresh, user,
//! logout).

use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio_postgres::Row;

/// A connection for auth's own queries, or the answer GoTrue gives when there is none.
async fn system_client(state: &AppState) -> Result<deadpool_postgres::Client, Response> {
    state.system_pool.get().await.map_err(|_| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unexpected_failure",
            "database unavailable",
        )
    })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "code": status.as_u16(),
        "error_code": code,
        "msg": message,
        "error": if status == StatusCode::UNAUTHORIZED { "unauthorized" } else { "invalid_grant" },
        "error_description": message,
    });
    (status, Json(body)).into_response()
}

/// `POST /auth/v1/token?grant_type=password|refresh_token`.
pub async fn token(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    let client = match system_client(&state).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let field = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let user = match params.get("grant_type").map(String::as_str) {
        Some("password") => {
            let (email, password) = (field("email"), field("password"));
            client
                .query_opt(
                    "select id::text, email, raw_user_meta_data, created_at::text from auth.users
                     where email = $1 and encrypted_password = crypt($2, encrypted_password)",
                    &[&email, &password],
                )
                .await
        }
        Some("refresh_token") => {
            let refresh = field("refresh_token");
            client
                .query_opt(
                    "with used as (
                       update rockon_devserver.refresh_tokens set revoked = true
                       where token = $1 and not revoked
                         and created_at > now() - make_interval(secs => $2::float8)
                       returning user_id)
                     select u.id::text, u.email, u.raw_user_meta_data, u.created_at::text
                     from auth.users u join used on used.user_id = u.id",
                    &[&refresh, &(state.refresh_ttl as f64)],
                )
                .await
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "grant_type must be password or refresh_token",
            )
        }
    };
    let row = match user {
        Ok(Some(row)) => row,
        Ok(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_credentials",
                "Invalid login credentials",
            )
        }
        Err(_) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unexpected_failure",
                "database error",
            )
        }
    };
    session(&state, &client, &row).await
}

/// A new session for the user in `row` (id, email, metadata, created_at): an access token and
/// a fresh refresh token, in GoTrue's shape.
async fn session(state: &AppState, client: &deadpool_postgres::Client, row: &Row) -> Response {
    let id: String = row.get(0);
    let email: String = row.get(1);
    let metadata: Value = row.get(2);
    let created_at: String = row.get(3);
    let refresh = match client
        .query_one(
            "insert into rockon_devserver.refresh_tokens (token, user_id)
             values (encode(gen_random_bytes(24), 'hex'), $1::text::uuid) returning token",
            &[&id],
        )
        .await
    {
        Ok(row) => row.get::<_, String>(0),
        Err(_) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unexpected_failure",
                "database error",
            )
        }
    };
    let ttl = state.keys.access_ttl;
    let access = state.keys.user_token(&id, &email, ttl);
    let now = crate::auth::now_secs();
    Json(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": ttl,
        "expires_at": now + ttl,
        "refresh_token": refresh,
        "user": user_json(&id, &email, &metadata, &created_at),
    }))
    .into_response()
}

/// `POST /auth/v1/signup` with `{email, password, data}`: creates a confirmed user (and the
/// profile the app reads, named by `data.display_name` or the email) and signs it in, as a
/// hosted project with e-mail confirmation turned off does.
pub async fn signup(State(state): State<Arc<AppState>>, Json(body): Json<Value>) -> Response {
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (email, password) = (text("email").trim().to_lowercase(), text("password"));
    if !email.contains('@') || password.len() < 6 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "an email address and a password of at least 6 characters are required",
        );
    }
    let metadata = body
        .get("data")
        .filter(|data| data.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    let display_name = metadata
        .get("display_name")
        .and_then(Value::as_str)
        .map_or_else(|| email.clone(), str::to_owned);
    let client = match system_client(&state).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let created = client
        .query_opt(
            "with new_user as (
               insert into auth.users (email, encrypted_password, raw_user_meta_data)
               values ($1, crypt($2, gen_salt('bf', 6)), $3)
               on conflict (email) do nothing
               returning id, email, raw_user_meta_data, created_at),
             profile as (
               insert into public.profiles (id, display_name) select id, $4 from new_user)
             select id::text, email, raw_user_meta_data, created_at::text from new_user",
            &[&email, &password, &metadata, &display_name],
        )
        .await;
    match created {
        Ok(Some(row)) => session(&state, &client, &row).await,
        Ok(None) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "user_already_exists",
            "User already registered",
        ),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_failure",
            "database error",
        ),
    }
}

fn user_json(id: &str, email: &str, metadata: &Value, created_at: &str) -> Value {
    json!({
        "id": id,
        "aud": "authenticated",
        "role": "authenticated",
        "email": email,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": metadata,
        "identities": [],
        "created_at": created_at,
        "updated_at": created_at,
    })
}

/// `GET /auth/v1/user`: the signed-in user.
pub async fn user(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let caller = match state.caller_from_headers(&headers) {
        Ok(caller) => caller,
        Err(e) => return error(StatusCode::UNAUTHORIZED, "bad_jwt", &e.rest_message()),
    };
    let claims: Value = serde_json::from_str(&caller.claims_json).unwrap_or(Value::Null);
    let Some(sub) = claims.get("sub").and_then(Value::as_str) else {
        return error(
            StatusCode::FORBIDDEN,
            "no_authorization",
            "This endpoint requires a user token",
        );
    };
    let client = match system_client(&state).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    match client
        .query_opt(
            "select id::text, email, raw_user_meta_data, created_at::text from auth.users where id = $1::text::uuid",
            &[&sub],
        )
        .await
    {
        Ok(Some(row)) => Json(user_json(&row.get::<_, String>(0), &row.get::<_, String>(1), &row.get(2), &row.get::<_, String>(3))).into_response(),
        _ => error(StatusCode::NOT_FOUND, "user_not_found", "User not found"),
    }
}

/// `POST /auth/v1/logout`: revokes every refresh token of the user, whatever the age of the
/// access token presented (an expired one still says whose session ends); a token this server
/// did not sign is refused.
pub async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let bearer = crate::state::bearer(&headers).unwrap_or("");
    let claims = match state.keys.verify_signature(bearer) {
        Ok(claims) => claims,
        Err(e) => return error(StatusCode::UNAUTHORIZED, "bad_jwt", &e.rest_message()),
    };
    let Some(sub) = claims.sub else {
        return error(
            StatusCode::FORBIDDEN,
            "no_authorization",
            "This endpoint requires a user token",
        );
    };
    let client = match system_client(&state).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    match client
        .execute(
            "update rockon_devserver.refresh_tokens set revoked = true where user_id = $1::text::uuid",
            &[&sub],
        )
        .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_failure",
            "database error",
        ),
    }
}
