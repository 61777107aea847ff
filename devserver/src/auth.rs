//! HS256 JWTs and the GoTrue subset supabase-js uses: password sign-in, refresh, current user.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// The claims the dev server signs and reads, as Supabase's do.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// The user id (absent in the anon key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// `anon`, `authenticated` or `service_role`.
    pub role: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at.
    #[serde(default)]
    pub iat: u64,
    /// The user's email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Always `authenticated` for user tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Why a token was refused, worded as PostgREST and Realtime word it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// No token was sent.
    Missing,
    /// The token is past its `exp` by this many seconds.
    Expired(u64),
    /// The signature does not verify.
    BadSignature,
    /// Not a JWT, or claims missing.
    Malformed(String),
}

/// Signs and verifies tokens with one secret.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Lifetime of user access tokens, in seconds.
    pub access_ttl: u64,
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Keys {
    /// Keys for `secret`, issuing access tokens valid for `access_ttl` seconds.
    pub fn new(secret: &str, access_ttl: u64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            access_ttl,
        }
    }

    /// Signs `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing with a valid key cannot fail")
    }

    /// An access token for a user.
    pub fn user_token(&self, user_id: &str, email: &str, ttl: u64) -> String {
        let now = now_secs();
        self.sign(&Claims {
            sub: Some(user_id.to_owned()),
            role: "authenticated".into(),
            exp: now + ttl,
            iat: now,
            email: Some(email.to_owned()),
            aud: Some("authenticated".into()),
        })
    }

    /// The anon key: a long-lived token with role `anon`.
    pub fn anon_key(&self) -> String {
        self.sign(&Claims {
            sub: None,
            role: "anon".into(),
            exp: now_secs() + 10 * 365 * 24 * 3600,
            iat: 0,
            email: None,
            aud: None,
        })
    }

    /// Verifies a token; `expired_before` makes tokens issued before it count as expired (the
    /// fault switch that expires every token).
    pub fn verify(&self, token: &str, expired_before: u64) -> Result<Claims, TokenError> {
        let claims = self.verify_signature(token)?;
        let now = now_secs();
        if claims.exp <= now {
            return Err(TokenError::Expired(now - claims.exp));
        }
        if claims.iat < expired_before && claims.role != "anon" {
            return Err(TokenError::Expired(now.saturating_sub(expired_before)));
        }
        Ok(claims)
    }

    /// The claims of a token this server signed, whatever its age: enough to know whose
    /// session a sign-out ends, never enough to act as that user.
    pub fn verify_signature(&self, token: &str) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = decode::<Value>(token, &self.decoding, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Malformed(e.to_string()),
            }
        })?;
        serde_json::from_value(data.claims).map_err(|_| {
            TokenError::Malformed("Fields `role` and `exp` are required in JWT".into())
        })
    }
}

impl TokenError {
    /// The message PostgREST sends with PGRST301.
    pub fn rest_message(&self) -> String {
        match self {
            TokenError::Missing => "No API key found in request".into(),
            TokenError::Expired(_) => "JWT expired".into(),
            TokenError::BadSignature => "JWSError JWSInvalidSignature".into(),
            TokenError::Malformed(m) => format!("JWSError (CompactDecodeError {m})"),
        }
    }

    /// The join error reason the Realtime server sends.
    pub fn realtime_reason(&self) -> String {
        match self {
            TokenError::Missing => {
                "InvalidJWTToken: Fields `role` and `exp` are required in JWT".into()
            }
            TokenError::Expired(ago) => {
                format!("InvalidJWTToken: Token has expired {ago} seconds ago")
            }
            TokenError::BadSignature => {
                "JwtSignatureError: Failed to validate JWT signature".into()
            }
            TokenError::Malformed(m) => format!("MalformedJWT: {m}"),
        }
    }
}

/// A fresh random secret: 16 bytes from the kernel, in hex.
pub fn random_secret() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
