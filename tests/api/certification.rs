//! Enterprise certification over GraphQL: every step of the order, the
//! operator's review, live updates over a WebSocket, and refused steps.

use chrono::TimeDelta;
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::test_app::{Person, error_code, error_field};
use crate::helpers::ws::{connect, init, next, send};

const ORDER: &str = "id status method rejectReason enterprise { id name status } certificate { subject serialNumber kind }";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
const LEGAL_REP_PHONE: &str = "13900000001";
const HANDLER_PHONE: &str = "13700000001";

fn start_input(method: &str) -> Value {
    json!({
        "enterprise": {
            "name": "河南豫信科技有限公司",
            "uscc": "91350100M000100Y43",
            "address": "郑州市金水区",
            "legalRepName": "王五",
            "legalRepIdNumber": "11010519491231002X",
            "legalRepPhone": LEGAL_REP_PHONE,
            "legalRepBankCard": "6222020200112233446",
        },
        "method": method,
        "handler": { "name": "张三", "idNumber": "410105199003074510", "phone": HANDLER_PHONE, "email": "hr@example.com" },
        "sealKinds": ["OFFICIAL", "CONTRACT"],
        "acceptAgreements": true,
    })
}

async fn start(t: &TestApp, person: &Person, method: &str) -> Value {
    let r = t
        .gql_as(
            &person.token,
            &format!("mutation($i: StartCertificationInput!) {{ startEnterpriseCertification(input: $i) {{ {ORDER} }} }}"),
            json!({ "i": start_input(method) }),
        )
        .await;
    r["data"]["startEnterpriseCertification"].clone()
}

async fn step(t: &TestApp, token: &str, mutation: &str, args: &str, vars: Value) -> Value {
    t.gql_as(
        token,
        &format!("mutation($o: ID!{args}) {{ {mutation} {{ {ORDER} }} }}"),
        vars,
    )
    .await
}

async fn upload(t: &TestApp, token: &str, order: &str, letter: &[u8]) -> Value {
    t.gql_upload(
        token,
        &format!("mutation($o: ID!, $a: Upload!, $b: Upload!, $c: Upload!, $d: Upload!) {{ uploadCertificationMaterials(orderId: $o, authorizationLetter: $a, businessLicense: $b, handlerIdFront: $c, handlerIdBack: $d) {{ {ORDER} }} }}"),
        json!({ "o": order, "a": null, "b": null, "c": null, "d": null }),
        &[("a", "letter.pdf", letter), ("b", "license.pdf", PDF), ("c", "front.png", PNG), ("d", "back.png", PNG)],
    )
    .await
}

/// Runs an order with LEGAL_REP_PHONE up to REVIEWING; returns its id.
async fn order_to_review(t: &TestApp, applicant: &Person) -> String {
    let order = start(t, applicant, "LEGAL_REP_PHONE").await;
    let id = order["id"].as_str().unwrap().to_owned();
    step(
        t,
        &applicant.token,
        "confirmCertificateOrder(orderId: $o)",
        "",
        json!({ "o": id }),
    )
    .await;
    let code = t.code_for(LEGAL_REP_PHONE).await;
    step(
        t,
        &applicant.token,
        "submitAuthorizationCode(orderId: $o, code: $c)",
        ", $c: String!",
        json!({ "o": id, "c": code }),
    )
    .await;
    upload(t, &applicant.token, &id, PDF).await;
    let code = t.code_for(HANDLER_PHONE).await;
    let r = step(
        t,
        &applicant.token,
        "confirmCertificationApplication(orderId: $o, smsCode: $c)",
        ", $c: String!",
        json!({ "o": id, "c": code }),
    )
    .await;
    assert_eq!(
        r["data"]["confirmCertificationApplication"]["status"], "REVIEWING",
        "{r}"
    );
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enterprise_is_certified_step_by_step_and_the_applicant_sees_every_change() {
    let t = TestApp::spawn().await;
    let applicant = t.verified_person("13800000801", "410105199003074510").await;
    let operator = t.operator("13800000802").await;
    let addr = t.serve().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    init(&mut socket, Some(&applicant.token)).await;
    send(&mut socket, json!({ "id": "s", "type": "subscribe", "payload": { "query": "subscription { certificateOrderUpdated { status } }" } })).await;
    tokio::time::sleep(crate::helpers::ws::SUBSCRIPTION_SETTLE).await;

    let order = start(&t, &applicant, "LEGAL_REP_PHONE").await;
    assert_eq!(order["status"], "DRAFT");
    assert_eq!(order["enterprise"]["status"], "CERTIFYING");
    let id = order["id"].as_str().unwrap().to_owned();

    let r = step(
        &t,
        &applicant.token,
        "confirmCertificateOrder(orderId: $o)",
        "",
        json!({ "o": id }),
    )
    .await;
    assert_eq!(
        r["data"]["confirmCertificateOrder"]["status"], "AWAITING_AUTHORIZATION",
        "{r}"
    );
    let code = t.code_for(LEGAL_REP_PHONE).await;
    assert!(
        t.last_sms(LEGAL_REP_PHONE)
            .await
            .unwrap()
            .contains("授权企业认证")
    );
    let r = step(
        &t,
        &applicant.token,
        "submitAuthorizationCode(orderId: $o, code: $c)",
        ", $c: String!",
        json!({ "o": id, "c": code }),
    )
    .await;
    assert_eq!(
        r["data"]["submitAuthorizationCode"]["status"], "AWAITING_MATERIALS",
        "{r}"
    );

    let r = upload(&t, &applicant.token, &id, PDF).await;
    assert_eq!(
        r["data"]["uploadCertificationMaterials"]["status"], "AWAITING_CONFIRMATION",
        "{r}"
    );
    let code = t.code_for(HANDLER_PHONE).await;
    let r = step(
        &t,
        &applicant.token,
        "confirmCertificationApplication(orderId: $o, smsCode: $c)",
        ", $c: String!",
        json!({ "o": id, "c": code }),
    )
    .await;
    assert_eq!(
        r["data"]["confirmCertificationApplication"]["status"], "REVIEWING",
        "{r}"
    );

    let pending = t
        .gql_as(
            &operator.token,
            "{ pendingCertificateOrders { id enterprise { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        pending["data"]["pendingCertificateOrders"][0]["id"],
        id.as_str(),
        "{pending}"
    );
    let refused = t
        .gql_as(
            &applicant.token,
            "{ pendingCertificateOrders { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN");

    let r = step(
        &t,
        &operator.token,
        "reviewCertificateOrder(orderId: $o, approve: true)",
        "",
        json!({ "o": id }),
    )
    .await;
    let approved = &r["data"]["reviewCertificateOrder"];
    assert_eq!(approved["status"], "APPROVED", "{r}");
    assert_eq!(approved["enterprise"]["status"], "CERTIFIED");
    assert_eq!(approved["certificate"]["kind"], "CLOUD");
    let subject = approved["certificate"]["subject"].as_str().unwrap();
    assert!(
        subject.contains("91350100M000100Y43") && subject.contains("河南豫信科技有限公司"),
        "{subject}"
    );

    let mine = t
        .gql_as(
            &applicant.token,
            "{ me { certificationOrders { status } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["data"]["me"]["certificationOrders"][0]["status"],
        "APPROVED"
    );

    let mut seen = Vec::new();
    while seen.len() < 5 {
        let message = next(&mut socket).await;
        seen.push(
            message["payload"]["data"]["certificateOrderUpdated"]["status"]
                .as_str()
                .unwrap_or("?")
                .to_owned(),
        );
    }
    assert_eq!(
        seen,
        [
            "AWAITING_AUTHORIZATION",
            "AWAITING_MATERIALS",
            "AWAITING_CONFIRMATION",
            "REVIEWING",
            "APPROVED"
        ]
    );

    // An approved order cannot be revoked.
    let r = step(
        &t,
        &applicant.token,
        "revokeCertificateOrder(orderId: $o)",
        "",
        json!({ "o": id }),
    )
    .await;
    assert_eq!(error_code(&r), "CONFLICT");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("APPROVED")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn steps_out_of_order_conflict_and_others_orders_are_not_found() {
    let t = TestApp::spawn().await;
    let applicant = t.verified_person("13800000803", "410105199003074510").await;
    let other = t.register("13800000804").await;
    let order = start(&t, &applicant, "LEGAL_REP_PHONE").await;
    let id = order["id"].as_str().unwrap();
    let r = step(
        &t,
        &applicant.token,
        "submitAuthorizationCode(orderId: $o, code: $c)",
        ", $c: String!",
        json!({ "o": id, "c": "123456" }),
    )
    .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("DRAFT")
    );
    let r = step(
        &t,
        &other.token,
        "confirmCertificateOrder(orderId: $o)",
        "",
        json!({ "o": id }),
    )
    .await;
    assert_eq!(error_code(&r), "NOT_FOUND");
    // Only verified people may certify an enterprise.
    let r = t
        .gql_as(&other.token, "mutation($i: StartCertificationInput!) { startEnterpriseCertification(input: $i) { id } }", json!({ "i": start_input("LEGAL_REP_PHONE") }))
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_certification_input_names_the_field() {
    let t = TestApp::spawn().await;
    let applicant = t.verified_person("13800000805", "410105199003074510").await;
    let mut input = start_input("LEGAL_REP_PHONE");
    input["enterprise"]["uscc"] = json!("91350100M000100Y44");
    let r = t
        .gql_as(&applicant.token, "mutation($i: StartCertificationInput!) { startEnterpriseCertification(input: $i) { id } }", json!({ "i": input }))
        .await;
    assert_eq!(error_field(&r), "enterprise.uscc", "{r}");
    let mut input = start_input("LEGAL_REP_PHONE");
    input["sealKinds"] = json!(["PERSONAL_NAME"]);
    let r = t
        .gql_as(&applicant.token, "mutation($i: StartCertificationInput!) { startEnterpriseCertification(input: $i) { id } }", json!({ "i": input }))
        .await;
    assert_eq!(error_field(&r), "sealKinds", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn corporate_payment_is_authorised_by_the_transferred_amount() {
    let t = TestApp::spawn().await;
    let applicant = t.verified_person("13800000806", "410105199003074510").await;
    let order = start(&t, &applicant, "CORPORATE_PAYMENT").await;
    let id = order["id"].as_str().unwrap();
    step(
        &t,
        &applicant.token,
        "confirmCertificateOrder(orderId: $o)",
        "",
        json!({ "o": id }),
    )
    .await;
    let notice = t.last_sms(LEGAL_REP_PHONE).await.unwrap();
    let at = notice.find("打款").unwrap() + "打款".len();
    let amount: String = notice[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let wrong = if amount == "0.01" { "0.02" } else { "0.01" };
    let r = step(
        &t,
        &applicant.token,
        "submitAuthorizationCode(orderId: $o, code: $c)",
        ", $c: String!",
        json!({ "o": id, "c": wrong }),
    )
    .await;
    assert_eq!(error_field(&r), "code", "{r}");
    let r = step(
        &t,
        &applicant.token,
        "submitAuthorizationCode(orderId: $o, code: $c)",
        ", $c: String!",
        json!({ "o": id, "c": amount }),
    )
    .await;
    assert_eq!(
        r["data"]["submitAuthorizationCode"]["status"], "AWAITING_MATERIALS",
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_orders_return_to_review_with_corrected_materials() {
    let t = TestApp::spawn().await;
    let applicant = t.verified_person("13800000807", "410105199003074510").await;
    let operator = t.operator("13800000808").await;
    let id = order_to_review(&t, &applicant).await;
    let r = step(
        &t,
        &operator.token,
        "reviewCertificateOrder(orderId: $o, approve: false)",
        "",
        json!({ "o": id }),
    )
    .await;
    assert_eq!(error_field(&r), "reason", "a rejection needs a reason");
    let r = step(
        &t,
        &operator.token,
        "reviewCertificateOrder(orderId: $o, approve: false, reason: $r)",
        ", $r: String",
        json!({ "o": id, "r": "营业执照不清晰" }),
    )
    .await;
    assert_eq!(
        r["data"]["reviewCertificateOrder"]["status"], "REJECTED",
        "{r}"
    );
    assert_eq!(
        r["data"]["reviewCertificateOrder"]["rejectReason"],
        "营业执照不清晰"
    );
    assert!(
        t.last_sms("13800000807")
            .await
            .unwrap()
            .contains("未通过审核")
    );

    let bad = upload(&t, &applicant.token, &id, b"GIF89a not allowed").await;
    assert_eq!(error_field(&bad), "authorizationLetter", "{bad}");
    let r = upload(&t, &applicant.token, &id, PDF).await;
    assert_eq!(
        r["data"]["uploadCertificationMaterials"]["status"], "REVIEWING",
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_uscc_is_certified_once() {
    let t = TestApp::spawn().await;
    let first = t.verified_person("13800000809", "410105199003074510").await;
    t.app.clock.advance(TimeDelta::seconds(61));
    let second = t.verified_person("13800000810", "11010519491231002X").await;
    let operator = t.operator("13800000811").await;
    let a = order_to_review(&t, &first).await;
    t.app.clock.advance(TimeDelta::seconds(61));
    let b = order_to_review(&t, &second).await;
    let r = step(
        &t,
        &operator.token,
        "reviewCertificateOrder(orderId: $o, approve: true)",
        "",
        json!({ "o": a }),
    )
    .await;
    assert_eq!(
        r["data"]["reviewCertificateOrder"]["status"], "APPROVED",
        "{r}"
    );
    let r = step(
        &t,
        &operator.token,
        "reviewCertificateOrder(orderId: $o, approve: true)",
        "",
        json!({ "o": b }),
    )
    .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_can_be_revoked_before_approval() {
    let t = TestApp::spawn().await;
    let applicant = t.verified_person("13800000812", "410105199003074510").await;
    let order = start(&t, &applicant, "LEGAL_REP_PHONE").await;
    let id = order["id"].as_str().unwrap();
    let r = step(
        &t,
        &applicant.token,
        "revokeCertificateOrder(orderId: $o)",
        "",
        json!({ "o": id }),
    )
    .await;
    assert_eq!(
        r["data"]["revokeCertificateOrder"]["status"], "REVOKED",
        "{r}"
    );
    // The application is cleared: order and never-certified enterprise are
    // gone, and the platform's audit log keeps what happened.
    let r = step(
        &t,
        &applicant.token,
        "confirmCertificateOrder(orderId: $o)",
        "",
        json!({ "o": id }),
    )
    .await;
    assert_eq!(error_code(&r), "NOT_FOUND");
    let mine = t
        .gql_as(
            &applicant.token,
            "{ me { certificationOrders { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["data"]["me"]["certificationOrders"],
        json!([]),
        "{mine}"
    );
    let mut conn = t.conn().await;
    let enterprise: uuid::Uuid = order["enterprise"]["id"].as_str().unwrap().parse().unwrap();
    let left: i64 = yuyunqian::db::schema::enterprises::table
        .filter(yuyunqian::db::schema::enterprises::id.eq(enterprise))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let report = yuyunqian::domain::audit::verify(&mut conn).await.unwrap();
    assert!(report.first_broken.is_none(), "the chains still verify");
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_cannot_approve_their_own_application() {
    let t = TestApp::spawn().await;
    let applicant = t.verified_person("13800000813", "410105199003074510").await;
    let mut conn = t.conn().await;
    yuyunqian::domain::platform_roles::grant(
        &mut conn,
        &t.app.services(),
        "13800000813",
        yuyunqian::db::enums::PlatformRole::Operator,
        None,
    )
    .await
    .unwrap();
    let id = order_to_review(&t, &applicant).await;
    let r = step(
        &t,
        &applicant.token,
        "reviewCertificateOrder(orderId: $o, approve: true)",
        "",
        json!({ "o": id }),
    )
    .await;
    assert_eq!(error_code(&r), "FORBIDDEN", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_legal_representatives_phone_must_be_theirs() {
    let t = TestApp::spawn().await;
    let applicant = t.verified_person("13800000814", "410105199003074510").await;
    let mut input = start_input("LEGAL_REP_PHONE");
    // The local carrier check refuses names with 假: the phone is not the legal representative's.
    input["enterprise"]["legalRepName"] = json!("假王五");
    let r = t
        .gql_as(&applicant.token, "mutation($i: StartCertificationInput!) { startEnterpriseCertification(input: $i) { id } }", json!({ "i": input }))
        .await;
    assert_eq!(error_field(&r), "enterprise.legalRepPhone", "{r}");
}
