//! Seals: created on certification and real-name verification, drawn as
//! transparent PNGs, signed as records, managed and granted by the ADMIN.

use axum::body::Body;
use axum::http::Request;
use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::flows::certified_enterprise;
use crate::helpers::test_app::{error_code, error_field};

const SEALS: &str = "query($e: ID!) { enterprise(id: $e) { seals { id kind name status image { url contentType sha256 } grantedTo { phone } } } }";

async fn seals(t: &TestApp, token: &str, enterprise: &str) -> Value {
    let r = t.gql_as(token, SEALS, json!({ "e": enterprise })).await;
    assert!(r.get("errors").is_none(), "{r}");
    r["data"]["enterprise"]["seals"].clone()
}

async fn download(t: &TestApp, url: &str) -> (u16, Vec<u8>) {
    let path = url.trim_start_matches("http://127.0.0.1:8080");
    let (status, _, body) = t
        .request(Request::get(path).body(Body::empty()).unwrap())
        .await;
    (status.as_u16(), body)
}

async fn member(
    t: &TestApp,
    admin: &str,
    enterprise: &str,
    phone: &str,
    seal_ids: Value,
) -> crate::helpers::test_app::Person {
    t.app.clock.advance(TimeDelta::seconds(61));
    let person = t.verified_person(phone, "11010519491231002X").await;
    let applied = t
        .gql_as(&person.token, "mutation($e: ID!) { applyToJoinEnterprise(enterpriseId: $e, reason: \"员工\") { id } }", json!({ "e": enterprise }))
        .await;
    let id = applied["data"]["applyToJoinEnterprise"]["id"].clone();
    let r = t
        .gql_as(admin, "mutation($a: ID!, $s: [ID!]) { reviewJoinApplication(id: $a, approve: true, sealIds: $s) { status } }", json!({ "a": id, "s": seal_ids }))
        .await;
    assert_eq!(
        r["data"]["reviewJoinApplication"]["status"], "APPROVED",
        "{r}"
    );
    person
}

#[tokio::test(flavor = "multi_thread")]
async fn certification_creates_the_requested_seals_as_signed_transparent_images() {
    let t = TestApp::spawn().await;
    let (admin, enterprise) = certified_enterprise(
        &t,
        "13800001001",
        "郑州云签科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let list = seals(&t, &admin.token, &enterprise).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["kind"], "OFFICIAL");
    assert_eq!(list[0]["status"], "ENABLED");
    let (status, png) = download(&t, list[0]["image"]["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let pixmap = tiny_skia::Pixmap::decode_png(&png).unwrap();
    assert!(pixmap.width() >= 600 && pixmap.height() >= 600);
    assert_eq!(
        pixmap.pixel(1, 1).unwrap().alpha(),
        0,
        "transparent background"
    );
    assert_eq!(pixmap.pixel(300, 300).unwrap().alpha(), 255, "the star");

    // The record is signed: intact it verifies, a swapped image does not.
    let mut conn = t.conn().await;
    let id: uuid::Uuid = list[0]["id"].as_str().unwrap().parse().unwrap();
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let row: yuyunqian::db::seals::Seal = yuyunqian::db::schema::seals::table
        .find(id)
        .select(yuyunqian::db::seals::Seal::as_select())
        .first(&mut conn)
        .await
        .unwrap();
    let services = t.app.services();
    // Twice: the second answer comes from the process's memory of records
    // verified, which must not let a forged one through either.
    for _ in 0..2 {
        assert!(
            yuyunqian::domain::seals::verify_record(&mut conn, &services, &row)
                .await
                .unwrap()
        );
    }
    let mut forged = row.clone();
    forged.image_sha256 = "0".repeat(64);
    let mut resigned = row.clone();
    resigned.record_signature[8] ^= 1;
    for forged in [forged, resigned] {
        assert!(
            !yuyunqian::domain::seals::verify_record(&mut conn, &services, &forged)
                .await
                .unwrap()
        );
    }

    // Links are signed and short-lived.
    let url = list[0]["image"]["url"].as_str().unwrap();
    let (status, _) = download(&t, &url.replace("sig=", "sig=00")).await;
    assert_eq!(status, 403);
    t.app.clock.advance(TimeDelta::minutes(11));
    assert_eq!(download(&t, url).await.0, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn verified_people_get_a_name_seal() {
    let t = TestApp::spawn().await;
    let person = t.verified_person("13800001002", "410105199003074510").await;
    let r = t
        .gql_as(
            &person.token,
            "{ me { seals { kind name status image { contentType } } } }",
            json!({}),
        )
        .await;
    let list = &r["data"]["me"]["seals"];
    assert_eq!(list[0]["kind"], "PERSONAL_NAME", "{r}");
    assert_eq!(list[0]["name"], "张三");
    assert_eq!(list[0]["image"]["contentType"], "image/png");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_without_a_grant_cannot_see_or_use_a_seal() {
    let t = TestApp::spawn().await;
    let (admin, enterprise) = certified_enterprise(
        &t,
        "13800001003",
        "郑州云签科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let official = seals(&t, &admin.token, &enterprise).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let staff = member(&t, &admin.token, &enterprise, "13800001004", json!([])).await;
    assert_eq!(seals(&t, &staff.token, &enterprise).await, json!([]));

    const GRANT: &str = "mutation($s: ID!, $u: [ID!]!) { grantSeal(sealId: $s, userIds: $u) { grantedTo { phone } } }";
    let r = t
        .gql_as(
            &staff.token,
            GRANT,
            json!({ "s": official, "u": [staff.user_id] }),
        )
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND");
    let outsider = t.register("13800001005").await;
    let r = t
        .gql_as(
            &admin.token,
            GRANT,
            json!({ "s": official, "u": [outsider.user_id] }),
        )
        .await;
    assert_eq!(error_field(&r), "userIds");
    let r = t
        .gql_as(
            &admin.token,
            GRANT,
            json!({ "s": official, "u": [staff.user_id] }),
        )
        .await;
    assert_eq!(
        r["data"]["grantSeal"]["grantedTo"][0]["phone"], "138****1004",
        "{r}"
    );
    let visible = seals(&t, &staff.token, &enterprise).await;
    assert_eq!(visible[0]["id"], official.as_str());
    assert_eq!(
        visible[0]["grantedTo"],
        json!([]),
        "members do not see other grantees"
    );

    let r = t
        .gql_as(
            &admin.token,
            "mutation($s: ID!, $u: ID!) { revokeSealGrant(sealId: $s, userId: $u) { id } }",
            json!({ "s": official, "u": staff.user_id }),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(seals(&t, &staff.token, &enterprise).await, json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn join_review_grants_seals_and_the_admin_manages_their_status() {
    let t = TestApp::spawn().await;
    let (admin, enterprise) = certified_enterprise(
        &t,
        "13800001006",
        "郑州云签科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let r = t
        .gql_as(
            &admin.token,
            "mutation($e: ID!) { createSeal(enterpriseId: $e, kind: CONTRACT) { id name kind } }",
            json!({ "e": enterprise }),
        )
        .await;
    assert_eq!(r["data"]["createSeal"]["name"], "合同专用章", "{r}");
    let contract = r["data"]["createSeal"]["id"].as_str().unwrap().to_owned();
    let r = t
        .gql_as(
            &admin.token,
            "mutation($e: ID!) { createSeal(enterpriseId: $e, kind: PERSONAL_NAME) { id } }",
            json!({ "e": enterprise }),
        )
        .await;
    assert_eq!(error_field(&r), "kind");

    let staff = member(
        &t,
        &admin.token,
        &enterprise,
        "13800001007",
        json!([contract]),
    )
    .await;
    let visible = seals(&t, &staff.token, &enterprise).await;
    assert_eq!(visible.as_array().unwrap().len(), 1);
    assert_eq!(visible[0]["kind"], "CONTRACT");

    const STATUS: &str =
        "mutation($s: ID!, $t: SealStatus!) { setSealStatus(sealId: $s, status: $t) { status } }";
    for status in ["DISABLED", "ENABLED", "VOIDED"] {
        let r = t
            .gql_as(&admin.token, STATUS, json!({ "s": contract, "t": status }))
            .await;
        assert_eq!(r["data"]["setSealStatus"]["status"], status, "{r}");
    }
    let r = t
        .gql_as(
            &admin.token,
            STATUS,
            json!({ "s": contract, "t": "ENABLED" }),
        )
        .await;
    assert_eq!(error_code(&r), "CONFLICT");
    let r = t
        .gql_as(
            &staff.token,
            STATUS,
            json!({ "s": contract, "t": "ENABLED" }),
        )
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND");

    let audit = t
        .gql_as(&admin.token, "query($e: ID!) { enterprise(id: $e) { auditLogs(first: 100, action: \"seal.status\") { totalCount } } }", json!({ "e": enterprise }))
        .await;
    assert_eq!(
        audit["data"]["enterprise"]["auditLogs"]["totalCount"], 3,
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_legal_representative_voids_the_old_seal_and_its_grants() {
    let t = TestApp::spawn().await;
    let (admin, enterprise) = certified_enterprise(
        &t,
        "13800001008",
        "郑州云签科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let r = t
        .gql_as(
            &admin.token,
            "mutation($e: ID!) { createSeal(enterpriseId: $e, kind: LEGAL_REPRESENTATIVE) { id } }",
            json!({ "e": enterprise }),
        )
        .await;
    let old = r["data"]["createSeal"]["id"].as_str().unwrap().to_owned();
    let staff = member(&t, &admin.token, &enterprise, "13800001009", json!([old])).await;
    assert_eq!(
        seals(&t, &staff.token, &enterprise)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    const CHANGE: &str = "mutation($e: ID!, $n: String!) { changeLegalRepresentative(enterpriseId: $e, name: $n, idNumber: \"410102198506152310\", phone: \"13500001008\") { legalRepresentative } }";
    let r = t
        .gql_as(
            &staff.token,
            CHANGE,
            json!({ "e": enterprise, "n": "赵六" }),
        )
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN");
    let r = t
        .gql_as(
            &admin.token,
            CHANGE,
            json!({ "e": enterprise, "n": "假赵六" }),
        )
        .await;
    assert_eq!(error_field(&r), "phone", "the carrier refuses: {r}");
    let r = t
        .gql_as(
            &admin.token,
            CHANGE,
            json!({ "e": enterprise, "n": "赵六" }),
        )
        .await;
    assert_eq!(
        r["data"]["changeLegalRepresentative"]["legalRepresentative"], "赵六",
        "{r}"
    );

    let list = seals(&t, &admin.token, &enterprise).await;
    let voided = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == old.as_str())
        .unwrap();
    assert_eq!(voided["status"], "VOIDED");
    assert_eq!(voided["grantedTo"], json!([]));
    assert_eq!(seals(&t, &staff.token, &enterprise).await, json!([]));
}
