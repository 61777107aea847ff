//! The GoTrue subset: sign-up, sign-out that ends the session whatever the token's age, and
//! refresh tokens that expire.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::*;

async fn auth(server: &Server, path: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/auth/v1/{path}", server.url))
        .header("apikey", &server.anon_key)
        .json(&body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().await.expect("auth request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn password(server: &Server, email: &str, password: &str) -> (u16, Value) {
    let body = json!({"email": email, "password": password});
    auth(server, "token?grant_type=password", None, body).await
}

async fn refresh(server: &Server, session: &Value) -> (u16, Value) {
    let body = json!({"refresh_token": session["refresh_token"]});
    auth(server, "token?grant_type=refresh_token", None, body).await
}

#[tokio::test]
async fn a_new_user_signs_up_once_and_then_signs_in() {
    let server = Server::start(&[]);
    let (id, token) = signup(&server, "dana@rockon.test").await;
    let (status, profile) = server
        .rest(
            "GET",
            &format!("profiles?id=eq.{id}&select=display_name"),
            &token,
            None,
        )
        .await;
    assert_eq!(
        (status, &profile[0]["display_name"]),
        (200, &json!("dana@rockon.test"))
    );
    let again = json!({"email": "dana@rockon.test", "password": "other-password"});
    let (status, body) = auth(&server, "signup", None, again).await;
    assert_eq!(
        (status, &body["error_code"]),
        (422, &json!("user_already_exists"))
    );
    let (status, session) = password(&server, "dana@rockon.test", "rockon-test").await;
    assert_eq!((status, &session["user"]["id"]), (200, &json!(id)));
    let (status, _) = password(&server, "dana@rockon.test", "other-password").await;
    assert_eq!(status, 400, "the second sign-up changed nothing");
}

#[tokio::test]
async fn sign_out_with_an_expired_access_token_still_ends_the_session() {
    let server = Server::start(&["--token-ttl", "1"]);
    let (status, first) = password(&server, "alice@rockon.test", "rockon").await;
    assert_eq!(status, 200);
    let (status, session) = refresh(&server, &first).await;
    assert_eq!(status, 200, "refresh works while signed in");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let expired = session["access_token"].as_str().unwrap();
    assert_eq!(
        server.rest("GET", "songs?limit=1", expired, None).await.0,
        401
    );

    let (status, _) = auth(&server, "logout", Some(expired), json!({})).await;
    assert_eq!(status, 204);
    let (status, _) = refresh(&server, &session).await;
    assert_eq!(status, 400, "the session's refresh token is revoked");

    // A token this server did not sign ends nothing.
    let forged =
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQiLCJleHAiOjF9.c2ln";
    let (status, _) = auth(&server, "logout", Some(forged), json!({})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn refresh_tokens_expire() {
    let server = Server::start(&["--refresh-ttl", "1"]);
    let (_, fresh) = password(&server, "bob@rockon.test", "rockon").await;
    let (status, _) = refresh(&server, &fresh).await;
    assert_eq!(status, 200, "a fresh refresh token works");
    let (_, old) = password(&server, "bob@rockon.test", "rockon").await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let (status, body) = refresh(&server, &old).await;
    assert_eq!(
        (status, &body["error_code"]),
        (400, &json!("invalid_credentials"))
    );
}
