//! Broadcast from Database as hosted Realtime does it: triggers (migration 0004) write each
//! change to `realtime.messages`, the server reads them from the WAL and sends them to the
//! topic's private subscribers, who were admitted at join by the `realtime.messages` policies.

mod support;

use serde_json::{json, Value};
use support::*;

const BOB: &str = "a992f178-aa00-5f5d-bf95-e7d219c43e16";
const CAROL: &str = "6401d1c2-93ce-522f-b581-7e35232ea80a";

fn join_payload(token: &str, private: bool) -> Value {
    json!({"config": {"broadcast": {"ack": false, "self": false}, "presence": {"key": "", "enabled": false},
                      "postgres_changes": [], "private": private}, "access_token": token})
}

/// Joins `topic` (private unless said otherwise) and returns the reply's payload.
async fn join(client: &mut Phoenix, topic: &str, token: &str, private: bool) -> Value {
    client
        .send(None, topic, "phx_join", join_payload(token, private))
        .await;
    client
        .next_event("phx_reply", 5_000)
        .await
        .expect("join reply")
        .payload
}

async fn joined(server: &Server, topic: &str, token: &str) -> Phoenix {
    let mut client = Phoenix::connect(server, "2.0.0").await;
    let reply = join(&mut client, topic, token, true).await;
    assert_eq!(reply["status"], "ok", "{reply}");
    client
}

async fn database(server: &Server) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&server.database, tokio_postgres::NoTls)
        .await
        .expect("database connection");
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread")]
async fn members_receive_every_change_of_their_band_and_an_outsider_is_refused_at_join() {
    let server = Server::start(&[]);
    let topic = format!("realtime:band:{ROCKERS}");
    let alice = token("alice", 3600);
    let mut bob = joined(&server, &topic, &token("bob", 3600)).await;

    // Carol is in no band with them: refused at join, as on hosted Realtime.
    let mut carol = Phoenix::connect(&server, "2.0.0").await;
    let refused = join(&mut carol, &topic, &token("carol", 3600), true).await;
    assert_eq!(refused["status"], "error");
    assert!(
        refused["response"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("Unauthorized"),
        "{refused}"
    );
    // A public join of the same topic is another channel: it receives nothing.
    let mut public = Phoenix::connect(&server, "2.0.0").await;
    assert_eq!(
        join(&mut public, &topic, &server.anon_key, false).await["status"],
        "ok"
    );

    let id = new_id();
    let song = json!({"id": id, "band_id": ROCKERS, "title": "Creep"});
    assert_eq!(
        server.rest("POST", "songs", &alice, Some(song)).await.0,
        201
    );
    let insert = bob.next_event("broadcast", 3_000).await.expect("insert");
    assert_eq!(insert.topic, topic);
    assert_eq!(insert.join_ref, None);
    let message = &insert.payload;
    assert_eq!(message["type"], "broadcast");
    assert_eq!(message["event"], "INSERT");
    assert!(message["meta"]["id"].is_string(), "{message}");
    let change = &message["payload"];
    assert_eq!(change["operation"], "INSERT");
    assert_eq!(change["schema"], "public");
    assert_eq!(change["table"], "songs");
    assert_eq!(change["record"]["title"], "Creep");
    assert_eq!(change["record"]["band_id"], ROCKERS);
    assert_eq!(change["old_record"], Value::Null);

    let path = format!("songs?id=eq.{id}");
    let edit = json!({"title": "Creep (live)"});
    assert_eq!(server.rest("PATCH", &path, &alice, Some(edit)).await.0, 200);
    let update = bob.next_event("broadcast", 3_000).await.expect("update");
    let change = &update.payload["payload"];
    assert_eq!(change["operation"], "UPDATE");
    assert_eq!(change["record"]["title"], "Creep (live)");
    // Unlike postgres_changes under row-level security, the whole old row is sent: only
    // members were admitted to the topic.
    assert_eq!(change["old_record"]["title"], "Creep");

    assert!(carol.next_event("broadcast", 300).await.is_none());
    assert!(public.next_event("broadcast", 300).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_topic_admits_only_its_user_who_learns_of_a_band_joined() {
    let server = Server::start(&[]);
    let alice = token("alice", 3600);
    let carol_topic = format!("realtime:user:{CAROL}");
    let mut carol = joined(&server, &carol_topic, &token("carol", 3600)).await;
    // Bob may not listen to carol's topic; he may listen to his own.
    let mut bob = Phoenix::connect(&server, "2.0.0").await;
    let refused = join(&mut bob, &carol_topic, &token("bob", 3600), true).await;
    assert_eq!(refused["status"], "error", "{refused}");
    let own = join(
        &mut bob,
        &format!("realtime:user:{BOB}"),
        &token("bob", 3600),
        true,
    )
    .await;
    assert_eq!(own["status"], "ok", "{own}");
    let band_topic = format!("realtime:band:{ROCKERS}");
    let mut band = joined(&server, &band_topic, &alice).await;

    // Alice (the owner) adds carol: carol's topic and the band's topic are told.
    let membership = json!({"band_id": ROCKERS, "user_id": CAROL, "role": "member"});
    let (status, body) = server
        .rest("POST", "band_memberships", &alice, Some(membership))
        .await;
    assert_eq!(status, 201, "{body}");
    let told = carol.next_event("broadcast", 3_000).await.expect("carol");
    assert_eq!(told.payload["payload"]["table"], "band_memberships");
    assert_eq!(told.payload["payload"]["record"]["band_id"], ROCKERS);
    let told = band.next_event("broadcast", 3_000).await.expect("band");
    assert_eq!(told.payload["payload"]["record"]["user_id"], CAROL);
    assert!(bob.next_event("broadcast", 300).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn realtime_send_delivers_committed_messages_to_their_kind_of_channel() {
    let server = Server::start(&[]);
    let topic = format!("realtime:band:{ROCKERS}");
    let mut private = joined(&server, &topic, &token("bob", 3600)).await;
    let mut public = Phoenix::connect(&server, "2.0.0").await;
    assert_eq!(
        join(&mut public, &topic, &server.anon_key, false).await["status"],
        "ok"
    );
    let mut db = database(&server).await;
    let send = |text: &str, private: bool| {
        format!(
            "select realtime.send('{{\"text\": \"{text}\"}}', 'note', 'band:{ROCKERS}', {private})"
        )
    };

    // Rolled back: never sent.
    let tx = db.transaction().await.unwrap();
    tx.batch_execute(&send("rolled back", true)).await.unwrap();
    tx.rollback().await.unwrap();
    db.batch_execute(&send("committed", true)).await.unwrap();
    let message = private.next_event("broadcast", 3_000).await.expect("sent");
    assert_eq!(message.payload["event"], "note");
    assert_eq!(message.payload["payload"]["text"], "committed");
    // realtime.send gives a payload without an id one.
    assert!(message.payload["payload"]["id"].is_string());
    assert!(public.next_event("broadcast", 300).await.is_none());

    db.batch_execute(&send("for everyone", false))
        .await
        .unwrap();
    let message = public.next_event("broadcast", 3_000).await.expect("public");
    assert_eq!(message.payload["payload"]["text"], "for everyone");
    assert!(private.next_event("broadcast", 300).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_older_than_three_days_are_deleted() {
    let server = Server::start(&["--janitor-interval", "1"]);
    let db = database(&server).await;
    db.batch_execute(
        "insert into realtime.messages (topic, extension, event, payload, private, inserted_at) values
           ('band:old', 'broadcast', 'note', '{}', true, now() - interval '4 days'),
           ('band:recent', 'broadcast', 'note', '{}', true, now() - interval '2 days');",
    )
    .await
    .unwrap();
    let topics = || async {
        db.query(
            "select topic from realtime.messages where topic in ('band:old', 'band:recent')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect::<Vec<_>>()
    };
    for _ in 0..50 {
        if topics().await == ["band:recent"] {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("left: {:?}", topics().await);
}
