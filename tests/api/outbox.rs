//! The outbox delivers SMS through the http adapter to a gateway, retries
//! failures, and blanks bodies carrying codes once a real gateway took them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::TimeDelta;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::helpers::TestApp;
use yuyunqian::config::SmsAdapterKind;
use yuyunqian::db::schema::sms_outbox;

/// What the gateway received: the Authorization header and the JSON body.
type Received = Vec<(Option<String>, Value)>;

#[derive(Clone, Default)]
struct Gateway {
    calls: Arc<AtomicUsize>,
    received: Arc<Mutex<Received>>,
}

/// A gateway that fails its first call with 503 and accepts the rest.
async fn start_gateway() -> (String, Gateway) {
    let gateway = Gateway::default();
    let state = gateway.clone();
    let router = axum::Router::new().route(
        "/sms",
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let state = state.clone();
            async move {
                let n = AtomicUsize::fetch_add(&state.calls, 1, Ordering::SeqCst);
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                state.received.lock().await.push((auth, body));
                if n == 0 {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/sms"), gateway)
}

#[tokio::test(flavor = "multi_thread")]
async fn http_sms_adapter_retries_until_the_gateway_accepts() {
    let (url, gateway) = start_gateway().await;
    let t = TestApp::with_config(|c| {
        c.sms.sms_adapter = SmsAdapterKind::Http;
        c.sms.gateway_url = Some(url);
        c.sms.gateway_token = Some("gw-token".into());
    })
    .await;
    t.send_code("13800000401", "REGISTER").await;
    let senders = yuyunqian::app::build_senders(&t.app.config).unwrap();
    let mut conn = t.conn().await;

    let now = t.app.clock.now();
    yuyunqian::jobs::outbox::deliver_due(&mut conn, &senders, now)
        .await
        .unwrap();
    let (status, attempts, error): (String, i32, Option<String>) = sms_outbox::table
        .select((
            sms_outbox::status,
            sms_outbox::attempts,
            sms_outbox::last_error,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("PENDING", 1));
    assert!(error.unwrap().contains("503"));

    // Not due again until its backoff has passed.
    assert_eq!(
        yuyunqian::jobs::outbox::deliver_due(&mut conn, &senders, now)
            .await
            .unwrap(),
        0
    );
    let later = now + TimeDelta::seconds(60);
    assert_eq!(
        yuyunqian::jobs::outbox::deliver_due(&mut conn, &senders, later)
            .await
            .unwrap(),
        1
    );
    let (status, body): (String, String) = sms_outbox::table
        .select((sms_outbox::status, sms_outbox::body))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "SENT");
    assert!(
        !body.contains("验证码"),
        "the code is blanked after delivery: {body}"
    );

    let received = gateway.received.lock().await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].0.as_deref(), Some("Bearer gw-token"));
    assert_eq!(received[1].1["phone"], "13800000401");
    assert!(
        received[1].1["content"]
            .as_str()
            .unwrap()
            .contains("验证码")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_that_expire_before_delivery_are_dropped_and_blanked() {
    let (url, gateway) = start_gateway().await;
    let t = TestApp::with_config(|c| {
        c.sms.sms_adapter = SmsAdapterKind::Http;
        c.sms.gateway_url = Some(url);
    })
    .await;
    t.send_code("13800000402", "REGISTER").await;
    let senders = yuyunqian::app::build_senders(&t.app.config).unwrap();
    let mut conn = t.conn().await;
    let later = t.app.clock.now() + TimeDelta::minutes(6);
    yuyunqian::jobs::outbox::deliver_due(&mut conn, &senders, later)
        .await
        .unwrap();
    let (status, body): (String, String) = sms_outbox::table
        .select((sms_outbox::status, sms_outbox::body))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "FAILED");
    assert!(!body.contains("验证码"), "{body}");
    assert_eq!(
        AtomicUsize::load(&gateway.calls, Ordering::SeqCst),
        0,
        "nothing was sent"
    );
}

/// A minimal SMTP server that accepts one message and returns its DATA.
async fn fake_smtp() -> (u16, tokio::sync::oneshot::Receiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
        let mut data = String::new();
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    write.write_all(b"250 queued\r\n").await.unwrap();
                } else {
                    data.push_str(&line);
                    data.push('\n');
                }
                continue;
            }
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" => b"250-fake\r\n250 8BITMIME\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go on\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await.unwrap();
                    break;
                }
                _ => b"250 ok\r\n",
            };
            write.write_all(reply).await.unwrap();
        }
        let _ = tx.send(data);
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_adapter_delivers_email() {
    let (port, received) = fake_smtp().await;
    let t = TestApp::with_config(|c| {
        c.email.email_adapter = yuyunqian::config::EmailAdapterKind::Smtp;
        c.email.smtp_host = Some("127.0.0.1".into());
        c.email.smtp_port = Some(port);
        c.email.smtp_tls = yuyunqian::config::SmtpTls::None;
    })
    .await;
    let person = t.register("13800000403").await;
    let changed = t
        .gql_as(
            &person.token,
            "mutation { changeEmail(email: \"hr@example.com\") { email } }",
            serde_json::json!({}),
        )
        .await;
    assert!(changed.get("errors").is_none(), "{changed}");
    let senders = yuyunqian::app::build_senders(&t.app.config).unwrap();
    let mut conn = t.conn().await;
    yuyunqian::jobs::outbox::deliver_due(&mut conn, &senders, t.app.clock.now())
        .await
        .unwrap();
    let data = tokio::time::timeout(std::time::Duration::from_secs(10), received)
        .await
        .unwrap()
        .unwrap();
    assert!(data.contains("To: hr@example.com"), "{data}");
    let status: String = yuyunqian::db::schema::email_outbox::table
        .select(yuyunqian::db::schema::email_outbox::status)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "SENT");
}
