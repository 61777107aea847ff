//! Shared server state and the caller identity every request resolves first.

use crate::auth::{Claims, Keys, TokenError};
use crate::faults::Faults;
use crate::realtime::hub::Hub;
use crate::schema::Schema;
use axum::http::HeaderMap;
use deadpool_postgres::Pool;
use std::sync::Arc;

/// Everything handlers share.
pub struct AppState {
    /// Connections for REST, as the authenticator role.
    pub pool: Pool,
    /// Connections for auth and Realtime authorization, as the database URL's user.
    pub system_pool: Pool,
    /// Token signing and verification.
    pub keys: Keys,
    /// The anon key clients send as `apikey`.
    pub anon_key: String,
    /// Tables and columns.
    pub schema: Schema,
    /// Fault switches (inert unless enabled).
    pub faults: Arc<Faults>,
    /// Realtime connections and subscriptions.
    pub hub: Arc<Hub>,
    /// Bytes of frames queued for one socket at most; a socket over it is dropped.
    pub max_queued_bytes: usize,
    /// Realtime sockets the server holds at most; more are refused with 503.
    pub max_sockets: usize,
    /// Refresh tokens older than this many seconds are refused (each works once anyway).
    pub refresh_ttl: u64,
    /// Changes larger than this many bytes are sent without their record (`Error 413`).
    pub max_change_bytes: usize,
}

/// Who is calling: the verified claims of the bearer token (or of the anon key).
#[derive(Debug, Clone)]
pub struct Caller {
    /// `anon`, `authenticated` or `service_role`.
    pub role: String,
    /// The claims as JSON, for `request.jwt.claims`.
    pub claims_json: String,
}

impl Caller {
    /// From verified claims; only the three API roles are allowed.
    pub fn from_claims(claims: &Claims) -> Result<Caller, TokenError> {
        match claims.role.as_str() {
            "anon" | "authenticated" | "service_role" => Ok(Caller {
                role: claims.role.clone(),
                claims_json: serde_json::to_string(claims).expect("claims serialize"),
            }),
            other => Err(TokenError::Malformed(format!(
                "role \"{other}\" is not allowed"
            ))),
        }
    }

    /// SQL that makes the current transaction run as this caller.
    pub fn session_sql(&self) -> String {
        format!(
            "set local role {role}; select set_config('request.jwt.claims', '{claims}', true), set_config('request.jwt.claim.role', '{role}', true)",
            role = self.role,
            claims = self.claims_json.replace('\'', "''"),
        )
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
}

impl AppState {
    /// Resolves the caller from `Authorization: Bearer` (or the `apikey` header alone).
    pub fn caller_from_headers(&self, headers: &HeaderMap) -> Result<Caller, TokenError> {
        let bearer = bearer(headers);
        let apikey = headers.get("apikey").and_then(|v| v.to_str().ok());
        let token = bearer.or(apikey).ok_or(TokenError::Missing);
        let claims = token.and_then(|t| self.keys.verify(t, self.faults.expired_before()));
        claims.and_then(|c| Caller::from_claims(&c))
    }
}
