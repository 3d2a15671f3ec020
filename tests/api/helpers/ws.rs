//! A WebSocket client speaking GraphQL over WebSocket, for tests.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How long a test gives the server to register a subscription before it
/// makes the change the subscription should see (generous for loaded CI).
pub const SUBSCRIPTION_SETTLE: Duration = Duration::from_millis(600);

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(addr: SocketAddr, protocol: &str) -> Socket {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    socket
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next text message as JSON, or the close code as `{"close": code}`.
pub async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s");
        match message {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Close(frame))) => {
                return json!({ "close": frame.map(|f| u16::from(f.code)).unwrap_or(1005) });
            }
            Some(Ok(_)) => continue,
            other => return json!({ "closed": format!("{other:?}") }),
        }
    }
}

pub async fn init(socket: &mut Socket, token: Option<&str>) -> Value {
    let payload = match token {
        Some(token) => json!({ "authorization": format!("Bearer {token}") }),
        None => json!({}),
    };
    send(
        socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    next(socket).await
}

/// A socket initialised with `token` and one operation started on it (id
/// "1").
pub async fn subscribed(addr: SocketAddr, token: &str, query: &str, variables: Value) -> Socket {
    let mut socket = connect(addr, "graphql-transport-ws").await;
    assert_eq!(
        init(&mut socket, Some(token)).await["type"],
        "connection_ack"
    );
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await;
    socket
}
