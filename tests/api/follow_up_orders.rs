//! Orders after certification: a name change and its recertification, a
//! member taking over the administrator role, certificate renewal and the
//! expiry reminders, and refreshing orders from a remote CA.

use axum::Json;
use axum::extract::Path;
use axum::routing::get;
use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::flows::{
    approve_order, certified, member, reviewing_order, reviewing_order_for, submit_order,
};
use crate::helpers::test_app::{PASSWORD, error_code};

const SPACE: &str = "query($e: ID!) { enterprise(id: $e) { name status viewerRole seals { id kind name status } certificates { id subject status expiringSoon } } }";

fn order_id(r: &Value, field: &str) -> String {
    r["data"][field]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_change_voids_the_seals_until_recertification_is_approved() {
    let t = TestApp::spawn().await;
    let c = certified(
        &t,
        "13800003101",
        "郑州旧名科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let clerk = member(
        &t,
        &c.admin,
        &c.enterprise,
        "13800003102",
        "110101199003071233",
        json!([]),
    )
    .await;
    let space = t
        .gql_as(&c.admin.token, SPACE, json!({ "e": c.enterprise }))
        .await;
    let old_seal = space["data"]["enterprise"]["seals"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .gql_as(
            &c.admin.token,
            "mutation($s: ID!, $u: [ID!]!) { grantSeal(sealId: $s, userIds: $u) { id } }",
            json!({ "s": old_seal, "u": [clerk.user_id] }),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");

    // A member cannot rename; the same name is refused.
    let rename = "mutation($e: ID!, $n: String!) { changeEnterpriseName(enterpriseId: $e, newName: $n) { id kind status newName enterprise { status } } }";
    let r = t
        .gql_as(
            &clerk.token,
            rename,
            json!({ "e": c.enterprise, "n": "郑州新名科技有限公司" }),
        )
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN");
    let r = t
        .gql_as(
            &c.admin.token,
            rename,
            json!({ "e": c.enterprise, "n": "郑州旧名科技有限公司" }),
        )
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");

    let r = t
        .gql_as(
            &c.admin.token,
            rename,
            json!({ "e": c.enterprise, "n": "郑州新名科技有限公司" }),
        )
        .await;
    let order = &r["data"]["changeEnterpriseName"];
    assert_eq!(order["kind"], "RECERTIFICATION", "{r}");
    assert_eq!(order["status"], "DRAFT");
    assert_eq!(order["newName"], "郑州新名科技有限公司");
    assert_eq!(order["enterprise"]["status"], "RECERTIFICATION_REQUIRED");
    let id = order_id(&r, "changeEnterpriseName");

    // Every seal is voided, the member's grant is gone, no new seal meanwhile.
    let space = t
        .gql_as(&c.admin.token, SPACE, json!({ "e": c.enterprise }))
        .await;
    let enterprise = &space["data"]["enterprise"];
    assert_eq!(enterprise["name"], "郑州旧名科技有限公司");
    assert!(
        enterprise["seals"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "VOIDED"),
        "{space}"
    );
    let mine = t
        .gql_as(&clerk.token, SPACE, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(mine["data"]["enterprise"]["seals"], json!([]), "{mine}");
    let r = t
        .gql_as(
            &c.admin.token,
            "mutation($e: ID!) { createSeal(enterpriseId: $e, kind: CONTRACT) { id } }",
            json!({ "e": c.enterprise }),
        )
        .await;
    assert_eq!(error_code(&r), "CONFLICT");
    let r = t
        .gql_as(
            &c.admin.token,
            rename,
            json!({ "e": c.enterprise, "n": "郑州又名科技有限公司" }),
        )
        .await;
    assert_eq!(
        error_code(&r),
        "CONFLICT",
        "one open recertification at a time"
    );

    // The order walks the certification steps; approval renames and reissues.
    t.app.clock.advance(TimeDelta::seconds(61));
    submit_order(&t, &c.admin, &id, &c.legal_rep_phone, &c.admin.phone).await;
    let r = approve_order(&t, &c.operator, &id).await;
    let approved = &r["data"]["reviewCertificateOrder"];
    assert_eq!(approved["status"], "APPROVED", "{r}");
    assert!(
        approved["certificate"]["subject"]
            .as_str()
            .unwrap()
            .contains("CN=郑州新名科技有限公司"),
        "{r}"
    );
    let space = t
        .gql_as(&c.admin.token, SPACE, json!({ "e": c.enterprise }))
        .await;
    let enterprise = &space["data"]["enterprise"];
    assert_eq!(enterprise["name"], "郑州新名科技有限公司", "{space}");
    assert_eq!(enterprise["status"], "CERTIFIED");
    let statuses: Vec<&str> = enterprise["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["VALID", "REVOKED"],
        "the old name's certificate is revoked"
    );
    let seals = enterprise["seals"].as_array().unwrap();
    let fresh: Vec<_> = seals.iter().filter(|s| s["status"] == "ENABLED").collect();
    assert_eq!(fresh.len(), 1, "{space}");
    assert_eq!(fresh[0]["kind"], "OFFICIAL");
    assert_ne!(fresh[0]["id"], old_seal);
    let sms = t.last_sms(&c.admin.phone).await.unwrap();
    assert!(sms.contains("郑州新名科技有限公司已完成重新认证"), "{sms}");

    // The revoked certificate is in the CRL, and the log tells the story.
    let request = axum::http::Request::get("/pki/crl")
        .body(axum::body::Body::empty())
        .unwrap();
    let (_, _, crl) = t.request(request).await;
    let crl = openssl::x509::X509Crl::from_der(&crl).unwrap();
    assert_eq!(crl.get_revoked().map_or(0, |r| r.len()), 1);
    let logs = t
        .gql_as(&c.admin.token, "query($e: ID!) { enterprise(id: $e) { auditLogs(first: 50) { edges { node { action } } } } }", json!({ "e": c.enterprise }))
        .await;
    let actions: Vec<&str> = logs["data"]["enterprise"]["auditLogs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"enterprise.rename"), "{actions:?}");
    assert!(actions.contains(&"enterprise.recertify"), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_takes_over_the_admin_role_with_the_legal_representatives_authorization() {
    let t = TestApp::spawn().await;
    let c = certified(
        &t,
        "13800003201",
        "郑州接管科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let clerk = member(
        &t,
        &c.admin,
        &c.enterprise,
        "13800003202",
        "110101199003071233",
        json!([]),
    )
    .await;
    let outsider = {
        t.app.clock.advance(TimeDelta::seconds(61));
        t.verified_person("13800003203", "410102198506152310").await
    };
    let apply = "mutation($e: ID!) { applyForAdmin(enterpriseId: $e) { id kind status } }";
    let r = t
        .gql_as(&outsider.token, apply, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND");
    let r = t
        .gql_as(&c.admin.token, apply, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(error_code(&r), "CONFLICT");
    let r = t
        .gql_as(&clerk.token, apply, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(r["data"]["applyForAdmin"]["kind"], "ADMIN_CHANGE", "{r}");
    let id = order_id(&r, "applyForAdmin");
    let r = t
        .gql_as(&clerk.token, apply, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(
        error_code(&r),
        "CONFLICT",
        "one open admin change at a time"
    );

    // The operator's rejection reaches the applicant by SMS (no email on file).
    t.app.clock.advance(TimeDelta::seconds(61));
    submit_order(&t, &clerk, &id, &c.legal_rep_phone, &clerk.phone).await;
    let r = t
        .gql_as(&c.operator.token, "mutation($o: ID!) { reviewCertificateOrder(orderId: $o, approve: false, reason: \"授权书未盖章\") { status rejectReason } }", json!({ "o": id }))
        .await;
    assert_eq!(
        r["data"]["reviewCertificateOrder"]["status"], "REJECTED",
        "{r}"
    );
    let sms = t.last_sms(&clerk.phone).await.unwrap();
    assert!(
        sms.contains("超级管理员变更申请未通过审核") && sms.contains("授权书未盖章"),
        "{sms}"
    );
    let r = t
        .gql_upload(
            &clerk.token,
            "mutation($o: ID!, $a: Upload!, $b: Upload!, $c: Upload!, $d: Upload!) { uploadCertificationMaterials(orderId: $o, authorizationLetter: $a, businessLicense: $b, handlerIdFront: $c, handlerIdBack: $d) { status } }",
            json!({ "o": id, "a": null, "b": null, "c": null, "d": null }),
            &[("a", "a.pdf", PDF), ("b", "b.pdf", PDF), ("c", "c.png", PNG), ("d", "d.png", PNG)],
        )
        .await;
    assert_eq!(
        r["data"]["uploadCertificationMaterials"]["status"], "REVIEWING",
        "{r}"
    );

    let r = approve_order(&t, &c.operator, &id).await;
    assert_eq!(
        r["data"]["reviewCertificateOrder"]["status"], "APPROVED",
        "{r}"
    );
    let space = t
        .gql_as(&clerk.token, SPACE, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(
        space["data"]["enterprise"]["viewerRole"], "ADMIN",
        "{space}"
    );
    let gone = t
        .gql_as(&c.admin.token, SPACE, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(
        error_code(&gone),
        "NOT_FOUND",
        "the old admin left the enterprise"
    );
    let sms = t.last_sms(&c.admin.phone).await.unwrap();
    assert!(
        sms.contains("您已不再是郑州接管科技有限公司的超级管理员"),
        "{sms}"
    );
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

#[tokio::test(flavor = "multi_thread")]
async fn renewal_issues_a_new_certificate_and_rebinds_the_seals() {
    let t = TestApp::spawn().await;
    let c = certified(
        &t,
        "13800003301",
        "郑州续期科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let clerk = member(
        &t,
        &c.admin,
        &c.enterprise,
        "13800003302",
        "110101199003071233",
        json!([]),
    )
    .await;
    let space = t
        .gql_as(&c.admin.token, SPACE, json!({ "e": c.enterprise }))
        .await;
    let certificate = space["data"]["enterprise"]["certificates"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        space["data"]["enterprise"]["certificates"][0]["expiringSoon"],
        false
    );

    let renew = "mutation($c: ID!) { renewCertificate(certificateId: $c) { id kind status } }";
    let r = t
        .gql_as(&clerk.token, renew, json!({ "c": certificate }))
        .await;
    assert_eq!(
        error_code(&r),
        "NOT_FOUND",
        "members do not manage certificates"
    );
    let r = t
        .gql_as(&c.admin.token, renew, json!({ "c": certificate }))
        .await;
    assert_eq!(r["data"]["renewCertificate"]["kind"], "RENEWAL", "{r}");
    let id = order_id(&r, "renewCertificate");
    let r = t
        .gql_as(&c.admin.token, renew, json!({ "c": certificate }))
        .await;
    assert_eq!(error_code(&r), "CONFLICT");

    t.app.clock.advance(TimeDelta::seconds(61));
    submit_order(&t, &c.admin, &id, &c.legal_rep_phone, &c.admin.phone).await;
    let r = approve_order(&t, &c.operator, &id).await;
    let issued = r["data"]["reviewCertificateOrder"]["certificate"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(issued, certificate);
    let space = t
        .gql_as(&c.admin.token, SPACE, json!({ "e": c.enterprise }))
        .await;
    let enterprise = &space["data"]["enterprise"];
    let statuses: Vec<&str> = enterprise["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["VALID", "VALID"],
        "the old one runs out by itself"
    );
    assert_eq!(enterprise["seals"][0]["status"], "ENABLED");

    // The seal's signed record now names the new certificate and verifies.
    let mut conn = t.conn().await;
    let seal_id = enterprise["seals"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let seal = yuyunqian::db::seals::Seal::find(&mut conn, seal_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seal.certificate_id.unwrap().to_string(), issued);
    assert!(
        yuyunqian::domain::seals::verify_record(&mut conn, &t.app.services(), &seal)
            .await
            .unwrap()
    );

    // Renewing the replaced certificate is refused.
    let r = t
        .gql_as(&c.admin.token, renew, json!({ "c": certificate }))
        .await;
    assert_eq!(error_code(&r), "CONFLICT");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_is_reminded_weekly_while_the_certificate_nears_expiry() {
    let t = TestApp::spawn().await;
    let c = certified(
        &t,
        "13800003401",
        "郑州到期科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let remind = async || {
        let mut conn = t.conn().await;
        yuyunqian::domain::certificate_reminders::remind_expiring(&mut conn, &t.app.services())
            .await
            .unwrap()
    };
    let r = t
        .gql_as(
            &c.admin.token,
            "mutation { changeEmail(email: \"admin@example.com\") { email } }",
            json!({}),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    let reminder_emails = async || -> i64 {
        use diesel::{ExpressionMethods, QueryDsl};
        use diesel_async::RunQueryDsl;
        use yuyunqian::db::schema::email_outbox;
        let mut conn = t.conn().await;
        email_outbox::table
            .filter(email_outbox::recipient.eq("admin@example.com"))
            .filter(email_outbox::subject.eq("豫云签：企业数字证书即将到期"))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(remind().await, 0, "a fresh certificate needs no reminder");
    let before = t.sms_count(&c.admin.phone).await;

    t.app.clock.advance(TimeDelta::days(340));
    assert_eq!(remind().await, 1);
    let sms = t.last_sms(&c.admin.phone).await.unwrap();
    assert!(
        sms.contains("郑州到期科技有限公司的数字证书将于") && sms.contains("到期"),
        "{sms}"
    );
    assert_eq!(remind().await, 0, "once a week");
    t.app.clock.advance(TimeDelta::days(6));
    assert_eq!(remind().await, 0);
    t.app.clock.advance(TimeDelta::days(2));
    assert_eq!(remind().await, 1);
    assert_eq!(t.sms_count(&c.admin.phone).await, before + 2);
    assert_eq!(reminder_emails().await, 2);

    // The certificate shows as expiring soon (a new login: the old session ended).
    let (captcha, answer) = t.solved_captcha().await;
    let r = t
        .gql("mutation($p: String!, $pw: String!, $c: ID!, $a: String!) { loginWithPassword(phone: $p, password: $pw, captchaId: $c, captchaAnswer: $a) { token } }", json!({ "p": c.admin.phone, "pw": PASSWORD, "c": captcha, "a": answer }))
        .await;
    let token = r["data"]["loginWithPassword"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"));
    let space = t.gql_as(token, SPACE, json!({ "e": c.enterprise })).await;
    assert_eq!(
        space["data"]["enterprise"]["certificates"][0]["expiringSoon"], true,
        "{space}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_under_review_follow_the_remote_cas_decisions() {
    // A remote CA review desk; the orders' ids are known only later, so the
    // test fills in its verdicts as it goes.
    let slots: std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>> = Default::default();
    let desk = {
        let slots = slots.clone();
        let app = axum::Router::new().route(
            "/orders/{id}",
            get(move |Path(id): Path<String>| {
                let answer = slots
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|(order, _)| *order == id)
                    .map_or_else(|| json!({ "status": "PENDING" }), |(_, v)| v.clone());
                async move { Json(answer) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    };
    let t = TestApp::with_config(|config| {
        config.ca.review_adapter = yuyunqian::config::CaReviewAdapterKind::Http;
        config.ca.review_url = Some(format!("http://{desk}"));
    })
    .await;
    let (admin, first, _) = reviewing_order(
        &t,
        "13800003501",
        "郑州远程甲有限公司",
        "91350100M000100Y43",
    )
    .await;
    t.app.clock.advance(TimeDelta::seconds(61));
    let other = t.verified_person("13800003502", "110101199003071233").await;
    let (other, second, _) =
        reviewing_order_for(&t, other, "郑州远程乙有限公司", "91350100M000100Y43").await;
    let refresh = "mutation($o: ID!) { refreshCertificateOrder(orderId: $o) { status rejectReason certificate { subject } } }";

    // Nothing decided yet; others' orders stay hidden.
    let r = t.gql_as(&admin.token, refresh, json!({ "o": first })).await;
    assert_eq!(
        r["data"]["refreshCertificateOrder"]["status"], "REVIEWING",
        "{r}"
    );
    let r = t.gql_as(&other.token, refresh, json!({ "o": first })).await;
    assert_eq!(error_code(&r), "NOT_FOUND");

    slots
        .lock()
        .unwrap()
        .push((first.clone(), json!({ "status": "APPROVED" })));
    slots.lock().unwrap().push((
        second.clone(),
        json!({ "status": "REJECTED", "reason": "营业执照已过期" }),
    ));
    let r = t.gql_as(&admin.token, refresh, json!({ "o": first })).await;
    let order = &r["data"]["refreshCertificateOrder"];
    assert_eq!(order["status"], "APPROVED", "{r}");
    assert!(
        order["certificate"]["subject"]
            .as_str()
            .unwrap()
            .contains("郑州远程甲有限公司")
    );

    // The periodic pass picks up the other decision.
    let mut conn = t.conn().await;
    let decided =
        yuyunqian::domain::certification::refresh::refresh_reviewing(&mut conn, &t.app.services())
            .await
            .unwrap();
    assert_eq!(decided, 1);
    let r = t
        .gql_as(&other.token, refresh, json!({ "o": second }))
        .await;
    let order = &r["data"]["refreshCertificateOrder"];
    assert_eq!(order["status"], "REJECTED", "{r}");
    assert_eq!(order["rejectReason"], "营业执照已过期");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_ca_leaves_decisions_to_operators() {
    let t = TestApp::spawn().await;
    let (admin, id, _) = reviewing_order(
        &t,
        "13800003601",
        "郑州本地科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let r = t
        .gql_as(
            &admin.token,
            "mutation($o: ID!) { refreshCertificateOrder(orderId: $o) { status } }",
            json!({ "o": id }),
        )
        .await;
    assert_eq!(
        r["data"]["refreshCertificateOrder"]["status"], "REVIEWING",
        "{r}"
    );
    let mut conn = t.conn().await;
    let decided =
        yuyunqian::domain::certification::refresh::refresh_reviewing(&mut conn, &t.app.services())
            .await
            .unwrap();
    assert_eq!(decided, 0);
}
