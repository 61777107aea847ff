//! Attacks by members on the seeded data, each next to the same request made by the user the
//! policies do allow: bob is a plain member of The Rockers (owned by alice), carol owns Carol's
//! Trio.

mod support;

use serde_json::json;
use support::*;

const BOB: &str = "a992f178-aa00-5f5d-bf95-e7d219c43e16";

async fn role_of(server: &Server, token: &str, band: &str, user: &str) -> serde_json::Value {
    let (status, rows) = server
        .rest(
            "GET",
            &format!("band_memberships?band_id=eq.{band}&user_id=eq.{user}&select=role,deleted_at"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    rows[0].clone()
}

async fn songs_seen(server: &Server, token: &str, band: &str) -> usize {
    let (status, rows) = server
        .rest(
            "GET",
            &format!("songs?band_id=eq.{band}&select=id"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    rows.as_array().unwrap().len()
}

#[tokio::test]
async fn a_member_cannot_promote_himself_but_the_owner_can_promote_him() {
    let server = Server::start(&[]);
    let (alice, bob) = (token("alice", 3600), token("bob", 3600));
    let path = format!("band_memberships?band_id=eq.{ROCKERS}&user_id=eq.{BOB}");
    let (status, _) = server
        .rest("PATCH", &path, &bob, Some(json!({"role": "owner"})))
        .await;
    assert_eq!(status, 403, "bob's self-promotion is refused");
    let (status, _) = server
        .rest("PATCH", &path, &bob, Some(json!({"role": "admin"})))
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        role_of(&server, &alice, ROCKERS, BOB).await["role"],
        "member"
    );

    let (status, _) = server
        .rest("PATCH", &path, &alice, Some(json!({"role": "admin"})))
        .await;
    assert_eq!(status, 200, "the owner promotes bob");
    assert_eq!(
        role_of(&server, &alice, ROCKERS, BOB).await["role"],
        "admin"
    );
}

#[tokio::test]
async fn a_membership_cannot_be_moved_to_another_band() {
    let server = Server::start(&[]);
    let (bob, carol) = (token("bob", 3600), token("carol", 3600));
    let own_band = new_id();
    let (status, _) = server
        .rest(
            "POST",
            "bands",
            &bob,
            Some(json!({"id": own_band, "name": "Bob's band"})),
        )
        .await;
    assert_eq!(status, 201);
    let (_, rows) = server
        .rest(
            "GET",
            &format!("band_memberships?band_id=eq.{own_band}&user_id=eq.{BOB}&select=id,role"),
            &bob,
            None,
        )
        .await;
    assert_eq!(rows[0]["role"], "owner", "the creator owns the band");
    let membership = rows[0]["id"].as_str().unwrap().to_owned();

    let (status, _) = server
        .rest(
            "PATCH",
            &format!("band_memberships?id=eq.{membership}"),
            &bob,
            Some(json!({"band_id": TRIO})),
        )
        .await;
    assert_eq!(status, 403, "moving the membership to the Trio is refused");
    assert_eq!(songs_seen(&server, &bob, TRIO).await, 0);
    assert_eq!(
        songs_seen(&server, &carol, TRIO).await,
        8,
        "carol still reads her songs"
    );
    let carol_row = role_of(
        &server,
        &carol,
        TRIO,
        "6401d1c2-93ce-522f-b581-7e35232ea80a",
    )
    .await;
    assert_eq!(carol_row, json!({"role": "owner", "deleted_at": null}));

    // Bob still manages his own band: renaming it is allowed.
    let (status, rows) = server
        .rest(
            "PATCH",
            &format!("bands?id=eq.{own_band}"),
            &bob,
            Some(json!({"name": "Bob's renamed band"})),
        )
        .await;
    assert_eq!(
        (status, rows[0]["name"].as_str()),
        (200, Some("Bob's renamed band"))
    );
}

#[tokio::test]
async fn a_removed_member_cannot_undo_his_removal_but_the_owner_can() {
    let server = Server::start(&[]);
    let (alice, bob) = (token("alice", 3600), token("bob", 3600));
    let path = format!("band_memberships?band_id=eq.{ROCKERS}&user_id=eq.{BOB}");
    let (status, _) = server
        .rest(
            "PATCH",
            &path,
            &alice,
            Some(json!({"deleted_at": "2026-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 200, "alice removes bob");
    assert_eq!(songs_seen(&server, &bob, ROCKERS).await, 0);

    let (status, _) = server
        .rest("PATCH", &path, &bob, Some(json!({"deleted_at": null})))
        .await;
    assert_eq!(status, 403, "bob's own restore is refused");
    assert_eq!(songs_seen(&server, &bob, ROCKERS).await, 0);
    assert!(!role_of(&server, &bob, ROCKERS, BOB).await["deleted_at"].is_null());

    let (status, _) = server
        .rest("PATCH", &path, &alice, Some(json!({"deleted_at": null})))
        .await;
    assert_eq!(status, 200, "alice restores bob");
    assert_eq!(songs_seen(&server, &bob, ROCKERS).await, 24);
}

#[tokio::test]
async fn a_row_stays_in_its_band_while_its_fields_stay_editable() {
    let server = Server::start(&[]);
    let alice = token("alice", 3600);
    // alice owns a second band, so she is a member of both ends of the move.
    let other = new_id();
    let (status, _) = server
        .rest(
            "POST",
            "bands",
            &alice,
            Some(json!({"id": other, "name": "Side project"})),
        )
        .await;
    assert_eq!(status, 201);
    let song = "a36f22b9-c44d-5b3c-87de-b3221d305c8a";
    let path = format!("songs?id=eq.{song}");
    let (status, _) = server
        .rest("PATCH", &path, &alice, Some(json!({"band_id": other})))
        .await;
    assert_eq!(status, 403, "moving Wonderwall is refused");
    let (status, rows) = server
        .rest("PATCH", &path, &alice, Some(json!({"tempo": 90})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (rows[0]["band_id"].as_str(), rows[0]["tempo"].as_i64()),
        (Some(ROCKERS), Some(90))
    );
}

async fn transfer(server: &Server, token: &str, band: &str, to: &str) -> u16 {
    let body = json!({"band": band, "new_owner": to});
    server
        .rest("POST", "rpc/transfer_band_ownership", token, Some(body))
        .await
        .0
}

#[tokio::test]
async fn ownership_moves_only_by_the_owner_through_transfer_band_ownership() {
    let server = Server::start(&[]);
    let (alice, bob, carol) = (
        token("alice", 3600),
        token("bob", 3600),
        token("carol", 3600),
    );
    const ALICE: &str = "e1be9b0b-e57b-5640-8ce5-b95c26077d0d";
    // Neither a member, nor an outsider, nor the anon key may take the band.
    assert_eq!(transfer(&server, &bob, ROCKERS, BOB).await, 403);
    assert_eq!(
        transfer(
            &server,
            &carol,
            ROCKERS,
            "6401d1c2-93ce-522f-b581-7e35232ea80a"
        )
        .await,
        403
    );
    assert_eq!(
        transfer(&server, &server.anon_key.clone(), ROCKERS, BOB).await,
        401
    );
    // The owner cannot hand it to someone outside the band.
    assert_eq!(
        transfer(
            &server,
            &alice,
            ROCKERS,
            "6401d1c2-93ce-522f-b581-7e35232ea80a"
        )
        .await,
        404
    );
    assert_eq!(
        role_of(&server, &alice, ROCKERS, ALICE).await["role"],
        "owner"
    );

    // The owner hands it to bob, and stays on as an admin.
    assert_eq!(transfer(&server, &alice, ROCKERS, BOB).await, 204);
    assert_eq!(role_of(&server, &bob, ROCKERS, BOB).await["role"], "owner");
    assert_eq!(
        role_of(&server, &bob, ROCKERS, ALICE).await["role"],
        "admin"
    );
    // And now only bob may hand it on.
    assert_eq!(transfer(&server, &alice, ROCKERS, ALICE).await, 403);
    assert_eq!(transfer(&server, &bob, ROCKERS, ALICE).await, 204);
    assert_eq!(
        role_of(&server, &alice, ROCKERS, ALICE).await["role"],
        "owner"
    );
}
