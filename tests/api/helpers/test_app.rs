//! TestApp: the real router on a fresh database, driven in-process, or served
//! on a real socket where WebSockets or outside programs need one.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use yuyunqian::config::Config;
use yuyunqian::db::PooledConn;
use yuyunqian::db::pool::build_pool;
use yuyunqian::db::schema::{captchas, sms_outbox};
use yuyunqian::pki::secrets::MasterKey;
use yuyunqian::{App, build_router};

use super::database::TestDatabase;

pub const PASSWORD: &str = "Zq8#wLm2!x";
pub const DEFAULT_IP: &str = "203.0.113.10";

pub struct TestApp {
    pub app: App,
    pub router: Router,
    database_url: String,
    /// The owner drops the database; a second instance on it holds None.
    _db: Option<TestDatabase>,
    data_dir: std::path::PathBuf,
}

/// The master key of `Config::for_tests`, which the CLI needs too.
pub const TEST_MASTER_KEY: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A registered, logged-in person.
pub struct Person {
    pub phone: String,
    pub token: String,
    pub user_id: String,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.app.shutdown.cancel();
        // The blob store is shared with second instances; its owner clears it.
        if self._db.is_some() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDatabase::new().await;
        let url = db.url.clone();
        Self::on_database(url, Some(db), adjust).await
    }

    /// Another server process on this app's database and blob store (a
    /// second node).
    pub async fn second_instance(&self) -> Self {
        let data_dir = self.data_dir.clone();
        Self::on_database(self.database_url.clone(), None, |config| {
            config.data_dir = data_dir;
        })
        .await
    }

    async fn on_database(
        database_url: String,
        db: Option<TestDatabase>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::for_tests();
        config.data_dir = std::env::temp_dir().join(format!("yyq-test-{}", uuid::Uuid::new_v4()));
        adjust(&mut config);
        let data_dir = config.data_dir.clone();
        let keys = yuyunqian::app::load_master_key(&config).expect("master key");
        let pool = build_pool(&database_url, 8).expect("pool");
        let app = App::new(config, pool, keys).expect("app");
        app.spawn_event_listener(&database_url)
            .await
            .expect("event listener");
        let mut conn = app.pool.get().await.expect("connection");
        yuyunqian::domain::certificates::ensure_platform_ca(&mut conn, &app.services())
            .await
            .expect("platform CA");
        drop(conn);
        let router = build_router(app.clone());
        Self {
            app,
            router,
            database_url,
            _db: db,
            data_dir,
        }
    }

    pub fn keys(&self) -> &MasterKey {
        &self.app.keys
    }

    pub async fn conn(&self) -> PooledConn {
        self.app.pool.get().await.expect("connection")
    }

    /// Sends a raw request through the router, as if from `DEFAULT_IP`.
    pub async fn request(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        self.request_from(DEFAULT_IP, request).await
    }

    pub async fn request_from(
        &self,
        ip: &str,
        mut request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let addr: SocketAddr = format!("{ip}:40000").parse().expect("ip");
        request.extensions_mut().insert(ConnectInfo(addr));
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    /// POSTs a GraphQL operation as JSON and returns the response body.
    pub async fn gql_full(
        &self,
        ip: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Value {
        let mut builder = Request::post("/graphql").header("content-type", "application/json");
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = json!({ "query": query, "variables": variables }).to_string();
        let (_, _, bytes) = self
            .request_from(ip, builder.body(Body::from(body)).expect("request"))
            .await;
        serde_json::from_slice(&bytes).expect("json response")
    }

    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_full(DEFAULT_IP, None, query, variables).await
    }

    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        self.gql_full(DEFAULT_IP, Some(token), query, variables)
            .await
    }

    /// POSTs a GraphQL multipart request: `files` are (variable name, file name, bytes);
    /// an empty `token` sends it anonymously.
    pub async fn gql_upload(
        &self,
        token: &str,
        query: &str,
        variables: Value,
        files: &[(&str, &str, &[u8])],
    ) -> Value {
        let boundary = "yyqtestboundary7MA4YWxkTrZu0gW";
        let operations = json!({ "query": query, "variables": variables }).to_string();
        let map: serde_json::Map<String, Value> = files
            .iter()
            .enumerate()
            .map(|(i, (var, _, _))| (i.to_string(), json!([format!("variables.{var}")])))
            .collect();
        let mut body = Vec::new();
        let mut part = |headers: String, content: &[u8]| {
            body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        };
        part(
            "Content-Disposition: form-data; name=\"operations\"".into(),
            operations.as_bytes(),
        );
        part(
            "Content-Disposition: form-data; name=\"map\"".into(),
            Value::Object(map).to_string().as_bytes(),
        );
        for (i, (_, name, bytes)) in files.iter().enumerate() {
            part(
                format!(
                    "Content-Disposition: form-data; name=\"{i}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream"
                ),
                bytes,
            );
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let mut request = Request::post("/graphql")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("apollo-require-preflight", "true");
        // An empty token sends the request without logging in.
        if !token.is_empty() {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Body::from(body)).expect("request");
        let (_, _, bytes) = self.request(request).await;
        serde_json::from_slice(&bytes).expect("json response")
    }

    /// Runs the `yuyunqian` binary against this app's database.
    pub async fn cli(&self, args: &[&str]) -> std::process::Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_yuyunqian"))
            .args(args)
            .env("YYQ_DATABASE_URL", self.database_url())
            .env("YYQ_MASTER_KEY", TEST_MASTER_KEY)
            .env("YYQ_PUBLIC_BASE_URL", "http://127.0.0.1:8080")
            .env("YYQ_LOG", "error")
            .output()
            .await
            .expect("run the CLI")
    }

    /// Registers `phone` and makes it an OPERATOR.
    pub async fn operator(&self, phone: &str) -> Person {
        let person = self.register(phone).await;
        let mut conn = self.conn().await;
        yuyunqian::domain::platform_roles::grant(
            &mut conn,
            &self.app.services(),
            phone,
            yuyunqian::db::enums::PlatformRole::Operator,
            None,
        )
        .await
        .expect("grant operator");
        person
    }

    /// The newest SMS queued for `phone`.
    pub async fn last_sms(&self, phone: &str) -> Option<String> {
        let mut conn = self.conn().await;
        sms_outbox::table
            .filter(sms_outbox::phone.eq(phone))
            .order(sms_outbox::created_at.desc())
            .select(sms_outbox::body)
            .first(&mut conn)
            .await
            .optional()
            .expect("read outbox")
    }

    pub async fn sms_count(&self, phone: &str) -> i64 {
        let mut conn = self.conn().await;
        sms_outbox::table
            .filter(sms_outbox::phone.eq(phone))
            .count()
            .get_result(&mut conn)
            .await
            .expect("count outbox")
    }

    /// The code in the newest SMS to `phone`.
    pub async fn code_for(&self, phone: &str) -> String {
        let body = self.last_sms(phone).await.expect("an sms was sent");
        extract_code(&body).expect("a code in the sms")
    }

    pub async fn send_code(&self, phone: &str, purpose: &str) -> Value {
        self.gql(
            "mutation($p: String!, $u: SmsPurpose!) { sendSmsCode(phone: $p, purpose: $u) { sentTo retryAfterSeconds } }",
            json!({ "p": phone, "u": purpose }),
        )
        .await
    }

    /// Registers `phone` with `PASSWORD` and returns the logged-in person.
    pub async fn register(&self, phone: &str) -> Person {
        let sent = self.send_code(phone, "REGISTER").await;
        assert!(sent.get("errors").is_none(), "{sent}");
        let code = self.code_for(phone).await;
        let response = self
            .gql(
                "mutation($p: String!, $pw: String!, $c: String!) { register(phone: $p, password: $pw, smsCode: $c, acceptAgreements: true) { token user { id } } }",
                json!({ "p": phone, "pw": PASSWORD, "c": code }),
            )
            .await;
        let session = &response["data"]["register"];
        Person {
            phone: phone.to_owned(),
            token: session["token"]
                .as_str()
                .unwrap_or_else(|| panic!("{response}"))
                .to_owned(),
            user_id: session["user"]["id"].as_str().expect("user id").to_owned(),
        }
    }

    /// Registers `phone` and passes real-name verification as 张三 with a
    /// valid resident ID (CARRIER_3 confirmed by code).
    pub async fn verified_person(&self, phone: &str, id_number: &str) -> Person {
        let person = self.register(phone).await;
        self.app.clock.advance(chrono::TimeDelta::seconds(61));
        let started = self
            .gql_as(
                &person.token,
                "mutation($i: String!) { startRealNameVerification(idType: RESIDENT_ID_CARD, name: \"张三\", idNumber: $i, method: CARRIER_3, acceptAgreements: true) { id status } }",
                json!({ "i": id_number }),
            )
            .await;
        let id = started["data"]["startRealNameVerification"]["id"].clone();
        let code = self.code_for(phone).await;
        let confirmed = self
            .gql_as(
                &person.token,
                "mutation($id: ID!, $c: String!) { confirmRealNameVerification(id: $id, smsCode: $c) { status } }",
                json!({ "id": id, "c": code }),
            )
            .await;
        assert_eq!(
            confirmed["data"]["confirmRealNameVerification"]["status"], "VERIFIED",
            "{confirmed}"
        );
        person
    }

    /// A fresh captcha whose answer is set to a known value (the image cannot be read by a test).
    pub async fn solved_captcha(&self) -> (String, String) {
        let response = self
            .gql("mutation { createCaptcha { id imagePng } }", json!({}))
            .await;
        let id = response["data"]["createCaptcha"]["id"]
            .as_str()
            .expect("captcha id")
            .to_owned();
        let answer = "K7P2Q".to_owned();
        self.set_captcha_answer(&id, &answer).await;
        (id, answer)
    }

    /// Replaces the stored answer of captcha `id` with `answer`.
    pub async fn set_captcha_answer(&self, id: &str, answer: &str) {
        let mac = self
            .keys()
            .mac(
                b"captcha",
                format!("{id}|{}", answer.to_lowercase()).as_bytes(),
            )
            .expect("mac");
        let uuid: uuid::Uuid = id.parse().expect("uuid");
        let mut conn = self.conn().await;
        diesel::update(captchas::table.filter(captchas::id.eq(uuid)))
            .set(captchas::answer_hash.eq(mac))
            .execute(&mut conn)
            .await
            .expect("set captcha answer");
    }

    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// Serves the router on a real socket; the server stops when the app shuts down.
    /// An app served on a real socket whose public base URL is that
    /// socket, so that URLs it issues (CRL distribution points, file links)
    /// work for outside tools.
    pub async fn serving() -> (Self, SocketAddr) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let t = Self::with_config(|config| {
            config.public_base_url = Some(format!("http://{addr}"));
        })
        .await;
        t.serve_on(listener);
        (t, addr)
    }

    pub async fn serve(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        self.serve_on(listener);
        addr
    }

    fn serve_on(&self, listener: tokio::net::TcpListener) {
        let router = self.router.clone();
        let shutdown = self.app.shutdown.clone();
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
        });
    }
}

pub fn extract_code(body: &str) -> Option<String> {
    let start = body.find("验证码：")? + "验证码：".len();
    Some(body[start..].chars().take(6).collect())
}

/// `extensions.code` of the first error, or "" when there is none.
pub fn error_code(response: &Value) -> String {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

pub fn error_field(response: &Value) -> String {
    response["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}
