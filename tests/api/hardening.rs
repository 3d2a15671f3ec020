//! The GraphQL endpoint refuses what a hostile client may send.

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::test_app::error_code;

async fn post_raw(t: &TestApp, content_type: &str, body: String) -> (u16, Value) {
    let request = Request::post("/graphql")
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let (status, _, bytes) = t.request(request).await;
    (
        status.as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn alias_bomb_is_refused() {
    let t = TestApp::spawn().await;
    let aliases: String = (0..16).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let r = t.gql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("aliases")
    );
    assert!(r["data"].is_null());
    let fifteen: String = (0..15).map(|i| format!("a{i}: me {{ id }} ")).collect();
    assert!(
        t.gql(&format!("{{ {fifteen} }}"), json!({}))
            .await
            .get("errors")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_sent_again_is_checked_and_run_again() {
    let t = TestApp::spawn().await;
    // Refused by the limits: never kept, refused every time.
    let aliases: String = (0..16).map(|i| format!("a{i}: me {{ id }} ")).collect();
    for _ in 0..2 {
        let r = t.gql(&format!("{{ {aliases} }}"), json!({})).await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    }
    // Parsed and kept, but invalid: validated, and refused, every time.
    for _ in 0..2 {
        let r = t.gql("{ noSuchField }", json!({})).await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
        assert!(r["data"].is_null(), "{r}");
    }
    // A kept document runs with each request's own variables.
    let query = "query($n: String!) { __type(name: $n) { name } }";
    for name in ["Query", "Mutation", "Query"] {
        let r = t.gql(query, json!({ "n": name })).await;
        assert_eq!(r["data"]["__type"]["name"], name, "{r}");
    }
    let r = t.gql(query, json!({})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "a missing variable: {r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn aliases_hidden_in_fragments_count_per_spread() {
    let t = TestApp::spawn().await;
    let fragment: String = (0..4).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let spreads = "...F ".repeat(4);
    let query = format!("{{ {spreads} }} fragment F on Query {{ {fragment} }}");
    let r = t.gql(&query, json!({})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn depth_bomb_is_refused() {
    let t = TestApp::spawn().await;
    // __schema > types > fields > type > ofType x 7 > name: 12 levels.
    let query = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(7),
        "} ".repeat(7)
    );
    let r = t.gql(&query, json!({})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("nested"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_token_heavy_documents_are_refused() {
    let t = TestApp::spawn().await;
    let padding = " ".repeat(16_000);
    let r = t
        .gql(&format!("{{ me {{ id }} {padding} }}"), json!({}))
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("bytes"),
        "{r}"
    );

    let many = "a ".repeat(2_100);
    let r = t.gql(&format!("{{ {many} }}"), json!({})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("tokens"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batched_requests_are_refused() {
    let t = TestApp::spawn().await;
    let body = json!([{ "query": "{ me { id } }" }, { "query": "{ me { id } }" }]).to_string();
    let (status, r) = post_raw(&t, "application/json", body).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread")]
async fn get_runs_queries_but_never_mutations() {
    let t = TestApp::spawn().await;
    let query = |q: &str| {
        let encoded: String = q
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        Request::get(format!("/graphql?query={encoded}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, body) = t.request(query("{ me { id } }")).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_slice::<Value>(&body).unwrap()["data"]["me"].is_null());
    let (status, headers, _) = t.request(query("mutation { createCaptcha { id } }")).await;
    assert_eq!(status, 405);
    assert_eq!(headers["allow"], "POST");
    let mut conn = t.conn().await;
    use diesel::QueryDsl;
    use diesel_async::RunQueryDsl;
    let captchas: i64 = yuyunqian::db::schema::captchas::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(captchas, 0, "the mutation did not run");
}

#[tokio::test(flavor = "multi_thread")]
async fn simple_cross_site_requests_are_refused() {
    let t = TestApp::spawn().await;
    let body = json!({ "query": "mutation { createCaptcha { id } }" }).to_string();
    let (status, r) = post_raw(&t, "text/plain", body.clone()).await;
    assert_eq!(status, 415);
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    let (status, _) = post_raw(&t, "application/x-www-form-urlencoded", body).await;
    assert_eq!(status, 415);

    let boundary = "XBOUNDARY";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{{\"query\":\"mutation {{ createCaptcha {{ id }} }}\"}}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{}}\r\n--{boundary}--\r\n"
    );
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let (status, _) = post_raw(&t, &content_type, multipart.clone()).await;
    assert_eq!(status, 415, "multipart without a preflight header");
    let request = Request::post("/graphql")
        .header("content-type", content_type)
        .header("apollo-require-preflight", "true")
        .body(Body::from(multipart))
        .unwrap();
    let (status, _, bytes) = t.request(request).await;
    assert_eq!(status, 200);
    let r: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(r["data"]["createCaptcha"]["id"].is_string(), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_are_refused_before_parsing() {
    let t = TestApp::with_config(|c| c.limits.max_body_bytes = 1_000).await;
    let body =
        json!({ "query": "{ me { id } }", "variables": { "x": "y".repeat(2_000) } }).to_string();
    let (status, _) = post_raw(&t, "application/json", body).await;
    assert_eq!(status, 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn introspection_and_suggestions_are_off_unless_enabled() {
    let t = TestApp::with_config(|c| c.introspection = Some(false)).await;
    let r = t.gql("{ __schema { types { name } } }", json!({})).await;
    assert!(
        r.get("errors").is_some() || r["data"]["__schema"].is_null(),
        "{r}"
    );
    let typo = t.gql("{ mee { id } }", json!({})).await;
    let message = typo["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");
    assert_eq!(error_code(&typo), "BAD_USER_INPUT");

    let open = TestApp::spawn().await;
    let r = open
        .gql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(r["data"]["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_documents_and_ids_carry_codes() {
    let t = TestApp::spawn().await;
    let r = t.gql("{ me { id ", json!({})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    let r = t
        .gql(
            "mutation { loginWithPassword(phone: \"13800000000\", password: \"x\", captchaId: \"not-a-uuid\", captchaAnswer: \"x\") { token } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    assert_eq!(r["errors"][0]["extensions"]["field"], "captchaId");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_reports_the_database() {
    let t = TestApp::spawn().await;
    let (status, _, body) = t
        .request(Request::get("/health").body(Body::empty()).unwrap())
        .await;
    assert_eq!((status.as_u16(), body.as_slice()), (200, b"ok".as_slice()));
    let (status, headers, _) = t
        .request(Request::get("/").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let (_, headers, _) = t
        .request(Request::get("/health").body(Body::empty()).unwrap())
        .await;
    assert!(headers.contains_key("x-request-id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_over_the_size_limit_are_refused() {
    let t = TestApp::with_config(|c| c.limits.max_upload_bytes = 1_000).await;
    let boundary = "XBOUNDARY";
    let file = "x".repeat(2_000);
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{{\"query\":\"{{ me {{ id }} }}\",\"variables\":{{\"f\":null}}}}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\":[\"variables.f\"]}}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n{file}\r\n--{boundary}--\r\n"
    );
    let request = Request::post("/graphql")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("x-requested-with", "XMLHttpRequest")
        .body(Body::from(multipart))
        .unwrap();
    let (status, _, _) = t.request(request).await;
    assert_eq!(status, 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_directives_are_refused() {
    let t = TestApp::spawn().await;
    let fields: String = (0..11)
        .map(|i| format!("a{i}: __typename @include(if: true) "))
        .collect();
    let r = t.gql(&format!("{{ {fields} }}"), json!({})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_over_the_complexity_limit_are_refused() {
    let t = TestApp::with_config(|c| c.limits.max_complexity = 5).await;
    let r = t
        .gql(
            "{ me { id phone name email realNameStatus ukeyBound } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{r}"
    );
    assert!(
        t.gql("{ me { id } }", json!({}))
            .await
            .get("errors")
            .is_none()
    );
}
