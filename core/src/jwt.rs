//! Reading the claims of a JSON Web Token the client was handed, without verifying it: the
//! server verifies every request; the client only needs to know whose token it holds (to
//! refuse opening one user's database with another user's token).

/// Why a token's subject could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Not three dot-separated parts.
    NotAJwt,
    /// The payload is not base64url.
    BadEncoding,
    /// The payload is not a JSON object with a string `sub`.
    NoSubject,
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JwtError::NotAJwt => "the access token is not a JWT",
            JwtError::BadEncoding => "the access token's payload is not base64url",
            JwtError::NoSubject => "the access token names no user (no `sub` claim)",
        })
    }
}

/// The `sub` claim (the user id) of `token`.
pub fn subject(token: &str) -> Result<String, JwtError> {
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::NotAJwt);
    };
    let bytes = decode_base64url(payload).ok_or(JwtError::BadEncoding)?;
    // Read as text: one JSON reader in the module, the one every other read goes through.
    let claims = std::str::from_utf8(&bytes).map_err(|_| JwtError::NoSubject)?;
    let claims = crate::json_read::parse(claims).map_err(|_| JwtError::NoSubject)?;
    claims
        .get("sub")
        .and_then(crate::value::Value::as_str)
        .map(str::to_owned)
        .ok_or(JwtError::NoSubject)
}

/// Decodes unpadded (or padded) base64url; `None` on any other character.
fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // {"alg":"HS256","typ":"JWT"} . {"sub":"e1be9b0b-e57b-5640-8ce5-b95c26077d0d","role":"authenticated"} . sig
    const ALICE: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJlMWJlOWIwYi1lNTdiLTU2NDAtOGNlNS1iOTVjMjYwNzdkMGQiLCJyb2xlIjoiYXV0aGVudGljYXRlZCJ9.c2ln";

    #[test]
    fn reads_the_subject_of_a_supabase_token() {
        assert_eq!(
            subject(ALICE).as_deref(),
            Ok("e1be9b0b-e57b-5640-8ce5-b95c26077d0d")
        );
    }

    #[test]
    fn refuses_what_is_not_a_token_with_a_subject() {
        assert_eq!(subject("not a token"), Err(JwtError::NotAJwt));
        assert_eq!(subject("a.b.c.d"), Err(JwtError::NotAJwt));
        assert_eq!(subject("a.b*c.d"), Err(JwtError::BadEncoding));
        assert_eq!(subject("a.!!.c"), Err(JwtError::BadEncoding));
        // {"role":"anon"}: the anon key has no user.
        assert_eq!(
            subject("x.eyJyb2xlIjoiYW5vbiJ9.y"),
            Err(JwtError::NoSubject)
        );
        assert_eq!(subject("x.bm90IGpzb24.y"), Err(JwtError::NoSubject));
    }

    #[test]
    fn decodes_every_length_and_padding() {
        for (encoded, decoded) in [
            ("", ""),
            ("YQ", "a"),
            ("YWI", "ab"),
            ("YWJj", "abc"),
            ("YQ==", "a"),
        ] {
            assert_eq!(decode_base64url(encoded).unwrap(), decoded.as_bytes());
        }
        assert_eq!(decode_base64url("_-8").unwrap(), [0xff, 0xef]);
    }
}
