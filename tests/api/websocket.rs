//! GraphQL over a real WebSocket: authentication at connection_init, the
//! deadlines and limits around it, and closing when sessions or the server end.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::TestApp;
use crate::helpers::ws::{connect, init, next, send, subscribed};

const ME_UPDATED: &str = "subscription { meUpdated { email } }";

#[tokio::test(flavor = "multi_thread")]
async fn authenticated_socket_receives_its_own_account_updates() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000301").await;
    let addr = t.serve().await;
    let mut socket = subscribed(addr, &person.token, "{ me { phone } }", json!({})).await;
    let me = next(&mut socket).await;
    assert_eq!(me["payload"]["data"]["me"]["phone"], "13800000301", "{me}");
    assert_eq!(next(&mut socket).await["type"], "complete");

    send(
        &mut socket,
        json!({ "id": "2", "type": "subscribe", "payload": { "query": ME_UPDATED } }),
    )
    .await;
    tokio::time::sleep(crate::helpers::ws::SUBSCRIPTION_SETTLE).await;
    t.gql_as(
        &person.token,
        "mutation { changeEmail(email: \"a@example.com\") { email } }",
        json!({}),
    )
    .await;
    let update = next(&mut socket).await;
    assert_eq!(update["id"], "2");
    assert_eq!(
        update["payload"]["data"]["meUpdated"]["email"], "a@example.com",
        "{update}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_socket_cannot_subscribe_to_account_updates() {
    let t = TestApp::spawn().await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    assert_eq!(init(&mut socket, None).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": ME_UPDATED } }),
    )
    .await;
    let error = next(&mut socket).await;
    assert_eq!(
        error["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{error}"
    );
    assert!(error["payload"]["data"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_is_refused_with_4403() {
    let t = TestApp::spawn().await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    assert_eq!(init(&mut socket, Some("not-a-token")).await["close"], 4403);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_without_connection_init_is_closed_with_4408() {
    let t = TestApp::with_config(|c| c.limits.ws_init_timeout_secs = 1).await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    assert_eq!(next(&mut socket).await["close"], 4408);
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribing_before_the_ack_is_refused_with_4401() {
    let t = TestApp::spawn().await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ me { id } }" } }),
    )
    .await;
    assert_eq!(next(&mut socket).await["close"], 4401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_subscription_id_closes_with_4409() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000302").await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    init(&mut socket, Some(&person.token)).await;
    let subscribe =
        json!({ "id": "same", "type": "subscribe", "payload": { "query": ME_UPDATED } });
    send(&mut socket, subscribe.clone()).await;
    send(&mut socket, subscribe).await;
    assert_eq!(next(&mut socket).await["close"], 4409);
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_per_socket_are_capped() {
    let t = TestApp::with_config(|c| c.limits.max_ws_subscriptions = 2).await;
    let person = t.register("13800000303").await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    init(&mut socket, Some(&person.token)).await;
    for id in ["a", "b", "c"] {
        send(
            &mut socket,
            json!({ "id": id, "type": "subscribe", "payload": { "query": ME_UPDATED } }),
        )
        .await;
    }
    let refused = next(&mut socket).await;
    assert_eq!(refused["id"], "c");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refused}"
    );
    // Completing one frees a place.
    send(&mut socket, json!({ "id": "a", "type": "complete" })).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    send(
        &mut socket,
        json!({ "id": "d", "type": "subscribe", "payload": { "query": "{ me { phone } }" } }),
    )
    .await;
    let mut answer = next(&mut socket).await;
    while answer["id"] == "a" {
        answer = next(&mut socket).await;
    }
    assert_eq!(answer["id"], "d", "{answer}");
    assert_eq!(answer["type"], "next");
}

#[tokio::test(flavor = "multi_thread")]
async fn logging_out_closes_the_sessions_sockets() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000304").await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    init(&mut socket, Some(&person.token)).await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": ME_UPDATED } }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    t.gql_as(&person.token, "mutation { logout }", json!({}))
        .await;
    assert_eq!(next(&mut socket).await["close"], 4401);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_legacy_graphql_ws_protocol_works() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000305").await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-ws").await;
    assert_eq!(
        init(&mut socket, Some(&person.token)).await["type"],
        "connection_ack"
    );
    send(
        &mut socket,
        json!({ "id": "1", "type": "start", "payload": { "query": "{ me { phone } }" } }),
    )
    .await;
    let data = next(&mut socket).await;
    assert_eq!(data["type"], "data");
    assert_eq!(data["payload"]["data"]["me"]["phone"], "13800000305");
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_origins_cannot_open_sockets() {
    let t = TestApp::spawn().await;
    let addr = t.serve().await;
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_err());

    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    request
        .headers_mut()
        .insert("origin", "http://localhost:3000".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_closes_sockets_with_going_away() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000306").await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    init(&mut socket, Some(&person.token)).await;
    t.app.shutdown.cancel();
    assert_eq!(next(&mut socket).await["close"], 1001);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_messages_close_with_4400() {
    let t = TestApp::spawn().await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    init(&mut socket, None).await;
    socket
        .send(Message::Text("{\"type\":\"bogus\"}".into()))
        .await
        .unwrap();
    assert_eq!(next(&mut socket).await["close"], 4400);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_during_connection_init_closes_the_socket_instead_of_stalling() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000307").await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", person.token) } });
    socket
        .send(Message::Text(init.to_string().into()))
        .await
        .unwrap();
    for _ in 0..200 {
        if socket
            .send(Message::Text("{\"type\":\"ping\"}".into()))
            .await
            .is_err()
        {
            break;
        }
    }
    // Either the server kept up and answers, or it closed the socket; it never hangs.
    let _ = socket
        .send(Message::Text(
            json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ me { phone } }" } })
                .to_string()
                .into(),
        ))
        .await;
    loop {
        let message = next(&mut socket).await;
        if message.get("close").is_some() || message.get("closed").is_some() || message["id"] == "q"
        {
            break;
        }
    }
}
