//! The event bus: events leave on commit only, and every server process on
//! the database delivers them.

use std::time::Duration;

use diesel_async::AsyncConnection;
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::ws::{connect, init, next, send};
use yuyunqian::config::EventTransport;
use yuyunqian::db::ids::UserId;
use yuyunqian::events::Event;

const ME_UPDATED: &str = "subscription { meUpdated { email } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_second_server_process_delivers_events_of_the_first() {
    let first = TestApp::spawn().await;
    let second = first.second_instance().await;
    let person = first.register("13800000601").await;
    let addr = second.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    assert_eq!(
        init(&mut socket, Some(&person.token)).await["type"],
        "connection_ack"
    );
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": ME_UPDATED } }),
    )
    .await;
    tokio::time::sleep(crate::helpers::ws::SUBSCRIPTION_SETTLE).await;
    // The change happens on the first process; the socket is on the second.
    first
        .gql_as(
            &person.token,
            "mutation { changeEmail(email: \"two@example.com\") { email } }",
            json!({}),
        )
        .await;
    let update = next(&mut socket).await;
    assert_eq!(
        update["payload"]["data"]["meUpdated"]["email"], "two@example.com",
        "{update}"
    );

    // A logout on the first process closes the socket on the second.
    first
        .gql_as(&person.token, "mutation { logout }", json!({}))
        .await;
    assert_eq!(next(&mut socket).await["close"], 4401);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_of_rolled_back_transactions_are_never_delivered() {
    for transport in [EventTransport::Postgres, EventTransport::InProcess] {
        only_committed_events_are_delivered(transport).await;
    }
}

async fn only_committed_events_are_delivered(transport: EventTransport) {
    let t = TestApp::with_config(|c| c.event_transport = transport).await;
    let mut receiver = t.app.events.subscribe();
    let mut conn = t.conn().await;
    let (lost, kept) = (UserId::new(), UserId::new());
    let events = &t.app.events;
    let rolled_back = conn
        .transaction(async |conn| {
            events
                .publish(conn, Event::UserUpdated { user: lost })
                .await?;
            Err::<(), _>(diesel::result::Error::RollbackTransaction)
        })
        .await;
    assert!(rolled_back.is_err());
    conn.transaction(async |conn| {
        events
            .publish(conn, Event::UserUpdated { user: kept })
            .await
    })
    .await
    .unwrap();
    let delivered = tokio::time::timeout(Duration::from_secs(5), receiver.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivered, Event::UserUpdated { user: kept });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_in_process_transport_serves_a_single_node() {
    let t = TestApp::with_config(|c| c.event_transport = EventTransport::InProcess).await;
    let person = t.register("13800000602").await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    init(&mut socket, Some(&person.token)).await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": ME_UPDATED } }),
    )
    .await;
    tokio::time::sleep(crate::helpers::ws::SUBSCRIPTION_SETTLE).await;
    t.gql_as(
        &person.token,
        "mutation { changeEmail(email: \"one@example.com\") { email } }",
        json!({}),
    )
    .await;
    let update = next(&mut socket).await;
    assert_eq!(
        update["payload"]["data"]["meUpdated"]["email"], "one@example.com",
        "{update}"
    );
}
