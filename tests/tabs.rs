//! Tabs sharing one database, as clients in one page sharing a database name: one leads (Web
//! Locks), the others write durably and get its events (BroadcastChannel); when the leader
//! closes, another takes over.
#![cfg(target_arch = "wasm32")]

mod support;

use gloo_timers::future::TimeoutFuture;
use rockon_sync::api::SyncClient;
use rockon_sync_core::value::{json, Value};
use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn open_tab(user: &User, database: &str) -> SyncClient {
    let client = open(user, database, URL, json!({})).await;
    client.follow_band(ROCKERS).unwrap();
    client
}

/// Two tabs of `user` on a new database named after `name`: the first leads, the second
/// follows.
async fn two_tabs(user: &User, name: &str) -> (SyncClient, SyncClient) {
    let database = unique(name);
    let first = open_tab(user, &database).await;
    eventually(2_000, "the first tab leads", || async { first.is_leader() }).await;
    let second = open_tab(user, &database).await;
    (first, second)
}

async fn server_has(user: &User, title: &str) -> usize {
    let path = format!("songs?select=id&title=eq.{}", urlencode(title));
    let (status, body) = rest("GET", &path, &user.token, None).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().map_or(0, Vec::len)
}

fn urlencode(text: &str) -> String {
    js_sys::encode_uri_component(text).as_string().unwrap()
}

async fn create(client: &SyncClient, title: String) -> String {
    let row = call(client.create(
        "songs".into(),
        js(json!({"bandId": ROCKERS, "title": title})),
    ))
    .await
    .unwrap();
    to_json(&row)["id"].as_str().unwrap().to_owned()
}

#[wasm_bindgen_test]
async fn a_follower_writes_through_the_leader_and_takes_over_when_it_closes() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let (first, second) = two_tabs(&alice, "tabs-two").await;
    let seen = record(&second);
    TimeoutFuture::new(200).await;
    assert!(!second.is_leader(), "one leader");

    // The follower's write is durable at once and pushed by the leader, exactly once.
    let title = unique("from the follower");
    let id = create(&second, title.clone()).await;
    eventually(5_000, "the follower's song reached the server", || async {
        server_has(&alice, &title).await == 1
    })
    .await;
    eventually(5_000, "the follower sees it synced", || async {
        second.status("songs", &id) == "synced"
    })
    .await;
    // What the network brings reaches the follower too.
    let remote = insert_song(&bob, ROCKERS, &unique("from bob")).await;
    eventually(5_000, "bob's song, relayed", || async {
        events_of(&seen, "change").iter().any(|e| {
            e["source"] == "remote" && e["ids"].as_array().unwrap().contains(&json!(remote))
        })
    })
    .await;
    eventually(
        5_000,
        "the leader's connection, as the follower sees it",
        || async {
            let info = to_json(&second.connection_info());
            info["state"] == "connected" && info["leader"] == false
        },
    )
    .await;

    // The leader closes: the follower leads within 2 s and pushes on.
    let closed_at = js_sys::Date::now();
    first.close();
    eventually(2_000, "a new leader", || async { second.is_leader() }).await;
    let takeover_ms = js_sys::Date::now() - closed_at;
    // The event follows the lock on the next turn of the event loop.
    eventually(2_000, "a leader event", || async {
        events_of(&seen, "leader")
            .iter()
            .any(|e| e["leader"] == true)
    })
    .await;
    let after = unique("after the takeover");
    create(&second, after.clone()).await;
    eventually(10_000, "pushed by the new leader", || async {
        server_has(&alice, &after).await == 1
    })
    .await;
    assert_eq!(server_has(&alice, &title).await, 1, "still exactly once");
    web_sys::console::log_1(&format!("takeover after {takeover_ms} ms").into());
    second.close();
}

#[wasm_bindgen_test]
async fn ten_tabs_one_leader_every_write_lands_once() {
    let alice = sign_in("alice").await;
    let database = unique("tabs-ten");
    let mut tabs = Vec::new();
    for _ in 0..10 {
        tabs.push(open_tab(&alice, &database).await);
    }
    eventually(3_000, "someone leads", || async {
        tabs.iter().any(SyncClient::is_leader)
    })
    .await;
    TimeoutFuture::new(200).await;
    assert_eq!(tabs.iter().filter(|t| t.is_leader()).count(), 1);

    let prefix = unique("ten");
    let writes: Vec<_> = tabs
        .iter()
        .enumerate()
        .map(|(n, tab)| create(tab, format!("{prefix} {n}")))
        .collect();
    futures::future::join_all(writes).await;
    let leader = tabs.iter().position(SyncClient::is_leader).unwrap();
    tabs.remove(leader).close();
    eventually(2_000, "a new leader among nine", || async {
        tabs.iter().filter(|t| t.is_leader()).count() == 1
    })
    .await;
    for n in 0..10 {
        let title = format!("{prefix} {n}");
        eventually(10_000, "every write lands", || async {
            server_has(&alice, &title).await == 1
        })
        .await;
    }
    TimeoutFuture::new(500).await;
    for n in 0..10 {
        assert_eq!(
            server_has(&alice, &format!("{prefix} {n}")).await,
            1,
            "exactly once"
        );
    }
    eventually(5_000, "every tab sees an empty outbox", || async {
        tabs.iter().all(|t| to_json(&t.outbox()) == json!([]))
    })
    .await;
    for tab in tabs {
        tab.close();
    }
}

#[wasm_bindgen_test]
async fn a_tab_that_does_not_lead_never_folds_an_edit_into_the_leaders_entries() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let database = unique("tabs-no-fold");
    let id = insert_song(&bob, ROCKERS, &unique("shared")).await;
    let leader = open_tab(&alice, &database).await;
    eventually(2_000, "the first tab leads", || async {
        leader.is_leader()
    })
    .await;
    eventually(10_000, "the song is here", || async {
        local(&leader, &id).await != Value::Null
    })
    .await;
    // The leader holds its edit (offline): an entry never sent.
    leader.set_online(false);
    call(leader.update("songs".into(), id.clone(), js(json!({"key": "E"}))))
        .await
        .unwrap();
    // A second tab, not leading, edits another field of the same row.
    let follower = open_tab(&alice, &database).await;
    call(follower.update(
        "songs".into(),
        id.clone(),
        js(json!({"notes": "from the follower"})),
    ))
    .await
    .unwrap();
    assert!(!follower.is_leader());
    leader.set_online(true);
    eventually(10_000, "both edits reach the server", || async {
        let path = format!("songs?id=eq.{id}&select=key,notes");
        let (_, rows) = rest("GET", &path, &alice.token, None).await;
        rows[0]["key"] == "E" && rows[0]["notes"] == "from the follower"
    })
    .await;
    leader.close();
    follower.close();
}

/// A write refused for good, discarded in a tab that does not lead: the leading tab gives it
/// up, and both tabs show the row as the server has it now, with another member's change made
/// while the write was pending (which the leader's read path had to skip).
#[wasm_bindgen_test]
async fn a_discard_in_a_tab_that_does_not_lead_shows_the_servers_row_in_every_tab() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let (first, second) = two_tabs(&alice, "tabs-discard").await;
    let id = create(&first, unique("discarded edit")).await;
    eventually(5_000, "created", || async {
        first.status("songs", &id) == "synced"
    })
    .await;
    // The first download has settled: the edit's push is among the next REST calls (a read
    // that takes a 400 instead is retried later).
    TimeoutFuture::new(500).await;
    fault(json!({"action": "fail_rest", "count": 3, "status": 400})).await;
    call(second.update("songs".into(), id.clone(), js(json!({"title": "Alice's"}))))
        .await
        .unwrap();
    eventually(10_000, "refused, as both tabs see it", || async {
        first.status("songs", &id) == "error" && second.status("songs", &id) == "error"
    })
    .await;
    fault(json!({"action": "reset"})).await;
    let path = format!("songs?id=eq.{id}");
    let (status, _) = rest("PATCH", &path, &bob.token, Some(json!({"title": "Bob's"}))).await;
    assert_eq!(status, 200);
    let seq = to_json(&second.outbox())[0]["seq"].as_f64().unwrap();
    assert_eq!(call(second.discard(seq)).await.unwrap(), true);
    for (tab, client) in [("leading", &first), ("other", &second)] {
        eventually(
            5_000,
            &format!("the server's row in the {tab} tab"),
            || async {
                let row = call(client.get("songs".into(), id.clone())).await.unwrap();
                to_json(&row)["title"] == "Bob's" && client.status("songs", &id) == "synced"
            },
        )
        .await;
    }
    first.close();
    second.close();
}
