//! GraphQL over WebSocket (graphql-transport-ws and the legacy graphql-ws).
//!
//! async-graphql runs the protocol; this loop around it adds what it lacks:
//! authentication in `connection_init` with a deadline, 4409 on duplicate
//! subscription ids, a cap on subscriptions per socket, closing when the
//! session ends, and a proper close frame when the server shuts down.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Request, State, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::db::ids::SessionId;
use crate::domain::RequestMeta;
use crate::events::Event;
use crate::graphql::context::RequestContext;
use crate::http::HttpState;
use crate::http::client::{bearer_token, request_meta, viewer_of};

pub const CLOSE_UNAUTHORIZED: u16 = 4401;
pub const CLOSE_FORBIDDEN: u16 = 4403;
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
pub const CLOSE_DUPLICATE_ID: u16 = 4409;
pub const CLOSE_GOING_AWAY: u16 = 1001;

pub async fn upgrade(
    State(state): State<HttpState>,
    ws: WebSocketUpgrade,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let Some(protocol) = parts
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|offered| {
            offered
                .split(',')
                .find_map(|p| p.trim().parse::<WebSocketProtocols>().ok())
        })
    else {
        return (
            StatusCode::BAD_REQUEST,
            "offer the graphql-transport-ws or graphql-ws subprotocol",
        )
            .into_response();
    };
    if let Some(origin) = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        && !origin_allowed(&state, origin, parts.headers.get(header::HOST))
    {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let meta = request_meta(&state.app, &parts.headers, &parts.extensions);
    let sockets = state.app.sockets.clone();
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| sockets.track_future(serve(state, socket, protocol, meta)))
}

/// Same-origin pages and the configured origins may open sockets.
fn origin_allowed(state: &HttpState, origin: &str, host: Option<&header::HeaderValue>) -> bool {
    let same_origin = host.and_then(|h| h.to_str().ok()).is_some_and(|host| {
        origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
    });
    same_origin
        || state
            .app
            .config
            .allowed_origins
            .iter()
            .any(|allowed| allowed.trim_end_matches('/') == origin)
}

/// What the connection learnt at `connection_init`.
#[derive(Default)]
struct InitOutcome {
    session: Option<SessionId>,
    rejected: bool,
}

enum Screened {
    Forward,
    Reply(String),
    Close(u16, String),
}

async fn serve(
    state: HttpState,
    socket: WebSocket,
    protocol: WebSocketProtocols,
    meta: RequestMeta,
) {
    let app = state.app.clone();
    let (mut sink, mut source) = socket.split();
    let (to_protocol, from_socket) = mpsc::channel::<Vec<u8>>(16);
    let input = futures_util::stream::unfold(from_socket, |mut rx| async move {
        rx.recv().await.map(|message| (message, rx))
    });
    let outcome = Arc::new(Mutex::new(InitOutcome::default()));
    let on_init = {
        let app = app.clone();
        let outcome = outcome.clone();
        move |payload: serde_json::Value| async move {
            let token = ["authorization", "Authorization"]
                .iter()
                .find_map(|key| payload.get(*key).and_then(|v| v.as_str()))
                .map(|value| bearer_token(value).unwrap_or(value).to_owned());
            let viewer = viewer_of(&app, token.as_deref()).await?;
            if token.is_some() && viewer.is_none() {
                if let Ok(mut outcome) = outcome.lock() {
                    outcome.rejected = true;
                }
                return Err(async_graphql::Error::new("Forbidden"));
            }
            if let Ok(mut outcome) = outcome.lock() {
                outcome.session = viewer.map(|v| v.session_id);
            }
            let mut data = Data::default();
            data.insert(RequestContext { meta, viewer });
            Ok(data)
        }
    };
    let protocol_stream =
        async_graphql::http::WebSocket::new(state.schema.clone(), input, protocol)
            .on_connection_init(on_init);
    futures_util::pin_mut!(protocol_stream);

    let mut ids: HashSet<String> = HashSet::new();
    let mut acknowledged = false;
    let mut events = app.events.subscribe();
    let init_deadline = tokio::time::sleep(app.config.ws_init_timeout());
    tokio::pin!(init_deadline);
    let max_subscriptions = app.config.limits.max_ws_subscriptions;

    let close = loop {
        tokio::select! {
            incoming = source.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
                    Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                };
                match screen(&text, protocol, acknowledged, &mut ids, max_subscriptions) {
                    Screened::Forward => {
                        if to_protocol.send(text.into_bytes()).await.is_err() {
                            break None;
                        }
                    }
                    Screened::Reply(reply) => {
                        if sink.send(Message::Text(reply.into())).await.is_err() {
                            break None;
                        }
                    }
                    Screened::Close(code, reason) => break Some((code, reason)),
                }
            }
            outgoing = protocol_stream.next() => match outgoing {
                Some(WsMessage::Text(text)) => {
                    track_outgoing(&text, &mut ids, &mut acknowledged);
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break None;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let rejected = outcome.lock().map(|o| o.rejected).unwrap_or(false);
                    break Some(if rejected { (CLOSE_FORBIDDEN, "Forbidden".to_owned()) } else { (code, reason) });
                }
                None => break Some((1000, "done".to_owned())),
            },
            () = &mut init_deadline, if !acknowledged => {
                break Some((CLOSE_INIT_TIMEOUT, "Connection initialisation timeout".to_owned()));
            }
            event = events.recv() => {
                if let Ok(Event::SessionsRevoked(revoked)) = event {
                    let mine = outcome.lock().ok().and_then(|o| o.session);
                    if mine.is_some_and(|s| revoked.contains(&s)) {
                        break Some((CLOSE_UNAUTHORIZED, "session ended".to_owned()));
                    }
                }
            }
            () = app.shutdown.cancelled() => {
                break Some((CLOSE_GOING_AWAY, "server shutting down".to_owned()));
            }
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
    let _ = sink.close().await;
}

/// Checks a client message before the protocol sees it.
fn screen(
    text: &str,
    protocol: WebSocketProtocols,
    acknowledged: bool,
    ids: &mut HashSet<String>,
    max_subscriptions: usize,
) -> Screened {
    let Ok(message) = serde_json::from_str::<serde_json::Value>(text) else {
        return Screened::Forward;
    };
    let kind = message.get("type").and_then(|t| t.as_str()).unwrap_or("");
    let id = message
        .get("id")
        .and_then(|t| t.as_str())
        .unwrap_or("")
        .to_owned();
    match kind {
        "subscribe" | "start" => {
            if !acknowledged {
                return Screened::Close(CLOSE_UNAUTHORIZED, "Unauthorized".to_owned());
            }
            if ids.contains(&id) {
                return match protocol {
                    WebSocketProtocols::GraphQLWS => Screened::Close(
                        CLOSE_DUPLICATE_ID,
                        format!("Subscriber for {id} already exists"),
                    ),
                    _ => Screened::Reply(error_message(
                        &id,
                        "subscription id is already in use",
                        "BAD_USER_INPUT",
                    )),
                };
            }
            if ids.len() >= max_subscriptions {
                return Screened::Reply(error_message(
                    &id,
                    "too many subscriptions on this connection",
                    "RATE_LIMITED",
                ));
            }
            ids.insert(id);
            Screened::Forward
        }
        "complete" | "stop" => {
            ids.remove(&id);
            Screened::Forward
        }
        _ => Screened::Forward,
    }
}

fn error_message(id: &str, message: &str, code: &str) -> String {
    serde_json::json!({
        "type": "error",
        "id": id,
        "payload": [{ "message": message, "extensions": { "code": code } }],
    })
    .to_string()
}

/// Follows the server's side: the ack, and operations that ended.
fn track_outgoing(text: &str, ids: &mut HashSet<String>, acknowledged: &mut bool) {
    if text.contains("\"connection_ack\"") {
        *acknowledged = true;
    }
    if (text.contains("\"complete\"") || text.contains("\"error\""))
        && let Ok(message) = serde_json::from_str::<serde_json::Value>(text)
        && matches!(
            message.get("type").and_then(|t| t.as_str()),
            Some("complete" | "error")
        )
        && let Some(id) = message.get("id").and_then(|t| t.as_str())
    {
        ids.remove(id);
    }
}
