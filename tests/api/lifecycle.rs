//! Tasks in progress under the initiator's hand: revocation (with the quota
//! refund), reminders limited per signer, and expiry by the job.

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::contracts::{fill_all, grant_quota, labor_values, published_labor_template};
use crate::helpers::flows::{Certified, certified, member};
use crate::helpers::test_app::{error_code, error_field};
use crate::templates::business_type;

const INITIATE: &str = "mutation($i: InitiateBatchInput!) { initiateSigningBatch(input: $i) { tasks { edges { node { id } } } } }";
const REVOKE: &str = "mutation($t: [ID!]!, $r: String!) { revokeTasks(taskIds: $t, reason: $r) { id status voidReason voidNote documents { status } } }";
const REMIND: &str = "mutation($t: [ID!]!) { remindSigners(taskIds: $t) }";
const TASK: &str = "query($t: ID!) { task(id: $t) { status voidReason } }";

fn ok<'a>(r: &'a Value, field: &str) -> &'a Value {
    assert!(r.get("errors").is_none(), "{field}: {r}");
    &r["data"][field]
}

/// A certified enterprise, quota for two tasks, and a filled batch of two
/// (the person signs first): (enterprise, task ids).
async fn two_tasks(t: &TestApp, phone: &str, deadline: Option<String>) -> (Certified, Vec<String>) {
    tasks_with(t, phone, deadline, false).await
}

/// The same; the first row names 张三 (whom `verified_person` verifies),
/// the person may refuse when `can_refuse`.
async fn tasks_with(
    t: &TestApp,
    phone: &str,
    deadline: Option<String>,
    can_refuse: bool,
) -> (Certified, Vec<String>) {
    let c = certified(t, phone, "郑州撤销科技有限公司", "91350100M000100Y43").await;
    grant_quota(t, &c.enterprise, 2).await;
    let bt = business_type(t, &c.admin, &c.enterprise, "劳动合同").await;
    let template = published_labor_template(t, &c).await;
    let rows: Vec<Value> = [("张三", "13500010001"), ("员工乙", "13500010002")]
        .iter()
        .map(|(name, phone)| json!({ "person": { "name": name, "phone": phone }, "values": labor_values(name) }))
        .collect();
    let input = json!({
        "enterpriseId": c.enterprise, "title": "续签", "businessTypeId": bt,
        "templateIds": [template], "signOrder": "SEQUENTIAL", "deadline": deadline,
        "enterpriseSigners": [{ "roleKey": "employer", "enterpriseId": c.enterprise, "step": 2 }],
        "personSigner": { "roleKey": "employee", "step": 1, "canRefuse": can_refuse },
        "rows": rows,
    });
    let r = t
        .gql_as(&c.admin.token, INITIATE, json!({ "i": input }))
        .await;
    let ids = ok(&r, "initiateSigningBatch")["tasks"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    fill_all(t).await;
    (c, ids)
}

async fn balance(t: &TestApp, c: &Certified) -> i64 {
    let r = t
        .gql_as(
            &c.admin.token,
            "query($e: ID!) { enterprise(id: $e) { quotaBalance } }",
            json!({ "e": c.enterprise }),
        )
        .await;
    ok(&r, "enterprise")["quotaBalance"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_voids_the_task_tells_the_signer_and_refunds_the_quota_once() {
    let t = TestApp::spawn().await;
    let (c, tasks) = two_tasks(&t, "13800010001", None).await;
    assert_eq!(balance(&t, &c).await, 0);

    // Only the initiating side may revoke; for others the task is not there.
    let employee = t.verified_person("13500010001", "410105199003074545").await;
    let clerk = member(
        &t,
        &c.admin,
        &c.enterprise,
        "13800010002",
        "41010519900307123X",
        json!([]),
    )
    .await;
    for outsider in [&employee, &clerk] {
        let r = t
            .gql_as(
                &outsider.token,
                REVOKE,
                json!({ "t": [tasks[0]], "r": "信息有误" }),
            )
            .await;
        assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    }
    let r = t
        .gql_as(&c.admin.token, REVOKE, json!({ "t": [tasks[0]], "r": " " }))
        .await;
    assert_eq!(error_field(&r), "reason", "{r}");
    let too_many: Vec<String> = (0..101).map(|_| tasks[0].clone()).collect();
    let r = t
        .gql_as(&c.admin.token, REVOKE, json!({ "t": too_many, "r": "x" }))
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");

    let r = t
        .gql_as(
            &c.admin.token,
            REVOKE,
            json!({ "t": [tasks[0]], "r": "信息有误" }),
        )
        .await;
    let revoked = &ok(&r, "revokeTasks")[0];
    assert_eq!(revoked["status"], "VOIDED");
    assert_eq!(revoked["voidReason"], "REVOKED");
    assert_eq!(revoked["voidNote"], "信息有误");
    assert_eq!(revoked["documents"][0]["status"], "VOIDED");
    assert_eq!(
        balance(&t, &c).await,
        1,
        "nobody had signed: the unit comes back"
    );
    let sms = t.last_sms("13500010001").await.unwrap();
    assert!(sms.contains("已撤销签署任务《续签》"), "{sms}");
    // Once only: a second revocation is a conflict and refunds nothing.
    let r = t
        .gql_as(
            &c.admin.token,
            REVOKE,
            json!({ "t": [tasks[0], tasks[1]], "r": "再撤" }),
        )
        .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
    let r = t
        .gql_as(&c.admin.token, TASK, json!({ "t": tasks[1] }))
        .await;
    assert_eq!(
        ok(&r, "task")["status"],
        "IN_PROGRESS",
        "the failed call changed nothing"
    );
    assert_eq!(balance(&t, &c).await, 1);
    // The employee finds it among the voided tasks.
    let r = t
        .gql_as(
            &employee.token,
            "{ me { tasks(box: VOIDED) { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(ok(&r, "me")["tasks"]["totalCount"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signer_is_reminded_at_most_once_an_hour() {
    let t = TestApp::spawn().await;
    let (c, tasks) = two_tasks(&t, "13800010011", None).await;
    let r = t
        .gql_as(&c.admin.token, REMIND, json!({ "t": tasks }))
        .await;
    assert_eq!(ok(&r, "remindSigners"), 2);
    let sms = t.last_sms("13500010002").await.unwrap();
    assert!(sms.contains("提醒您尽快签署《续签》"), "{sms}");
    let r = t
        .gql_as(&c.admin.token, REMIND, json!({ "t": tasks }))
        .await;
    assert_eq!(ok(&r, "remindSigners"), 0, "within the hour");
    t.app.clock.advance(chrono::TimeDelta::minutes(61));
    let r = t
        .gql_as(&c.admin.token, REMIND, json!({ "t": [tasks[0]] }))
        .await;
    assert_eq!(ok(&r, "remindSigners"), 1);
    assert_eq!(
        t.sms_count("13500010001").await,
        3,
        "invitation and two reminders"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tasks_past_their_deadline_expire_without_a_refund() {
    let t = TestApp::spawn().await;
    let deadline = (t.app.clock.now() + chrono::TimeDelta::hours(1)).to_rfc3339();
    let (c, tasks) = two_tasks(&t, "13800010021", Some(deadline)).await;
    let mut conn = t.conn().await;
    let expire = yuyunqian::domain::tasks::lifecycle::expire_pass;
    assert_eq!(expire(&mut conn, &t.app.services()).await.unwrap(), 0);
    t.app.clock.advance(chrono::TimeDelta::minutes(61));
    assert_eq!(expire(&mut conn, &t.app.services()).await.unwrap(), 2);
    assert_eq!(
        expire(&mut conn, &t.app.services()).await.unwrap(),
        0,
        "once"
    );
    let r = t
        .gql_as(&c.admin.token, TASK, json!({ "t": tasks[1] }))
        .await;
    assert_eq!(ok(&r, "task")["voidReason"], "EXPIRED");
    assert_eq!(balance(&t, &c).await, 0, "an expired task used its unit");
    let r = t
        .gql_as(&c.admin.token, REMIND, json!({ "t": tasks }))
        .await;
    assert_eq!(
        ok(&r, "remindSigners"),
        0,
        "nobody is reminded of a voided task"
    );
}

const REFUSE: &str = "mutation($t: ID!, $r: String!) { refuseTask(taskId: $t, reason: $r) { status voidReason voidNote signers { kind status } } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_signer_allowed_to_refuse_ends_the_task() {
    let t = TestApp::spawn().await;
    let (c, tasks) = tasks_with(&t, "13800010031", None, true).await;
    // The second row names 员工乙: an account verified as 张三 on that
    // phone is not that person.
    let impostor = t.verified_person("13500010002", "410105199003074545").await;
    let r = t
        .gql_as(
            &impostor.token,
            REFUSE,
            json!({ "t": tasks[1], "r": "不同意" }),
        )
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN", "{r}");
    // The initiator sees the task, but the enterprise's turn (step 2) has
    // not come.
    let r = t
        .gql_as(
            &c.admin.token,
            REFUSE,
            json!({ "t": tasks[0], "r": "不同意" }),
        )
        .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
    let r = t
        .gql_as(&c.admin.token, REFUSE, json!({ "t": tasks[0], "r": " " }))
        .await;
    assert_eq!(error_field(&r), "reason", "{r}");

    let employee = t.verified_person("13500010001", "410105199003074537").await;
    let r = t
        .gql_as(
            &employee.token,
            REFUSE,
            json!({ "t": tasks[0], "r": "薪资有误" }),
        )
        .await;
    let refused = ok(&r, "refuseTask");
    assert_eq!(refused["status"], "VOIDED");
    assert_eq!(refused["voidReason"], "REFUSED");
    assert_eq!(refused["voidNote"], "薪资有误");
    assert_eq!(refused["signers"][1]["status"], "REFUSED");
    let sms = t.last_sms(&c.admin.phone).await.unwrap();
    assert!(sms.contains("张三拒签了《续签》"), "{sms}");
    let r = t
        .gql_as(
            &employee.token,
            REFUSE,
            json!({ "t": tasks[0], "r": "再拒" }),
        )
        .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
    assert_eq!(balance(&t, &c).await, 0, "a refused task used its unit");

    // Without canRefuse the person cannot refuse.
    let t2 = TestApp::spawn().await;
    let (_, tasks) = two_tasks(&t2, "13800010041", None).await;
    let employee = t2
        .verified_person("13500010001", "410105199003074537")
        .await;
    let r = t2
        .gql_as(
            &employee.token,
            REFUSE,
            json!({ "t": tasks[0], "r": "不同意" }),
        )
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("did not allow"),
        "{r}"
    );
}

const SEND_CODE: &str =
    "mutation($t: ID!) { sendSigningCode(taskId: $t) { sentTo retryAfterSeconds } }";

#[tokio::test(flavor = "multi_thread")]
async fn an_intent_code_goes_to_the_signer_whose_turn_it_is_and_works_once() {
    let t = TestApp::spawn().await;
    let (c, tasks) = two_tasks(&t, "13800010051", None).await;
    let employee = t.verified_person("13500010001", "410105199003074537").await;
    // Verification just sent this phone a code: the resend pause applies.
    t.app.clock.advance(chrono::TimeDelta::seconds(61));
    let r = t
        .gql_as(&employee.token, SEND_CODE, json!({ "t": tasks[0] }))
        .await;
    assert_eq!(ok(&r, "sendSigningCode")["sentTo"], "135****0001");
    let sms = t.last_sms("13500010001").await.unwrap();
    assert!(sms.contains("您正在签署《续签》"), "{sms}");
    let code = crate::helpers::test_app::extract_code(&sms).unwrap();
    // Within the minute, no second code.
    let r = t
        .gql_as(&employee.token, SEND_CODE, json!({ "t": tasks[0] }))
        .await;
    assert_eq!(error_code(&r), "RATE_LIMITED", "{r}");
    // The enterprise signs at step 2; a stranger does not see the task; a
    // person verified under another name is not the row's person.
    let r = t
        .gql_as(&c.admin.token, SEND_CODE, json!({ "t": tasks[0] }))
        .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
    let stranger = t.verified_person("13800010052", "41010519900307123X").await;
    let r = t
        .gql_as(&stranger.token, SEND_CODE, json!({ "t": tasks[0] }))
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    let impostor = t.verified_person("13500010002", "410105199003074545").await;
    t.app.clock.advance(chrono::TimeDelta::seconds(61));
    let r = t
        .gql_as(&impostor.token, SEND_CODE, json!({ "t": tasks[1] }))
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN", "{r}");

    // The code is bound to this task and this person, and works once.
    let viewer = |person: &crate::helpers::test_app::Person| yuyunqian::domain::Viewer {
        user_id: person.user_id.parse().unwrap(),
        session_id: yuyunqian::db::ids::SessionId::new(),
        session_expires_at: t.app.clock.now() + chrono::TimeDelta::hours(1),
        session_created_at: t.app.clock.now(),
    };
    let task0 = tasks[0].parse().unwrap();
    let task1 = tasks[1].parse().unwrap();
    let mut conn = t.conn().await;
    let services = t.app.services();
    assert!(
        consume(&mut conn, &services, &viewer(&employee), task1, &code)
            .await
            .is_err()
    );
    assert!(
        consume(&mut conn, &services, &viewer(&stranger), task0, &code)
            .await
            .is_err()
    );
    assert!(
        consume(&mut conn, &services, &viewer(&employee), task0, "000000")
            .await
            .is_err()
            || code == "000000"
    );
    consume(&mut conn, &services, &viewer(&employee), task0, &code)
        .await
        .unwrap();
    assert!(
        consume(&mut conn, &services, &viewer(&employee), task0, &code)
            .await
            .is_err(),
        "once"
    );
}

/// Uses a code up, as signing does: records an attempt for the task's
/// person signer with it (a wrong try stays counted).
async fn consume(
    conn: &mut yuyunqian::db::AsyncPgConnection,
    services: &yuyunqian::domain::Services<'_>,
    viewer: &yuyunqian::domain::Viewer,
    task: yuyunqian::db::ids::TaskId,
    code: &str,
) -> Result<(), yuyunqian::error::AppError> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use yuyunqian::db::enums::AttemptStatus;
    use yuyunqian::db::ids::{AttemptId, CertificateId, SignerId};
    use yuyunqian::db::schema::{certificates, task_signers};
    use yuyunqian::db::signing::Attempt;
    use yuyunqian::domain::tasks::intent;
    let mac = intent::code_mac(services, task, viewer, code)?;
    let signer: uuid::Uuid = task_signers::table
        .filter(task_signers::task_id.eq(task.0))
        .filter(task_signers::kind.eq("PERSON"))
        .select(task_signers::id)
        .first(conn)
        .await
        .unwrap();
    // Any certificate will do for the row: nothing signs with it here.
    let certificate: uuid::Uuid = certificates::table
        .select(certificates::id)
        .first(conn)
        .await
        .unwrap();
    let now = services.clock.now();
    let attempt = Attempt {
        id: AttemptId::new(),
        task_id: task,
        signer_id: SignerId(signer),
        user_id: viewer.user_id,
        code_mac: mac,
        status: AttemptStatus::Prepared,
        plan_enc: Vec::new(),
        certificate_id: CertificateId(certificate),
        client_ip: "127.0.0.1".into(),
        user_agent: None,
        revisions: None,
        error: None,
        created_at: now,
        updated_at: now,
    };
    intent::record_attempt(conn, &attempt).await
}
