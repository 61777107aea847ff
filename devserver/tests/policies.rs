//! The row-level policies of `sql/migrations`, attacked through the REST API as each kind of
//! user: every table × operation × role is one cell, expected allowed or refused, and judged by
//! what the server holds afterwards (read as the band's owner), not by the status code alone.
//! Every cell runs against a band of its own, so an allowed write cannot hide a refused one.

mod support;

use serde_json::{json, Value};
use support::*;

const ALICE: &str = "e1be9b0b-e57b-5640-8ce5-b95c26077d0d";
const BOB: &str = "a992f178-aa00-5f5d-bf95-e7d219c43e16";
const CAROL: &str = "6401d1c2-93ce-522f-b581-7e35232ea80a";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Owner,
    Admin,
    Member,
    Removed,
    Outsider,
    Anon,
}

const ROLES: [Role; 6] = [
    Role::Owner,
    Role::Admin,
    Role::Member,
    Role::Removed,
    Role::Outsider,
    Role::Anon,
];

/// The people of the matrix: alice owns every fixture band, dave is its admin, bob a member,
/// erin a removed member, carol an outsider; anon holds only the anon key.
struct People {
    alice: String,
    dave: (String, String),
    bob: String,
    erin: (String, String),
    carol: String,
    anon: String,
}

impl People {
    fn token(&self, role: Role) -> &str {
        match role {
            Role::Owner => &self.alice,
            Role::Admin => &self.dave.1,
            Role::Member => &self.bob,
            Role::Removed => &self.erin.1,
            Role::Outsider => &self.carol,
            Role::Anon => &self.anon,
        }
    }

    fn id(&self, role: Role) -> Option<&str> {
        match role {
            Role::Owner => Some(ALICE),
            Role::Admin => Some(&self.dave.0),
            Role::Member => Some(BOB),
            Role::Removed => Some(&self.erin.0),
            Role::Outsider => Some(CAROL),
            Role::Anon => None,
        }
    }
}

/// Tallies of the matrix and the cells that went the wrong way.
#[derive(Default)]
struct Tally {
    allowed: usize,
    refused: usize,
    wrong: Vec<String>,
}

impl Tally {
    fn check(&mut self, cell: &str, role: Role, expected: bool, actual: bool) {
        match (expected, actual) {
            (true, true) => self.allowed += 1,
            (false, false) => self.refused += 1,
            _ => self.wrong.push(format!(
                "{cell} as {role:?}: expected {}, was {}",
                verdict(expected),
                verdict(actual)
            )),
        }
    }
}

fn verdict(allowed: bool) -> &'static str {
    if allowed {
        "allowed"
    } else {
        "refused"
    }
}

/// A fresh band owned by alice, with dave as admin, bob as member and erin removed.
async fn band(server: &Server, people: &People) -> String {
    let band = new_id();
    let (status, _) = server
        .rest(
            "POST",
            "bands",
            &people.alice,
            Some(json!({"id": band, "name": "Fixture"})),
        )
        .await;
    assert_eq!(status, 201, "fixture band");
    for (user, role) in [(&people.dave.0, "admin"), (&BOB.to_owned(), "member")] {
        add_member(server, &people.alice, &band, user, role).await;
    }
    add_member(server, &people.alice, &band, &people.erin.0, "member").await;
    let (status, _) = server
        .rest(
            "PATCH",
            &format!(
                "band_memberships?band_id=eq.{band}&user_id=eq.{}",
                people.erin.0
            ),
            &people.alice,
            Some(json!({"deleted_at": "2026-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 200, "erin removed");
    band
}

async fn add_member(server: &Server, owner: &str, band: &str, user: &str, role: &str) {
    let (status, body) = server
        .rest(
            "POST",
            "band_memberships",
            owner,
            Some(json!({"band_id": band, "user_id": user, "role": role})),
        )
        .await;
    assert_eq!(status, 201, "adding {user} as {role}: {body}");
}

/// The rows `path` selects, read as `token`; `None` when the read failed.
async fn read(server: &Server, token: &str, path: &str) -> Option<Vec<Value>> {
    let (status, body) = server.rest("GET", path, token, None).await;
    (status == 200).then(|| body.as_array().cloned()).flatten()
}

/// The one row `path` selects, read as alice (who owns every fixture band).
async fn owner_reads(server: &Server, people: &People, path: &str) -> Option<Value> {
    read(server, &people.alice, path)
        .await
        .expect("the owner's read succeeds")
        .into_iter()
        .next()
}

/// One column of the row `path` selects, read as alice; `None` when the row is gone.
async fn owner_field(server: &Server, people: &People, path: &str, column: &str) -> Option<Value> {
    owner_reads(server, people, path)
        .await
        .map(|row| row[column].clone())
}

/// A valid new row of a band-scoped table, and a text column that any member may edit.
fn synced_row(table: &str, band: &str) -> (Value, &'static str) {
    let id = new_id();
    match table {
        "songs" => (json!({"id": id, "band_id": band, "title": "Cell"}), "notes"),
        "shows" => (json!({"id": id, "band_id": band, "name": "Cell"}), "notes"),
        "setlists" => (json!({"id": id, "band_id": band, "name": "Cell"}), "name"),
        _ => (
            json!({"id": id, "band_id": band, "scheduled_at": "2027-01-01T19:00:00Z"}),
            "notes",
        ),
    }
}

async fn synced_tables(server: &Server, people: &People, tally: &mut Tally) {
    for table in ["songs", "shows", "setlists", "practice_sessions"] {
        for role in ROLES {
            let member = matches!(role, Role::Owner | Role::Admin | Role::Member);
            let actor = people.token(role);

            let band = band(server, people).await;
            let (row, field) = synced_row(table, &band);
            let path = format!("{table}?id=eq.{}", row["id"].as_str().unwrap());
            let (status, _) = server
                .rest("POST", table, &people.alice, Some(row.clone()))
                .await;
            assert_eq!(status, 201);
            let seen = read(server, actor, &path)
                .await
                .is_some_and(|r| r.len() == 1);
            tally.check(&format!("{table} select"), role, member, seen);

            let (new_row, _) = synced_row(table, &band);
            server
                .rest("POST", table, actor, Some(new_row.clone()))
                .await;
            let new_path = format!("{table}?id=eq.{}", new_row["id"].as_str().unwrap());
            let inserted = owner_reads(server, people, &new_path).await.is_some();
            tally.check(&format!("{table} insert"), role, member, inserted);

            server
                .rest("PATCH", &path, actor, Some(json!({field: "changed"})))
                .await;
            let updated = owner_field(server, people, &path, field).await == Some(json!("changed"));
            tally.check(&format!("{table} update"), role, member, updated);

            let tombstone = json!({"deleted_at": "2026-01-01T00:00:00Z"});
            server.rest("PATCH", &path, actor, Some(tombstone)).await;
            let tombstoned = owner_field(server, people, &path, "deleted_at")
                .await
                .is_some_and(|v| !v.is_null());
            tally.check(&format!("{table} tombstone"), role, member, tombstoned);

            server.rest("DELETE", &path, actor, None).await;
            let deleted = owner_reads(server, people, &path).await.is_none();
            tally.check(&format!("{table} hard delete"), role, false, deleted);
        }
    }
}

async fn bands(server: &Server, people: &People, tally: &mut Tally) {
    for role in ROLES {
        let member = matches!(role, Role::Owner | Role::Admin | Role::Member);
        let admin = matches!(role, Role::Owner | Role::Admin);
        let actor = people.token(role);
        let band = band(server, people).await;
        let path = format!("bands?id=eq.{band}");

        let seen = read(server, actor, &path)
            .await
            .is_some_and(|r| r.len() == 1);
        tally.check("bands select", role, member, seen);

        let (status, _) = server
            .rest(
                "POST",
                "bands",
                actor,
                Some(json!({"id": new_id(), "name": "Mine"})),
            )
            .await;
        tally.check("bands insert", role, role != Role::Anon, status == 201);

        server
            .rest("PATCH", &path, actor, Some(json!({"name": "Renamed"})))
            .await;
        let renamed = owner_field(server, people, &path, "name").await == Some(json!("Renamed"));
        tally.check("bands rename", role, admin, renamed);

        let tombstone = json!({"deleted_at": "2026-01-01T00:00:00Z"});
        server.rest("PATCH", &path, actor, Some(tombstone)).await;
        let tombstoned = owner_field(server, people, &path, "deleted_at")
            .await
            .is_some_and(|v| !v.is_null());
        tally.check("bands tombstone", role, role == Role::Owner, tombstoned);

        server.rest("DELETE", &path, actor, None).await;
        let deleted = owner_reads(server, people, &path).await.is_none();
        tally.check("bands hard delete", role, false, deleted);
    }
}

/// Signs up a user nobody else uses, for a cell that adds or removes someone.
async fn newcomer(server: &Server) -> String {
    signup(server, &format!("user-{}@rockon.test", new_id()))
        .await
        .0
}

async fn memberships(server: &Server, people: &People, tally: &mut Tally) {
    let membership =
        |band: &str, user: &str| format!("band_memberships?band_id=eq.{band}&user_id=eq.{user}");
    for role in ROLES {
        let member = matches!(role, Role::Owner | Role::Admin | Role::Member);
        let admin = matches!(role, Role::Owner | Role::Admin);
        let owner = role == Role::Owner;
        let actor = people.token(role);
        let band = band(server, people).await;

        let seen = read(server, actor, &membership(&band, ALICE))
            .await
            .is_some_and(|r| r.len() == 1);
        tally.check("band_memberships select others", role, member, seen);

        for (new_role, expected) in [("member", admin), ("admin", owner), ("owner", false)] {
            let user = newcomer(server).await;
            let body = json!({"band_id": band, "user_id": user, "role": new_role});
            server
                .rest("POST", "band_memberships", actor, Some(body))
                .await;
            let added = owner_reads(server, people, &membership(&band, &user))
                .await
                .is_some();
            tally.check(
                &format!("band_memberships insert {new_role}"),
                role,
                expected,
                added,
            );
        }

        let bob = membership(&band, BOB);
        for (new_role, expected) in [("admin", owner), ("owner", false)] {
            server
                .rest("PATCH", &bob, actor, Some(json!({"role": new_role})))
                .await;
            let changed = owner_field(server, people, &bob, "role").await == Some(json!(new_role));
            tally.check(
                &format!("band_memberships set role {new_role}"),
                role,
                expected,
                changed,
            );
            if changed {
                let (status, _) = server
                    .rest(
                        "PATCH",
                        &bob,
                        &people.alice,
                        Some(json!({"role": "member"})),
                    )
                    .await;
                assert_eq!(status, 200, "bob demoted again");
            }
        }

        let tombstone = json!({"deleted_at": "2026-01-01T00:00:00Z"});
        let user = newcomer(server).await;
        add_member(server, &people.alice, &band, &user, "member").await;
        let target = membership(&band, &user);
        server
            .rest("PATCH", &target, actor, Some(tombstone.clone()))
            .await;
        let removed = owner_field(server, people, &target, "deleted_at")
            .await
            .is_some_and(|v| !v.is_null());
        tally.check("band_memberships remove a member", role, admin, removed);

        let alice = membership(&band, ALICE);
        server
            .rest("PATCH", &alice, actor, Some(tombstone.clone()))
            .await;
        let removed = owner_field(server, people, &alice, "deleted_at")
            .await
            .is_some_and(|v| !v.is_null());
        tally.check("band_memberships remove the owner", role, false, removed);

        let erin = membership(&band, &people.erin.0);
        server
            .rest("PATCH", &erin, actor, Some(json!({"deleted_at": null})))
            .await;
        let restored = owner_field(server, people, &erin, "deleted_at")
            .await
            .is_some_and(|v| v.is_null());
        tally.check(
            "band_memberships restore a removed member",
            role,
            admin,
            restored,
        );

        if let (Some(id), true) = (people.id(role), member && !owner) {
            let own = membership(&band, id);
            server
                .rest("PATCH", &own, actor, Some(tombstone.clone()))
                .await;
            let left = owner_field(server, people, &own, "deleted_at")
                .await
                .is_some_and(|v| !v.is_null());
            tally.check("band_memberships leave", role, true, left);
        }

        let band = self::band(server, people).await;
        let bob = membership(&band, BOB);
        server.rest("DELETE", &bob, actor, None).await;
        let deleted = owner_reads(server, people, &bob).await.is_none();
        tally.check("band_memberships hard delete", role, false, deleted);
    }
    // The owner may not leave his own band without handing it on first.
    let band = band(server, people).await;
    let own = membership(&band, ALICE);
    let tombstone = json!({"deleted_at": "2026-01-01T00:00:00Z"});
    server
        .rest("PATCH", &own, &people.alice, Some(tombstone))
        .await;
    let left = owner_field(server, people, &own, "deleted_at")
        .await
        .is_some_and(|v| !v.is_null());
    tally.check("band_memberships leave", Role::Owner, false, left);
}

async fn profiles(server: &Server, people: &People, tally: &mut Tally) {
    for role in ROLES {
        let actor = people.token(role);
        let signed_in = role != Role::Anon;
        let seen = read(server, actor, &format!("profiles?id=eq.{ALICE}"))
            .await
            .is_some_and(|r| r.len() == 1);
        tally.check("profiles select", role, signed_in, seen);

        let (other, _) = signup(server, &format!("other-{}@rockon.test", new_id())).await;
        let path = format!("profiles?id=eq.{other}");
        server
            .rest(
                "PATCH",
                &path,
                actor,
                Some(json!({"display_name": "Hijacked"})),
            )
            .await;
        let changed =
            owner_field(server, people, &path, "display_name").await == Some(json!("Hijacked"));
        tally.check("profiles update another's", role, false, changed);

        if let Some(id) = people.id(role) {
            let own = format!("profiles?id=eq.{id}");
            let name = format!("Renamed {role:?}");
            server
                .rest("PATCH", &own, actor, Some(json!({"display_name": name})))
                .await;
            let renamed =
                owner_field(server, people, &own, "display_name").await == Some(json!(name));
            tally.check("profiles update own", role, true, renamed);
        }
    }
}

#[tokio::test]
async fn policy_matrix() {
    let server = Server::start(&[]);
    let dave = signup(&server, "dave@rockon.test").await;
    let erin = signup(&server, "erin@rockon.test").await;
    let people = People {
        alice: token("alice", 3600),
        dave,
        bob: token("bob", 3600),
        erin,
        carol: token("carol", 3600),
        anon: server.anon_key.clone(),
    };
    let mut tally = Tally::default();
    synced_tables(&server, &people, &mut tally).await;
    bands(&server, &people, &mut tally).await;
    memberships(&server, &people, &mut tally).await;
    profiles(&server, &people, &mut tally).await;
    println!(
        "policies: {} allowed as expected, {} refused as expected, {} wrong",
        tally.allowed,
        tally.refused,
        tally.wrong.len()
    );
    assert!(
        tally.wrong.is_empty(),
        "wrong cells:\n{}",
        tally.wrong.join("\n")
    );
}
