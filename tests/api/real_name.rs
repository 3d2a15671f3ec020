//! Real-name verification: carrier and bank-card checks confirmed by code,
//! face checks completed by the provider's signed callback.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::test_app::{error_code, error_field};
use yuyunqian::db::schema::{identity_checks, users};

const START: &str = "mutation($t: IdType!, $n: String!, $i: String!, $m: RealNameMethod!, $b: String) { startRealNameVerification(idType: $t, name: $n, idNumber: $i, method: $m, bankCardNumber: $b, acceptAgreements: true) { id method status faceUrl failureReason } }";
const CONFIRM: &str = "mutation($id: ID!, $c: String!) { confirmRealNameVerification(id: $id, smsCode: $c) { id status } }";
const ME: &str = "{ me { name realNameStatus idType idNumberMasked } }";
const ID_NUMBER: &str = "410105199003074510";

#[tokio::test(flavor = "multi_thread")]
async fn carrier_check_confirmed_by_code_fixes_the_identity() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000101").await;
    t.app.clock.advance(chrono::TimeDelta::seconds(61));
    let started = t
        .gql_as(
            &person.token,
            START,
            json!({ "t": "RESIDENT_ID_CARD", "n": "张三", "i": ID_NUMBER, "m": "CARRIER_3" }),
        )
        .await;
    let check = &started["data"]["startRealNameVerification"];
    assert_eq!(check["status"], "PENDING", "{started}");
    let code = t.code_for("13800000101").await;
    assert!(
        t.last_sms("13800000101")
            .await
            .unwrap()
            .contains("实名认证")
    );

    let confirmed = t
        .gql_as(
            &person.token,
            CONFIRM,
            json!({ "id": check["id"], "c": code }),
        )
        .await;
    assert_eq!(
        confirmed["data"]["confirmRealNameVerification"]["status"], "VERIFIED",
        "{confirmed}"
    );
    let me = t.gql_as(&person.token, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["name"], "张三");
    assert_eq!(me["data"]["me"]["realNameStatus"], "VERIFIED");
    assert_eq!(me["data"]["me"]["idType"], "RESIDENT_ID_CARD");
    assert_eq!(me["data"]["me"]["idNumberMasked"], "4101**********4510");

    // Stored encrypted, with evidence of the check.
    let mut conn = t.conn().await;
    let enc: Option<Vec<u8>> = users::table
        .select(users::id_number_enc)
        .first(&mut conn)
        .await
        .unwrap();
    let enc = enc.unwrap();
    assert!(
        !enc.windows(ID_NUMBER.len())
            .any(|w| w == ID_NUMBER.as_bytes())
    );
    assert_eq!(
        t.keys().open(&enc, b"id_number").unwrap(),
        ID_NUMBER.as_bytes()
    );
    let (ip, status): (String, String) = identity_checks::table
        .select((identity_checks::client_ip, identity_checks::status))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(ip, crate::helpers::test_app::DEFAULT_IP);
    assert_eq!(status, "VERIFIED");

    // A verified identity cannot change.
    let again = t
        .gql_as(&person.token, START, json!({ "t": "RESIDENT_ID_CARD", "n": "李四", "i": "11010519491231002X", "m": "CARRIER_3" }))
        .await;
    assert_eq!(error_code(&again), "CONFLICT");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_identity_data_is_refused_by_field() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000102").await;
    let cases = [
        (
            json!({ "t": "RESIDENT_ID_CARD", "n": "张三", "i": "410105199003074516", "m": "CARRIER_3" }),
            "idNumber",
        ),
        (
            json!({ "t": "RESIDENT_ID_CARD", "n": "张", "i": ID_NUMBER, "m": "CARRIER_3" }),
            "name",
        ),
        (
            json!({ "t": "RESIDENT_ID_CARD", "n": "张三", "i": ID_NUMBER, "m": "BANK_CARD_4" }),
            "bankCardNumber",
        ),
        (
            json!({ "t": "RESIDENT_ID_CARD", "n": "张三", "i": ID_NUMBER, "m": "BANK_CARD_4", "b": "6222020200112233445" }),
            "bankCardNumber",
        ),
    ];
    for (variables, field) in cases {
        let response = t.gql_as(&person.token, START, variables).await;
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
        assert_eq!(error_field(&response), field, "{response}");
    }
    let anonymous = t
        .gql(
            START,
            json!({ "t": "RESIDENT_ID_CARD", "n": "张三", "i": ID_NUMBER, "m": "CARRIER_3" }),
        )
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn mismatching_identities_fail_with_a_reason_and_are_kept_as_evidence() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000103").await;
    let failed = t
        .gql_as(
            &person.token,
            START,
            json!({ "t": "RESIDENT_ID_CARD", "n": "假张三", "i": ID_NUMBER, "m": "CARRIER_3" }),
        )
        .await;
    let check = &failed["data"]["startRealNameVerification"];
    assert_eq!(check["status"], "FAILED", "{failed}");
    assert!(check["failureReason"].as_str().unwrap().contains("不一致"));
    let card = t
        .gql_as(&person.token, START, json!({ "t": "RESIDENT_ID_CARD", "n": "张三", "i": ID_NUMBER, "m": "BANK_CARD_4", "b": "6222020200112270000" }))
        .await;
    assert_eq!(
        card["data"]["startRealNameVerification"]["status"], "FAILED",
        "{card}"
    );
    let me = t.gql_as(&person.token, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["realNameStatus"], "FAILED");
    assert!(me["data"]["me"]["name"].is_null());
    let mut conn = t.conn().await;
    let kept: i64 = identity_checks::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_identity_verifies_only_one_account() {
    let t = TestApp::spawn().await;
    let first = t.register("13800000104").await;
    let second = t.register("13800000105").await;
    for person in [&first, &second] {
        t.app.clock.advance(chrono::TimeDelta::seconds(61));
        let started = t
            .gql_as(
                &person.token,
                START,
                json!({ "t": "RESIDENT_ID_CARD", "n": "张三", "i": ID_NUMBER, "m": "CARRIER_3" }),
            )
            .await;
        let id = started["data"]["startRealNameVerification"]["id"].clone();
        let code = t.code_for(&person.phone).await;
        let confirmed = t
            .gql_as(&person.token, CONFIRM, json!({ "id": id, "c": code }))
            .await;
        if std::ptr::eq(person, &first) {
            assert_eq!(
                confirmed["data"]["confirmRealNameVerification"]["status"],
                "VERIFIED"
            );
        } else {
            assert_eq!(error_code(&confirmed), "CONFLICT", "{confirmed}");
        }
    }
}

async fn post_webhook(t: &TestApp, provider: &str, body: &str, secret: &str) -> (u16, String) {
    let signature = hex::encode(
        yuyunqian::pki::secrets::hmac_sha256(secret.as_bytes(), &[body.as_bytes()]).unwrap(),
    );
    let request = axum::http::Request::post(format!("/webhooks/identity/{provider}"))
        .header("content-type", "application/json")
        .header("x-signature", signature)
        .body(axum::body::Body::from(body.to_owned()))
        .unwrap();
    let (status, _, bytes) = t.request(request).await;
    (
        status.as_u16(),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn face_check_completes_on_a_signed_idempotent_callback() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000106").await;
    let started = t
        .gql_as(
            &person.token,
            START,
            json!({ "t": "RESIDENT_ID_CARD", "n": "张三", "i": ID_NUMBER, "m": "FACE" }),
        )
        .await;
    let face_url = started["data"]["startRealNameVerification"]["faceUrl"]
        .as_str()
        .unwrap();
    let reference = face_url.rsplit('/').next().unwrap();
    let body = json!({ "reference": reference, "passed": true }).to_string();

    let (status, _) = post_webhook(&t, "local", &body, "not-the-secret").await;
    assert_eq!(status, 401);
    assert_eq!(
        t.gql_as(&person.token, ME, json!({})).await["data"]["me"]["realNameStatus"],
        "PENDING"
    );

    let (status, text) = post_webhook(&t, "local", &body, "test-webhook-secret").await;
    assert_eq!((status, text.as_str()), (200, "VERIFIED"));
    let failed_later =
        json!({ "reference": reference, "passed": false, "reason": "x" }).to_string();
    let (status, text) = post_webhook(&t, "local", &failed_later, "test-webhook-secret").await;
    assert_eq!(
        (status, text.as_str()),
        (200, "VERIFIED"),
        "a finished check does not change"
    );
    assert_eq!(
        t.gql_as(&person.token, ME, json!({})).await["data"]["me"]["realNameStatus"],
        "VERIFIED"
    );

    let unknown = json!({ "reference": "nope", "passed": true }).to_string();
    assert_eq!(
        post_webhook(&t, "local", &unknown, "test-webhook-secret")
            .await
            .0,
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn local_face_page_completes_by_the_test_identity_rules() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000107").await;
    let started = t
        .gql_as(
            &person.token,
            START,
            json!({ "t": "RESIDENT_ID_CARD", "n": "假李四", "i": ID_NUMBER, "m": "FACE" }),
        )
        .await;
    let face_url = started["data"]["startRealNameVerification"]["faceUrl"]
        .as_str()
        .unwrap();
    let path = face_url.trim_start_matches("http://127.0.0.1:8080");
    let (status, _, page) = t
        .request(
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("完成人脸识别"));
    let (status, _, _) = t
        .request(
            axum::http::Request::post(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        t.gql_as(&person.token, ME, json!({})).await["data"]["me"]["realNameStatus"],
        "FAILED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_check_cannot_replace_a_verified_identity() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000108").await;
    // A face check for one identity, then a carrier check for another.
    let face = t
        .gql_as(
            &person.token,
            START,
            json!({ "t": "RESIDENT_ID_CARD", "n": "李四", "i": "11010519491231002X", "m": "FACE" }),
        )
        .await;
    let reference = face["data"]["startRealNameVerification"]["faceUrl"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    t.app.clock.advance(chrono::TimeDelta::seconds(61));
    let carrier = t
        .gql_as(
            &person.token,
            START,
            json!({ "t": "RESIDENT_ID_CARD", "n": "张三", "i": ID_NUMBER, "m": "CARRIER_3" }),
        )
        .await;
    let id = carrier["data"]["startRealNameVerification"]["id"].clone();
    let code = t.code_for("13800000108").await;
    t.gql_as(&person.token, CONFIRM, json!({ "id": id, "c": code }))
        .await;

    let body = json!({ "reference": reference, "passed": true }).to_string();
    let (status, text) = post_webhook(&t, "local", &body, "test-webhook-secret").await;
    assert_eq!(
        (status, text.as_str()),
        (200, "FAILED"),
        "the superseded face check failed"
    );
    let me = t.gql_as(&person.token, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["name"], "张三");
}

#[tokio::test(flavor = "multi_thread")]
async fn real_name_starts_are_limited_per_user() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000109").await;
    for _ in 0..5 {
        let r = t
            .gql_as(
                &person.token,
                START,
                json!({ "t": "RESIDENT_ID_CARD", "n": "假张三", "i": ID_NUMBER, "m": "CARRIER_3" }),
            )
            .await;
        assert_eq!(
            r["data"]["startRealNameVerification"]["status"], "FAILED",
            "{r}"
        );
    }
    let sixth = t
        .gql_as(
            &person.token,
            START,
            json!({ "t": "RESIDENT_ID_CARD", "n": "张三", "i": ID_NUMBER, "m": "CARRIER_3" }),
        )
        .await;
    assert_eq!(error_code(&sixth), "RATE_LIMITED", "{sixth}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_identity_gateway_is_called_with_the_facts() {
    use axum::Json;
    use axum::routing::post;
    let router = axum::Router::new()
        .route(
            "/carrier-3",
            post(|Json(body): Json<serde_json::Value>| async move {
                let matches = body["name"] == "张三" && body["phone"] == "13800000110";
                Json(json!({ "match": matches, "reason": "运营商信息不一致" }))
            }),
        )
        .route(
            "/face",
            post(|Json(body): Json<serde_json::Value>| async move {
                assert!(
                    body["callbackUrl"]
                        .as_str()
                        .unwrap()
                        .ends_with("/webhooks/identity/http")
                );
                Json(json!({ "reference": "vendor-ref-1", "url": "https://vendor.example/face/1" }))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let t = TestApp::with_config(|c| {
        c.identity.identity_adapter = yuyunqian::config::IdentityAdapterKind::Http;
        c.identity.url = Some(format!("http://{addr}"));
    })
    .await;
    let person = t.register("13800000110").await;
    let other = t
        .gql_as(
            &person.token,
            START,
            json!({ "t": "RESIDENT_ID_CARD", "n": "王五", "i": ID_NUMBER, "m": "CARRIER_3" }),
        )
        .await;
    let failed = &other["data"]["startRealNameVerification"];
    assert_eq!(failed["status"], "FAILED", "{other}");
    assert_eq!(failed["failureReason"], "运营商信息不一致");

    let face = t
        .gql_as(
            &person.token,
            START,
            json!({ "t": "RESIDENT_ID_CARD", "n": "张三", "i": ID_NUMBER, "m": "FACE" }),
        )
        .await;
    assert_eq!(
        face["data"]["startRealNameVerification"]["faceUrl"],
        "https://vendor.example/face/1"
    );
    let body = json!({ "reference": "vendor-ref-1", "passed": true }).to_string();
    let (status, text) = post_webhook(&t, "http", &body, "test-webhook-secret").await;
    assert_eq!((status, text.as_str()), (200, "VERIFIED"));
    // The local stand-in page does not exist with a real provider.
    let (status, _, _) = t
        .request(
            axum::http::Request::get("/identity/local/face/x")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, 404);
}
