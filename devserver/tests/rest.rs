//! REST behaviours the sync layer relies on.

mod support;

use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn writes_are_idempotent_conditional_and_tombstoned_with_server_time() {
    let server = Server::start(&[]);
    let bob = token("bob", 3600);
    let id = new_id();
    let row = json!({"id": id, "band_id": ROCKERS, "title": "Idempotent"});
    let insert = "songs?on_conflict=id";
    let client = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        client
            .post(format!("{}/rest/v1/{insert}", server.url))
            .header("apikey", &server.anon_key)
            .header("authorization", format!("Bearer {bob}"))
            .header(
                "prefer",
                "return=representation,resolution=ignore-duplicates",
            )
            .json(&body)
            .send()
    };
    let first: serde_json::Value = post(row.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(first[0]["version"], 1);
    // The same insert again changes nothing and returns nothing.
    let again = post(row).await.unwrap();
    assert_eq!(again.status().as_u16(), 201);
    assert_eq!(again.json::<serde_json::Value>().await.unwrap(), json!([]));

    // Conditional update on the current version succeeds, on an old one matches nothing.
    let path = format!("songs?id=eq.{id}&version=eq.1");
    let (status, rows) = server
        .rest("PATCH", &path, &bob, Some(json!({"key": "E"})))
        .await;
    assert_eq!((status, rows[0]["version"].as_i64()), (200, Some(2)));
    let (status, rows) = server
        .rest("PATCH", &path, &bob, Some(json!({"key": "F"})))
        .await;
    assert_eq!((status, rows), (200, json!([])));

    // A tombstone gets the server's clock, not the device's.
    let path = format!("songs?id=eq.{id}&version=eq.2");
    let (_, rows) = server
        .rest(
            "PATCH",
            &path,
            &bob,
            Some(json!({"deleted_at": "1970-01-01T00:00:00Z"})),
        )
        .await;
    let deleted_at = rows[0]["deleted_at"].as_str().unwrap().to_owned();
    assert!(deleted_at.starts_with("20"), "{deleted_at}");
    let (_, rows) = server
        .rest(
            "GET",
            &format!("songs?id=eq.{id}&select=deleted_at,version"),
            &bob,
            None,
        )
        .await;
    assert_eq!(rows[0]["version"], 3);
}

#[tokio::test]
async fn catch_up_queries_page_by_cursor() {
    let server = Server::start(&[]);
    let bob = token("bob", 3600);
    let path = format!(
        "songs?select=id,updated_at&band_id=eq.{ROCKERS}&updated_at=gte.2000-01-01T00:00:00%2B00:00&order=updated_at.asc,id.asc&limit=10"
    );
    let (status, page) = server.rest("GET", &path, &bob, None).await;
    assert_eq!(status, 200);
    let page = page.as_array().unwrap();
    assert_eq!(page.len(), 10);
    let (_, next) = server
        .rest("GET", &format!("{path}&offset=10"), &bob, None)
        .await;
    assert_ne!(page[0]["id"], next[0]["id"]);
    let (_, carol_sees) = server.rest("GET", &path, &token("carol", 3600), None).await;
    assert_eq!(carol_sees, json!([]));
}

#[tokio::test]
async fn keyset_pages_cross_rows_that_share_a_timestamp() {
    let server = Server::start(&[]);
    // One request, one transaction: all 25 rows get the same updated_at.
    let rows: Vec<_> = (0..25)
        .map(|n| json!({"id": new_id(), "band_id": TRIO, "title": format!("t{n}")}))
        .collect();
    let (status, _) = server
        .rest("POST", "songs", &token("carol", 3600), Some(json!(rows)))
        .await;
    assert_eq!(status, 201);
    let carol = token("carol", 3600);
    let base = format!(
        "songs?select=id,updated_at&band_id=eq.{TRIO}&order=updated_at.asc,id.asc&limit=10"
    );
    let mut seen = Vec::new();
    let (_, mut page) = server.rest("GET", &base, &carol, None).await;
    loop {
        let rows = page.as_array().unwrap().clone();
        for row in &rows {
            seen.push(row["id"].as_str().unwrap().to_owned());
        }
        if rows.len() < 10 {
            break;
        }
        let last = rows.last().unwrap();
        let ts = last["updated_at"]
            .as_str()
            .unwrap()
            .replace('+', "%2B")
            .replace(':', "%3A");
        let id = last["id"].as_str().unwrap();
        let next = format!("{base}&or=(updated_at.gt.{ts},and(updated_at.eq.{ts},id.gt.{id}))");
        page = server.rest("GET", &next, &carol, None).await.1;
    }
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice");
    assert!(seen.len() >= 25 + 8, "every row once: {}", seen.len());
}

/// A GET with `Prefer: count=exact` (or without, when `counted` is false): the status, the
/// `Content-Range` header and the number of rows in the body.
async fn counted_get(
    server: &Server,
    path: &str,
    token: &str,
    counted: bool,
) -> (u16, String, usize) {
    let mut request = reqwest::Client::new()
        .get(format!("{}/rest/v1/{path}", server.url))
        .header("apikey", &server.anon_key)
        .header("authorization", format!("Bearer {token}"));
    if counted {
        request = request.header("prefer", "count=exact");
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let range = response
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let rows: Value = response.json().await.expect("JSON rows");
    (status, range, rows.as_array().map_or(0, Vec::len))
}

#[tokio::test]
async fn a_counted_select_says_how_many_rows_match_in_all() {
    let server = Server::start(&[]);
    let bob = token("bob", 3600);
    let all = format!("songs?select=id&band_id=eq.{ROCKERS}");
    let (_, everything) = server.rest("GET", &all, &bob, None).await;
    let total = everything.as_array().unwrap().len();
    assert!(total > 10, "the seed has more than a page of songs");
    let page = format!("{all}&order=id.asc&limit=10");
    // Part of the rows: partial content, with the total after the slash.
    assert_eq!(
        counted_get(&server, &page, &bob, true).await,
        (206, format!("0-9/{total}"), 10)
    );
    assert_eq!(
        counted_get(&server, &format!("{all}&limit=0"), &bob, true).await,
        (206, format!("*/{total}"), 0)
    );
    // All of them: OK. Without the preference the total stays unknown.
    assert_eq!(
        counted_get(&server, &all, &bob, true).await,
        (200, format!("0-{}/{total}", total - 1), total)
    );
    assert_eq!(
        counted_get(&server, &page, &bob, false).await,
        (200, "0-9/*".to_owned(), 10)
    );
    // Row-level security counts too: carol sees none of them.
    assert_eq!(
        counted_get(&server, &page, &token("carol", 3600), true).await,
        (200, "*/0".to_owned(), 0)
    );
}
