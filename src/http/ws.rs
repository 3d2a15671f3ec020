//! GraphQL over WebSocket (graphql-transport-ws and the legacy graphql-ws).
//!
//! async-graphql runs the protocol; this loop around it adds what it lacks:
//! authentication in `connection_init` with a deadline, 4409 on duplicate
//! subscription ids, a cap on subscriptions per socket, closing when the
//! session ends, and a proper close frame when the server shuts down.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Request, State, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::app::App;
use crate::domain::accounts::sessions;
use crate::domain::{RequestMeta, Viewer};
use crate::graphql::context::RequestContext;
use crate::http::HttpState;
use crate::http::client::{bearer_token, request_meta, viewer_of};

pub const CLOSE_BAD_MESSAGE: u16 = 4400;
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
pub const CLOSE_FORBIDDEN: u16 = 4403;
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
pub const CLOSE_DUPLICATE_ID: u16 = 4409;
pub const CLOSE_INTERNAL: u16 = 4500;
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_POLICY: u16 = 1008;

/// How often an open socket re-checks that its session still lives (events
/// close it at once; this catches what a lagging receiver missed).
const SESSION_RECHECK: Duration = Duration::from_secs(60);
/// Client messages waiting while the protocol is busy (e.g. during init).
const INPUT_BUFFER: usize = 64;

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
    // Messages carry query documents: a little above their size limit is plenty.
    let max_message = state.app.config.limits.max_document_bytes + 64 * 1024;
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max_message)
        .max_frame_size(max_message)
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
    viewer: Option<Viewer>,
    rejected: bool,
    failed: bool,
}

enum Screened {
    Forward,
    Reply(String),
    Close(u16, String),
}

/// Live operation ids, and ids the client stopped whose `complete` echo from
/// the protocol is still to come (so the echo does not end a reused id).
#[derive(Default)]
struct Operations {
    live: HashSet<String>,
    stopping: HashMap<String, usize>,
}

impl Operations {
    fn stop(&mut self, id: &str) {
        if self.live.remove(id) {
            *self.stopping.entry(id.to_owned()).or_default() += 1;
        }
    }

    fn ended(&mut self, id: &str) {
        match self.stopping.get_mut(id) {
            Some(pending) if *pending > 1 => *pending -= 1,
            Some(_) => {
                self.stopping.remove(id);
            }
            None => {
                self.live.remove(id);
            }
        }
    }
}

fn on_connection_init(
    app: App,
    meta: RequestMeta,
    outcome: Arc<Mutex<InitOutcome>>,
) -> impl FnOnce(
    serde_json::Value,
) -> futures_util::future::BoxFuture<'static, async_graphql::Result<Data>>
+ Send
+ 'static {
    move |payload: serde_json::Value| {
        Box::pin(async move {
            let token = ["authorization", "Authorization"]
                .iter()
                .find_map(|key| payload.get(*key).and_then(|v| v.as_str()))
                .map(|value| bearer_token(value).unwrap_or(value).to_owned());
            let viewer = match viewer_of(&app, token.as_deref()).await {
                Ok(viewer) => viewer,
                Err(e) => {
                    if let Ok(mut outcome) = outcome.lock() {
                        outcome.failed = true;
                    }
                    return Err(e.into());
                }
            };
            if let Ok(mut outcome) = outcome.lock() {
                outcome.rejected = token.is_some() && viewer.is_none();
                outcome.viewer = viewer;
            }
            if token.is_some() && viewer.is_none() {
                return Err(async_graphql::Error::new("Forbidden"));
            }
            let mut data = Data::default();
            data.insert(RequestContext { meta, viewer });
            Ok(data)
        })
    }
}

/// Whether the socket's session (if any) still lives.
async fn session_alive(app: &App, viewer: Option<Viewer>) -> bool {
    let Some(viewer) = viewer else {
        return true;
    };
    let Ok(mut conn) = app.pool.get().await else {
        // Unknown is not dead: keep the socket until the database answers.
        return true;
    };
    sessions::is_live(&mut conn, &app.services(), &viewer)
        .await
        .unwrap_or(true)
}

async fn serve(
    state: HttpState,
    socket: WebSocket,
    protocol: WebSocketProtocols,
    meta: RequestMeta,
) {
    let app = state.app.clone();
    let (mut sink, mut source) = socket.split();
    let (to_protocol, from_socket) = mpsc::channel::<Vec<u8>>(INPUT_BUFFER);
    let input = futures_util::stream::unfold(from_socket, |mut rx| async move {
        rx.recv().await.map(|message| (message, rx))
    });
    let outcome = Arc::new(Mutex::new(InitOutcome::default()));
    let protocol_stream =
        async_graphql::http::WebSocket::new(state.schema.clone(), input, protocol)
            .on_connection_init(on_connection_init(app.clone(), meta, outcome.clone()));
    futures_util::pin_mut!(protocol_stream);

    let mut operations = Operations::default();
    let mut acknowledged = false;
    let mut events = app.events.subscribe_sessions();
    let init_deadline = tokio::time::sleep(app.config.ws_init_timeout());
    tokio::pin!(init_deadline);
    let mut recheck = tokio::time::interval(SESSION_RECHECK);
    recheck.tick().await;
    let max_subscriptions = app.config.limits.max_ws_subscriptions;
    let viewer = || outcome.lock().ok().and_then(|o| o.viewer);

    let close = loop {
        let expiry = viewer().map(|v| v.session_expires_at);
        let until_expiry = expiry
            .and_then(|at| (at - app.clock.now()).to_std().ok())
            .unwrap_or(Duration::from_secs(86_400));
        tokio::select! {
            incoming = source.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
                    Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                };
                match screen(&text, protocol, acknowledged, &mut operations, max_subscriptions) {
                    // Never wait on the protocol here: it does not read while
                    // it runs connection_init, and waiting would stall the loop.
                    Screened::Forward => match to_protocol.try_send(text.into_bytes()) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            break Some((CLOSE_POLICY, "too many messages at once".to_owned()));
                        }
                        Err(TrySendError::Closed(_)) => break None,
                    },
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
                    track_outgoing(&text, &mut operations, &mut acknowledged);
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break None;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let (rejected, failed) = outcome
                        .lock()
                        .map(|o| (o.rejected, o.failed))
                        .unwrap_or((false, false));
                    break Some(match (rejected, failed, code) {
                        (true, _, _) => (CLOSE_FORBIDDEN, "Forbidden".to_owned()),
                        (_, true, _) => (CLOSE_INTERNAL, "internal error".to_owned()),
                        (_, _, 1002) => (CLOSE_BAD_MESSAGE, "Invalid message".to_owned()),
                        _ => (code, reason),
                    });
                }
                None => break Some((1000, "done".to_owned())),
            },
            () = &mut init_deadline, if !acknowledged => {
                break Some((CLOSE_INIT_TIMEOUT, "Connection initialisation timeout".to_owned()));
            }
            () = tokio::time::sleep(until_expiry), if expiry.is_some() => {
                break Some((CLOSE_UNAUTHORIZED, "session ended".to_owned()));
            }
            event = events.recv() => {
                let ended = match event {
                    Ok(event) => viewer().is_some_and(|v| event.ends_session(v.user_id, v.session_id)),
                    Err(RecvError::Lagged(_)) => !session_alive(&app, viewer()).await,
                    Err(RecvError::Closed) => false,
                };
                if ended {
                    break Some((CLOSE_UNAUTHORIZED, "session ended".to_owned()));
                }
            }
            _ = recheck.tick() => {
                if !session_alive(&app, viewer()).await {
                    break Some((CLOSE_UNAUTHORIZED, "session ended".to_owned()));
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

/// Client message types each protocol knows.
fn known_type(protocol: WebSocketProtocols, kind: &str) -> bool {
    match protocol {
        WebSocketProtocols::GraphQLWS => {
            matches!(
                kind,
                "connection_init" | "ping" | "pong" | "subscribe" | "complete"
            )
        }
        _ => matches!(
            kind,
            "connection_init" | "start" | "stop" | "connection_terminate"
        ),
    }
}

/// Checks a client message before the protocol sees it.
fn screen(
    text: &str,
    protocol: WebSocketProtocols,
    acknowledged: bool,
    operations: &mut Operations,
    max_subscriptions: usize,
) -> Screened {
    let message = serde_json::from_str::<serde_json::Value>(text).ok();
    let kind = message
        .as_ref()
        .and_then(|m| m.get("type"))
        .and_then(|t| t.as_str())
        .unwrap_or("");
    if !known_type(protocol, kind) {
        return match protocol {
            WebSocketProtocols::GraphQLWS => {
                Screened::Close(CLOSE_BAD_MESSAGE, "Invalid message".to_owned())
            }
            _ => Screened::Forward,
        };
    }
    let id = message
        .as_ref()
        .and_then(|m| m.get("id"))
        .and_then(|t| t.as_str())
        .unwrap_or("")
        .to_owned();
    match kind {
        "subscribe" | "start" => {
            if !acknowledged {
                return Screened::Close(CLOSE_UNAUTHORIZED, "Unauthorized".to_owned());
            }
            if operations.live.contains(&id) {
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
            if operations.live.len() >= max_subscriptions {
                return Screened::Reply(error_message(
                    &id,
                    "too many subscriptions on this connection",
                    "RATE_LIMITED",
                ));
            }
            operations.live.insert(id);
            Screened::Forward
        }
        "complete" | "stop" => {
            operations.stop(&id);
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
fn track_outgoing(text: &str, operations: &mut Operations, acknowledged: &mut bool) {
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
        operations.ended(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_id_can_be_reused_before_its_complete_echo() {
        let mut ops = Operations::default();
        ops.live.insert("x".into());
        ops.stop("x");
        ops.live.insert("x".into());
        ops.ended("x");
        assert!(
            ops.live.contains("x"),
            "the echo of the old x left the new x alone"
        );
        ops.ended("x");
        assert!(!ops.live.contains("x"));
    }

    #[test]
    fn unknown_messages_close_graphql_transport_ws_with_4400() {
        let mut ops = Operations::default();
        for text in ["not json", r#"{"type":"bogus"}"#] {
            assert!(matches!(
                screen(text, WebSocketProtocols::GraphQLWS, true, &mut ops, 10),
                Screened::Close(CLOSE_BAD_MESSAGE, _)
            ));
        }
    }
}
