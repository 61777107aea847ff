//! The read path in a real browser: a band's channel on a real WebSocket to the dev server,
//! remote changes applied to IndexedDB, catch-up pulls, row-level security.
//!
//! The tests of a file run one after another in one page: each closes its clients, or they would
//! go on pulling, following and reconnecting through the later tests, crowding their deadlines.
#![cfg(target_arch = "wasm32")]

mod support;

use js_sys::Array;
use rockon_sync::api::SyncClient;
use rockon_sync_core::value::{json, Value};
use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn changes_with(events: &js_sys::Array, source: &str, id: &str) -> Vec<Value> {
    events_of(events, "change")
        .into_iter()
        .filter(|e| e["source"] == source && e["ids"].as_array().unwrap().iter().any(|i| i == id))
        .collect()
}

#[wasm_bindgen_test]
async fn another_members_changes_arrive_live_and_outsiders_get_nothing() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let carol = sign_in("carol").await;
    let client = open(&alice, &unique("read-alice"), URL, json!({})).await;
    let events = record(&client);
    client.follow_band(ROCKERS).unwrap();
    let outsider = open(&carol, &unique("read-carol"), URL, json!({})).await;
    let outsider_events = record(&outsider);
    outsider.follow_band(ROCKERS).unwrap();

    // Subscribed, then the first pull fills the cache.
    initial_pull_done(&events).await;
    let count = call(client.count("songs".into(), ROCKERS.into()))
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(count >= 20.0, "the band's songs are cached: {count}");

    // Bob inserts, updates and deletes; alice's store follows, with change events.
    let id = format!(
        "{:08x}-0000-4000-8000-{:012x}",
        0xfeed,
        (js_sys::Math::random() * 1e12) as u64
    );
    let (status, _) = rest(
        "POST",
        "songs",
        &bob.token,
        Some(json!({"id": id, "band_id": ROCKERS, "title": "Live one"})),
    )
    .await;
    assert_eq!(status, 201);
    eventually(5_000, "insert arrives", || async {
        local(&client, &id).await["title"] == "Live one"
    })
    .await;
    assert!(!changes_with(&events, "remote", &id).is_empty());
    rest(
        "PATCH",
        &format!("songs?id=eq.{id}"),
        &bob.token,
        Some(json!({"title": "Live two"})),
    )
    .await;
    eventually(5_000, "update arrives", || async {
        local(&client, &id).await["version"] == 2
    })
    .await;
    assert_eq!(local(&client, &id).await["title"], "Live two");
    rest(
        "PATCH",
        &format!("songs?id=eq.{id}"),
        &bob.token,
        Some(json!({"deleted_at": "2000-01-01T00:00:00Z"})),
    )
    .await;
    eventually(5_000, "tombstone arrives", || async {
        local(&client, &id).await["deletedAt"].is_string()
    })
    .await;
    let visible = to_json(
        &call(client.list("songs".into(), ROCKERS.into(), js(json!({}))))
            .await
            .unwrap(),
    );
    assert!(!visible
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == id.as_str()));

    // Carol joined the same channel name but is not a member: no rows, no events.
    assert_eq!(
        call(outsider.count("songs".into(), ROCKERS.into()))
            .await
            .unwrap(),
        0
    );
    assert!(events_of(&outsider_events, "change").is_empty());
    assert!(call(outsider.get("songs".into(), id.clone()))
        .await
        .unwrap()
        .is_undefined());
    client.close();
    outsider.close();
}

#[wasm_bindgen_test]
async fn rows_written_while_the_socket_was_down_are_caught_up() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let client = open(&alice, &unique("read-catchup"), URL, json!({})).await;
    let events = record(&client);
    client.follow_band(ROCKERS).unwrap();
    eventually(10_000, "subscribed", || async {
        events_of(&events, "channel")
            .iter()
            .any(|e| e["state"] == "subscribed")
    })
    .await;
    // The socket dies; bob writes meanwhile; the client reconnects and pulls.
    fault(json!({"action": "drop_sockets"})).await;
    let marker = unique("missed");
    let mut ids = Vec::new();
    for n in 0..200 {
        let id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            n,
            (js_sys::Math::random() * 1e12) as u64
        );
        rest(
            "POST",
            "songs",
            &bob.token,
            Some(json!({"id": id, "band_id": ROCKERS, "title": format!("{marker} {n}")})),
        )
        .await;
        ids.push(id);
    }
    eventually(20_000, "all 200 arrive", || async {
        let mut all = true;
        for id in &ids {
            if local(&client, id).await["title"].is_null() {
                all = false;
                break;
            }
        }
        all
    })
    .await;
    let (_, server) = rest(
        "GET",
        &format!("songs?select=id&band_id=eq.{ROCKERS}"),
        &alice.token,
        None,
    )
    .await;
    let server_count = server.as_array().unwrap().len() as f64;
    eventually(10_000, "counts converge", || async {
        call(client.count("songs".into(), ROCKERS.into()))
            .await
            .unwrap()
            .as_f64()
            .unwrap()
            >= server_count
    })
    .await;
    client.close();
}

fn bands_events(events: &js_sys::Array, key: &str, band: &str) -> bool {
    events_of(events, "bands")
        .iter()
        .any(|e| e[key].as_array().unwrap().iter().any(|b| b == band))
}

#[wasm_bindgen_test]
async fn bands_created_or_joined_later_are_followed_and_removal_purges() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let alice_client = open(&alice, &unique("bands-alice"), URL, json!({})).await;
    let alice_events = record(&alice_client);
    alice_client.connect().unwrap();
    let bob_client = open(&bob, &unique("bands-bob"), URL, json!({})).await;
    let bob_events = record(&bob_client);
    bob_client.connect().unwrap();
    eventually(10_000, "bob follows his band", || async {
        bands_events(&bob_events, "joined", ROCKERS)
    })
    .await;

    // Alice creates a band elsewhere (another device): her client follows it without a reload.
    let band = rockon_sync::io::writer::new_uuid();
    let (status, _) = rest(
        "POST",
        "bands",
        &alice.token,
        Some(json!({"id": band, "name": unique("New band")})),
    )
    .await;
    assert_eq!(status, 201);
    eventually(10_000, "alice follows the new band", || async {
        bands_events(&alice_events, "joined", &band)
    })
    .await;

    // She adds bob and a song: bob's client follows the band and gets its rows.
    let (status, _) = rest(
        "POST",
        "band_memberships",
        &alice.token,
        Some(json!({"band_id": band, "user_id": bob.id, "role": "member"})),
    )
    .await;
    assert_eq!(status, 201);
    let song = rockon_sync::io::writer::new_uuid();
    rest(
        "POST",
        "songs",
        &alice.token,
        Some(json!({"id": song, "band_id": band, "title": "First of many"})),
    )
    .await;
    eventually(10_000, "bob follows the band he was added to", || async {
        bands_events(&bob_events, "joined", &band)
    })
    .await;
    eventually(10_000, "the band's song reaches bob", || async {
        local(&bob_client, &song).await["title"] == "First of many"
    })
    .await;

    // Alice removes him (a tombstone: the policies allow no hard delete): his client leaves
    // the band and purges its data.
    let (status, _) = rest(
        "PATCH",
        &format!("band_memberships?band_id=eq.{band}&user_id=eq.{}", bob.id),
        &alice.token,
        Some(json!({"deleted_at": "2026-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 200);
    eventually(10_000, "bob leaves the band", || async {
        bands_events(&bob_events, "left", &band)
    })
    .await;
    eventually(10_000, "purged", || async {
        call(bob_client.count("songs".into(), band.clone()))
            .await
            .unwrap()
            == 0
    })
    .await;
    assert!(events_of(&bob_events, "change")
        .iter()
        .any(|e| e["source"] == "purge"));
    // Still a member of his first band: nothing of it purged, and its rows here (its first
    // download, several pages by now, may still be running).
    assert!(!events_of(&bob_events, "change")
        .iter()
        .any(|e| e["source"] == "purge" && e["bandId"] == ROCKERS));
    eventually(10_000, "bob keeps his first band's rows", || async {
        call(bob_client.count("songs".into(), ROCKERS.into()))
            .await
            .unwrap()
            .as_f64()
            .unwrap()
            > 0.0
    })
    .await;
    alice_client.close();
    bob_client.close();
}

async fn subscribed_client(user: &User, name: &str, extra: Value) -> (SyncClient, Array) {
    subscribed_client_of(user, &unique(name), extra).await
}

/// Opens `database` for `user`, follows the band and waits until its changes flow.
async fn subscribed_client_of(user: &User, database: &str, extra: Value) -> (SyncClient, Array) {
    let client = open(user, database, URL, extra).await;
    let events = record(&client);
    client.follow_band(ROCKERS).unwrap();
    eventually(10_000, "subscribed", || async {
        events_of(&events, "channel")
            .iter()
            .any(|e| e["state"] == "subscribed")
    })
    .await;
    (client, events)
}

/// Reads whose answers stall (held 30 s by the server) are given up after `requestTimeoutMs`
/// and the pull is asked again (with backoff, from one second): the band's rows arrive long
/// before the stalled answers would have, with no anti-entropy pull (a band followed alone
/// has none) and no socket event to prompt it.
#[wasm_bindgen_test]
async fn stalled_reads_are_aborted_and_asked_again() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let id = insert_song(&bob, ROCKERS, "behind a stall").await;
    fault(json!({"action": "stall_reads", "count": 2, "seconds": 30})).await;
    let extra = json!({"requestTimeoutMs": 1_000});
    let client = open(&alice, &unique("stalled-reads"), URL, extra).await;
    let _events = record(&client);
    client.follow_band(ROCKERS).unwrap();
    eventually(
        10_000,
        "the row arrives despite the stalled reads",
        || async { local(&client, &id).await["title"] == "behind a stall" },
    )
    .await;
    fault(json!({"action": "reset"})).await;
    client.close();
}

#[wasm_bindgen_test]
async fn while_sockets_are_refused_the_client_polls_over_rest() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let extra = json!({"pollAfterFailedConnects": 1, "pollIntervalMs": 300});
    let (client, events) = subscribed_client(&alice, "refused", extra).await;
    fault(json!({"action": "refuse_sockets", "seconds": 10})).await;
    fault(json!({"action": "drop_sockets"})).await;
    eventually(5_000, "reconnecting", || async {
        events_of(&events, "connection")
            .iter()
            .any(|e| e["state"] == "reconnecting")
    })
    .await;
    let id = insert_song(&bob, ROCKERS, "Polled").await;
    eventually(4_000, "arrives by polling while refused", || async {
        local(&client, &id).await["title"] == "Polled"
    })
    .await;
    assert!(!changes_with(&events, "pull", &id).is_empty());
    fault(json!({"action": "reset"})).await;
    eventually(15_000, "the socket is back", || async {
        events_of(&events, "connection")
            .last()
            .is_some_and(|e| e["state"] == "connected")
    })
    .await;
    client.close();
}

#[wasm_bindgen_test]
async fn duplicated_and_reordered_frames_converge_on_the_newest_version() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let (client, _events) = subscribed_client(&alice, "shuffled", json!({})).await;
    let id = insert_song(&bob, ROCKERS, "v1").await;
    eventually(5_000, "insert", || async {
        local(&client, &id).await["version"] == 1
    })
    .await;
    fault(json!({"action": "frames", "duplicate": true, "reorder": true})).await;
    for n in 2..=11 {
        rest(
            "PATCH",
            &format!("songs?id=eq.{id}"),
            &bob.token,
            Some(json!({"title": format!("v{n}")})),
        )
        .await;
    }
    eventually(5_000, "newest version wins", || async {
        local(&client, &id).await["version"] == 11
    })
    .await;
    fault(json!({"action": "reset"})).await;
    // Nothing older overwrote it afterwards.
    gloo_timers::future::TimeoutFuture::new(300).await;
    assert_eq!(local(&client, &id).await["title"], "v11");
    client.close();
}

#[wasm_bindgen_test]
async fn an_expired_token_on_the_socket_asks_for_a_new_one_and_resumes() {
    let alice = sign_in("alice").await;
    let (client, events) = subscribed_client(&alice, "socket-expiry", json!({})).await;
    fault(json!({"action": "expire_tokens"})).await;
    eventually(5_000, "auth event", || async {
        !events_of(&events, "auth").is_empty()
    })
    .await;
    gloo_timers::future::TimeoutFuture::new(1_100).await;
    let fresh = sign_in("alice").await;
    let bob_fresh = sign_in("bob").await;
    let before = events_of(&events, "channel")
        .iter()
        .filter(|e| e["state"] == "subscribed")
        .count();
    client.set_auth(fresh.token.clone());
    eventually(5_000, "rejoined", || async {
        events_of(&events, "channel")
            .iter()
            .filter(|e| e["state"] == "subscribed")
            .count()
            > before
    })
    .await;
    let id = insert_song(&bob_fresh, ROCKERS, "After renewal").await;
    eventually(5_000, "changes flow again", || async {
        local(&client, &id).await["title"] == "After renewal"
    })
    .await;
    fault(json!({"action": "reset"})).await;
    client.close();
}

#[wasm_bindgen_test]
async fn malformed_frames_are_reported_and_the_connection_survives() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let (client, events) = subscribed_client(&alice, "malformed", json!({})).await;
    fault(json!({"action": "malformed_frame"})).await;
    eventually(5_000, "protocol error event", || async {
        !events_of(&events, "protocolError").is_empty()
    })
    .await;
    let id = insert_song(&bob, ROCKERS, "Still flowing").await;
    eventually(5_000, "changes still flow", || async {
        local(&client, &id).await["title"] == "Still flowing"
    })
    .await;
    client.close();
}

#[wasm_bindgen_test]
async fn writes_made_before_the_subscription_is_confirmed_are_not_missed() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let client = open(&alice, &unique("early"), URL, json!({})).await;
    client.follow_band(ROCKERS).unwrap();
    // Written at once, while the join is still in flight.
    let id = insert_song(&bob, ROCKERS, "Early").await;
    eventually(5_000, "not missed", || async {
        local(&client, &id).await["title"] == "Early"
    })
    .await;
    client.close();
}

#[wasm_bindgen_test]
async fn the_echo_of_an_own_write_is_silent() {
    let alice = sign_in("alice").await;
    let (client, events) = subscribed_client(&alice, "echo", json!({})).await;
    let values = js(json!({"bandId": ROCKERS, "title": unique("mine")}));
    let row = to_json(&call(client.create("songs".into(), values)).await.unwrap());
    let id = row["id"].as_str().unwrap().to_owned();
    eventually(5_000, "synced", || async {
        client.status("songs", &id) == "synced"
    })
    .await;
    // Give the echo time to arrive: it is applied (nothing newer) and announced to nobody.
    gloo_timers::future::TimeoutFuture::new(500).await;
    assert!(changes_with(&events, "remote", &id).is_empty());
    assert_eq!(local(&client, &id).await["version"], 1);
    client.close();
}

/// How a song reached the client: `pull` (catch-up) or `remote` (live).
async fn arrival(events: &Array, id: &str) -> String {
    let source_of = || {
        events_of(events, "change")
            .into_iter()
            .find(|e| {
                e["table"] == "songs"
                    && e["ids"]
                        .as_array()
                        .is_some_and(|ids| ids.contains(&json!(id)))
            })
            .map(|e| e["source"].as_str().unwrap_or("").to_owned())
    };
    eventually(10_000, "the song arrives", || async {
        source_of().is_some()
    })
    .await;
    source_of().unwrap_or_default()
}

#[wasm_bindgen_test]
async fn switching_how_changes_arrive_loses_nothing() {
    let alice = sign_in("alice").await;
    let bob = sign_in("bob").await;
    let database = unique("read-switch");
    let mut modes = ["postgres_changes", "broadcast", "postgres_changes"].into_iter();
    let first = json!({ "changes": modes.next().unwrap() });
    let (mut client, mut events) = subscribed_client_of(&alice, &database, first).await;
    for mode in modes {
        // A row written just after the join can be read by the join's catch-up pull before
        // its change arrives (then it counts as pulled); one written after that arrives live.
        let mut arrived = String::new();
        for _ in 0..3 {
            let live = insert_song(&bob, ROCKERS, &unique("live")).await;
            arrived = arrival(&events, &live).await;
            if arrived == "remote" {
                break;
            }
        }
        assert_eq!(arrived, "remote", "live before {mode}");
        client.close();
        // Written while the app is closed, then the app comes back receiving changes the
        // other way: the join's catch-up pulls it, and live changes flow again.
        let missed = insert_song(&bob, ROCKERS, &unique("missed")).await;
        (client, events) =
            subscribed_client_of(&alice, &database, json!({ "changes": mode })).await;
        assert_eq!(
            arrival(&events, &missed).await,
            "pull",
            "caught up in {mode}"
        );
        let live = insert_song(&bob, ROCKERS, &unique("live")).await;
        assert_eq!(arrival(&events, &live).await, "remote", "live in {mode}");
    }
    client.close();
}

#[wasm_bindgen_test]
async fn a_first_pull_reports_its_progress_up_to_the_servers_count() {
    let alice = sign_in("alice").await;
    let band = rockon_sync::io::writer::new_uuid();
    let (status, body) = rest(
        "POST",
        "bands",
        &alice.token,
        Some(json!({"id": band, "name": unique("big band")})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let songs: Vec<Value> = (0..2_500)
        .map(|n| json!({"id": rockon_sync::io::writer::new_uuid(), "band_id": band, "title": format!("Song {n}")}))
        .collect();
    let (status, _) = rest("POST", "songs", &alice.token, Some(json!(songs))).await;
    assert_eq!(status, 201);
    let shows: Vec<Value> = (0..30)
        .map(|n| json!({"id": rockon_sync::io::writer::new_uuid(), "band_id": band, "name": format!("Show {n}")}))
        .collect();
    let (status, _) = rest("POST", "shows", &alice.token, Some(json!(shows))).await;
    assert_eq!(status, 201);

    let client = open(&alice, &unique("progress"), URL, json!({})).await;
    let events = record(&client);
    client.follow_band(&band).unwrap();
    let of_band = || {
        events_of(&events, "progress")
            .into_iter()
            .filter(|e| e["bandId"] == band.as_str())
            .collect::<Vec<Value>>()
    };
    eventually(20_000, "the pull finishes", || async {
        of_band().iter().any(|e| e["finished"] == true)
    })
    .await;
    let progress = of_band();
    // The counts come first: the whole total is known before a row is read.
    assert_eq!(
        (&progress[0]["done"], &progress[0]["total"]),
        (&json!(0), &json!(2_530))
    );
    let done: Vec<u64> = progress
        .iter()
        .map(|e| e["done"].as_u64().unwrap())
        .collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    assert!(
        done.iter().any(|&d| d > 0 && d < 2_530),
        "it moves through the pages: {done:?}"
    );
    let last = progress.last().unwrap();
    assert_eq!(
        (&last["done"], &last["total"], &last["finished"]),
        (&json!(2_530), &json!(2_530), &json!(true))
    );
    assert!(
        progress.iter().all(|e| e["total"] == 2_530),
        "the total holds: {progress:?}"
    );
    // Over: no longer in the connection info, and every row is here.
    let info = to_json(&client.connection_info());
    assert!(info["progress"].get(&band).is_none(), "{info}");
    assert_eq!(
        call(client.count("songs".into(), band.clone()))
            .await
            .unwrap(),
        2_500
    );
    client.close();
}
