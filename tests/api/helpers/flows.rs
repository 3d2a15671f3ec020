//! Longer flows several test files need: a certified enterprise.

use serde_json::{Value, json};

use super::TestApp;
use super::test_app::Person;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

/// An enterprise certified through the whole GraphQL flow; `admin` applied
/// (phones and IDs must be unused in the test).
pub async fn certified_enterprise(
    t: &TestApp,
    admin_phone: &str,
    name: &str,
    uscc: &str,
) -> (Person, String) {
    let c = certified(t, admin_phone, name, uscc).await;
    (c.admin, c.enterprise)
}

/// A certified enterprise and the people around it.
pub struct Certified {
    pub admin: Person,
    pub enterprise: String,
    pub operator: Person,
    /// The phone the legal representative's authorization codes go to.
    pub legal_rep_phone: String,
}

pub async fn certified(t: &TestApp, admin_phone: &str, name: &str, uscc: &str) -> Certified {
    let operator = t.operator(&format!("139{}", &admin_phone[3..])).await;
    let (admin, id, enterprise) = reviewing_order(t, admin_phone, name, uscc).await;
    let r = approve_order(t, &operator, &id).await;
    assert_eq!(
        r["data"]["reviewCertificateOrder"]["status"], "APPROVED",
        "{r}"
    );
    Certified {
        admin,
        enterprise,
        operator,
        legal_rep_phone: format!("137{}", &admin_phone[3..]),
    }
}

/// A NEW order walked up to REVIEWING: (applicant, order id, enterprise id).
pub async fn reviewing_order(
    t: &TestApp,
    admin_phone: &str,
    name: &str,
    uscc: &str,
) -> (Person, String, String) {
    let admin = t.verified_person(admin_phone, "410105199003074510").await;
    reviewing_order_for(t, admin, name, uscc).await
}

/// The same for an applicant who is verified already.
pub async fn reviewing_order_for(
    t: &TestApp,
    admin: Person,
    name: &str,
    uscc: &str,
) -> (Person, String, String) {
    let admin_phone = admin.phone.clone();
    let legal_rep_phone = format!("137{}", &admin_phone[3..]);
    let handler_phone = format!("136{}", &admin_phone[3..]);
    let input = json!({
        "enterprise": {
            "name": name, "uscc": uscc, "legalRepName": "王五",
            "legalRepIdNumber": "11010519491231002X", "legalRepPhone": legal_rep_phone,
        },
        "method": "LEGAL_REP_PHONE",
        "handler": { "name": "张三", "idNumber": "410105199003074510", "phone": handler_phone, "email": "hr@example.com" },
        "sealKinds": ["OFFICIAL"],
        "acceptAgreements": true,
    });
    let r = t
        .gql_as(&admin.token, "mutation($i: StartCertificationInput!) { startEnterpriseCertification(input: $i) { id enterprise { id } } }", json!({ "i": input }))
        .await;
    let order = ok(&r, "startEnterpriseCertification");
    let id = order["id"].as_str().unwrap().to_owned();
    let enterprise = order["enterprise"]["id"].as_str().unwrap().to_owned();
    submit_order(t, &admin, &id, &legal_rep_phone, &handler_phone).await;
    (admin, id, enterprise)
}

fn ok(r: &Value, field: &str) -> Value {
    assert!(r.get("errors").is_none(), "{field}: {r}");
    r["data"][field].clone()
}

/// Walks a DRAFT order to REVIEWING: confirm, the legal representative's
/// code, the materials, the handler's code.
pub async fn submit_order(
    t: &TestApp,
    applicant: &Person,
    id: &str,
    legal_rep_phone: &str,
    handler_phone: &str,
) {
    let r = t
        .gql_as(
            &applicant.token,
            "mutation($o: ID!) { confirmCertificateOrder(orderId: $o) { id } }",
            json!({ "o": id }),
        )
        .await;
    ok(&r, "confirmCertificateOrder");
    let code = t.code_for(legal_rep_phone).await;
    let r = t
        .gql_as(&applicant.token, "mutation($o: ID!, $c: String!) { submitAuthorizationCode(orderId: $o, code: $c) { id } }", json!({ "o": id, "c": code }))
        .await;
    ok(&r, "submitAuthorizationCode");
    let r = t
        .gql_upload(
            &applicant.token,
            "mutation($o: ID!, $a: Upload!, $b: Upload!, $c: Upload!, $d: Upload!) { uploadCertificationMaterials(orderId: $o, authorizationLetter: $a, businessLicense: $b, handlerIdFront: $c, handlerIdBack: $d) { id } }",
            json!({ "o": id, "a": null, "b": null, "c": null, "d": null }),
            &[("a", "a.pdf", PDF), ("b", "b.pdf", PDF), ("c", "c.png", PNG), ("d", "d.png", PNG)],
        )
        .await;
    ok(&r, "uploadCertificationMaterials");
    let code = t.code_for(handler_phone).await;
    let r = t
        .gql_as(&applicant.token, "mutation($o: ID!, $c: String!) { confirmCertificationApplication(orderId: $o, smsCode: $c) { status } }", json!({ "o": id, "c": code }))
        .await;
    assert_eq!(
        ok(&r, "confirmCertificationApplication")["status"],
        "REVIEWING"
    );
}

/// The operator approves the order; the raw response.
pub async fn approve_order(t: &TestApp, operator: &Person, id: &str) -> Value {
    t.gql_as(
        &operator.token,
        "mutation($o: ID!) { reviewCertificateOrder(orderId: $o, approve: true) { status kind certificate { id subject } } }",
        json!({ "o": id }),
    )
    .await
}

/// A verified person (with this resident ID) who joined the enterprise,
/// approved by its ADMIN with `seal_ids` granted.
pub async fn member(
    t: &TestApp,
    admin: &Person,
    enterprise: &str,
    phone: &str,
    id_number: &str,
    seal_ids: Value,
) -> Person {
    t.app.clock.advance(chrono::TimeDelta::seconds(61));
    let person = t.verified_person(phone, id_number).await;
    let r = t
        .gql_as(&person.token, "mutation($e: ID!) { applyToJoinEnterprise(enterpriseId: $e, reason: \"员工\") { id } }", json!({ "e": enterprise }))
        .await;
    let application = ok(&r, "applyToJoinEnterprise")["id"].clone();
    let r = t
        .gql_as(&admin.token, "mutation($a: ID!, $s: [ID!]) { reviewJoinApplication(id: $a, approve: true, sealIds: $s) { status } }", json!({ "a": application, "s": seal_ids }))
        .await;
    assert_eq!(ok(&r, "reviewJoinApplication")["status"], "APPROVED");
    person
}
