//! Signing tasks, part 2: signing in order with intent codes, one-click
//! and explicit placements, values the signer completes, partial
//! submission, parallel signers, retries and crashes, completion with its
//! notices, and the independent validators on the signed contract.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::handwriting::signature_png;
use crate::helpers::TestApp;
use crate::helpers::contracts::{
    enterprise_seal, fill_all, grant_quota, labor_values, published_labor_template,
};
use crate::helpers::flows::{Certified, certified};
use crate::helpers::test_app::{Person, error_code, error_field, extract_code};
use crate::templates::business_type;
use crate::verification::{signer_names, verify};
use yuyunqian::db::schema::{files, signature_evidence, signing_attempts, task_documents};

pub const INITIATE: &str = "mutation($i: InitiateBatchInput!) { initiateSigningBatch(input: $i) { tasks { edges { node { id } } } } }";
pub const SEND_CODE: &str = "mutation($t: ID!) { sendSigningCode(taskId: $t) { sentTo } }";
pub const SIGN: &str = "mutation($i: SignInput!) { signTask(input: $i) { id status completedAt signers { id kind status signedAt role { key } } documents { id status file { sha256 } } } }";
const TASK: &str = "query($t: ID!) { task(id: $t) { status signers { status } documents { id status file { sha256 } sealSlots { id sealKind role { key } } } } }";

pub fn ok<'a>(r: &'a Value, field: &str) -> &'a Value {
    assert!(r.get("errors").is_none(), "{field}: {r}");
    &r["data"][field]
}

/// An enterprise, its 劳动合同 template and a person with a handwritten
/// signature, and one task (the person signs at step 1, the enterprise
/// at step 2) filled and ready.
pub struct Scene {
    pub c: Certified,
    pub employee: Person,
    pub task: String,
}

pub async fn add_signature(t: &TestApp, person: &Person) {
    let r = t
        .gql_upload(
            &person.token,
            "mutation($i: Upload!) { addHandwrittenSignature(image: $i) { id } }",
            json!({ "i": null }),
            &[("i", "signature.png", &signature_png())],
        )
        .await;
    ok(&r, "addHandwrittenSignature");
}

pub async fn scene(t: &TestApp, admin_phone: &str, employee_phone: &str) -> Scene {
    scene_in(t, admin_phone, employee_phone, "SEQUENTIAL", (1, 2)).await
}

/// `scene` with the order and the (person, enterprise) steps given.
pub async fn scene_in(
    t: &TestApp,
    admin_phone: &str,
    employee_phone: &str,
    order: &str,
    (person_step, enterprise_step): (i32, i32),
) -> Scene {
    let c = certified(t, admin_phone, "郑州签署科技有限公司", "91350100M000100Y43").await;
    grant_quota(t, &c.enterprise, 5).await;
    let employee = t
        .verified_person(employee_phone, "410105199003074537")
        .await;
    add_signature(t, &employee).await;
    let task = initiate(t, &c, employee_phone, order, person_step, enterprise_step).await;
    Scene { c, employee, task }
}

/// One task for 张三 at `employee_phone`; the steps of the person and of
/// the enterprise.
pub async fn initiate(
    t: &TestApp,
    c: &Certified,
    employee_phone: &str,
    order: &str,
    person_step: i32,
    enterprise_step: i32,
) -> String {
    let bt = business_type(t, &c.admin, &c.enterprise, "劳动合同").await;
    let template = published_labor_template(t, c).await;
    let input = json!({
        "enterpriseId": c.enterprise, "title": "劳动合同签署", "businessTypeId": bt,
        "templateIds": [template], "signOrder": order,
        "enterpriseSigners": [{ "roleKey": "employer", "enterpriseId": c.enterprise, "step": enterprise_step }],
        "personSigner": { "roleKey": "employee", "step": person_step, "canRefuse": true },
        "rows": [{ "person": { "name": "张三", "phone": employee_phone }, "values": labor_values("张三") }],
    });
    initiated_and_filled(t, &c.admin.token, input).await
}

/// Initiates `input` as `token` and fills its documents; the first task.
pub async fn initiated_and_filled(t: &TestApp, token: &str, input: Value) -> String {
    let r = t.gql_as(token, INITIATE, json!({ "i": input })).await;
    let id = ok(&r, "initiateSigningBatch")["tasks"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    fill_all(t).await;
    id
}

/// A fresh intent code for `person` on `task`.
pub async fn code_for(t: &TestApp, person: &Person, task: &str) -> String {
    t.app.clock.advance(chrono::TimeDelta::seconds(61));
    let r = t
        .gql_as(&person.token, SEND_CODE, json!({ "t": task }))
        .await;
    ok(&r, "sendSigningCode");
    let sms = t.last_sms(&person.phone).await.unwrap();
    extract_code(&sms).unwrap()
}

pub async fn sign(t: &TestApp, person: &Person, input: Value) -> Value {
    t.gql_as(&person.token, SIGN, json!({ "i": input })).await
}

/// A fresh code, then one-click `signTask` for `enterprise`.
pub async fn enterprise_signs(t: &TestApp, person: &Person, enterprise: &str, task: &str) -> Value {
    let code = code_for(t, person, task).await;
    sign(
        t,
        person,
        json!({ "taskId": task, "enterpriseId": enterprise, "smsCode": code }),
    )
    .await
}

/// A fresh code, then `signTask` for the person, completing its phone.
pub async fn employee_signs(t: &TestApp, person: &Person, task: &str, phone: &str) -> Value {
    let code = code_for(t, person, task).await;
    sign(
        t,
        person,
        json!({ "taskId": task, "smsCode": code, "fieldValues": { "employee_phone": phone } }),
    )
    .await
}

/// The current bytes of each document of the task, in order.
pub async fn documents(t: &TestApp, task: &str) -> Vec<Vec<u8>> {
    let mut conn = t.conn().await;
    let id: uuid::Uuid = task.parse().unwrap();
    let hashes: Vec<String> = task_documents::table
        .inner_join(files::table.on(files::id.nullable().eq(task_documents::file_id)))
        .filter(task_documents::task_id.eq(id))
        .order(task_documents::position.asc())
        .select(files::sha256)
        .load(&mut conn)
        .await
        .unwrap();
    hashes
        .iter()
        .map(|sha| t.app.storage.get(sha).unwrap())
        .collect()
}

/// (field name, is a document timestamp) of each signature in the file.
pub fn signatures(pdf: &[u8]) -> Vec<String> {
    let document =
        yuyunqian::pdf::input::load(pdf, &yuyunqian::pdf::input::Limits::default()).unwrap();
    yuyunqian::pdf::signatures::find(&document)
        .unwrap()
        .into_iter()
        .map(|s| s.field)
        .collect()
}

async fn evidence_count(t: &TestApp, task: &str) -> i64 {
    let mut conn = t.conn().await;
    let id: uuid::Uuid = task.parse().unwrap();
    signature_evidence::table
        .filter(signature_evidence::task_id.eq(id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

fn statuses(task: &Value) -> Vec<&str> {
    task["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_person_then_the_enterprise_sign_and_the_contract_completes() {
    let t = TestApp::spawn().await;
    let s = scene(&t, "13800020001", "13500020001").await;
    let filled = documents(&t, &s.task).await.remove(0);

    // The enterprise's turn comes second.
    let r = t
        .gql_as(&s.c.admin.token, SEND_CODE, json!({ "t": s.task }))
        .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");

    let code = code_for(&t, &s.employee, &s.task).await;
    // The phone field is left to the employee: required.
    let r = sign(
        &t,
        &s.employee,
        json!({ "taskId": s.task, "smsCode": code }),
    )
    .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(error_field(&r), "fieldValues.employee_phone");
    let r = sign(
        &t,
        &s.employee,
        json!({ "taskId": s.task, "smsCode": code, "fieldValues": { "employee_phone": "12345" } }),
    )
    .await;
    assert_eq!(error_field(&r), "fieldValues.employee_phone", "{r}");
    let wrong = if code == "111111" { "222222" } else { "111111" };
    let r = sign(
        &t,
        &s.employee,
        json!({ "taskId": s.task, "smsCode": wrong, "fieldValues": { "employee_phone": "13500020001" } }),
    )
    .await;
    assert_eq!(error_field(&r), "smsCode", "{r}");
    assert_eq!(
        documents(&t, &s.task).await[0],
        filled,
        "nothing signed yet"
    );

    // The refusals above left the code usable.
    let input = json!({ "taskId": s.task, "smsCode": code, "fieldValues": { "employee_phone": "13500020001" } });
    let r = sign(&t, &s.employee, input.clone()).await;
    let task = ok(&r, "signTask");
    assert_eq!(task["status"], "IN_PROGRESS");
    assert_eq!(statuses(task), ["PENDING", "SIGNED"], "{task}");
    let signed_once = documents(&t, &s.task).await.remove(0);
    assert!(signed_once.starts_with(&filled), "an incremental revision");
    assert_eq!(signatures(&signed_once).len(), 1);
    // A double submit with the same code: the same result, no second signature.
    let again = sign(&t, &s.employee, input).await;
    assert_eq!(ok(&again, "signTask")["signers"], task["signers"]);
    assert_eq!(documents(&t, &s.task).await[0], signed_once);
    assert_eq!(evidence_count(&t, &s.task).await, 1);

    // The employer: one click puts its official seal and the date.
    let r = enterprise_signs(&t, &s.c.admin, &s.c.enterprise, &s.task).await;
    let task = ok(&r, "signTask");
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert!(task["completedAt"].is_string());
    assert_eq!(task["documents"][0]["status"], "COMPLETED");
    assert_eq!(statuses(task), ["SIGNED", "SIGNED"]);
    let completed = documents(&t, &s.task).await.remove(0);
    assert!(completed.starts_with(&signed_once));
    let fields = signatures(&completed);
    assert_eq!(
        fields.len(),
        3,
        "two signatures and the document timestamp: {fields:?}"
    );
    assert_eq!(evidence_count(&t, &s.task).await, 2);

    // Our verifier, through the API, passes the contract.
    let report = verify(&t, &completed).await;
    assert_eq!(report["verdict"], "TOTAL_PASSED", "{report}");
    assert_eq!(report["platformDocument"], true);
    assert_eq!(
        signer_names(&report),
        ["张三", "郑州签署科技有限公司"],
        "{report}"
    );

    // The employee hears that the contract is concluded, the regulator's
    // report is queued, the evidence names each signature's certificate.
    let sms = t.last_sms("13500020001").await.unwrap();
    assert!(sms.contains("已签署完成") && sms.contains("免费"), "{sms}");
    assert!(sms.contains(&format!("/tasks/{}", s.task)), "{sms}");
    let mut conn = t.conn().await;
    let id: uuid::Uuid = s.task.parse().unwrap();
    let reports: i64 = yuyunqian::db::schema::regulator_reports::table
        .filter(yuyunqian::db::schema::regulator_reports::task_id.eq(id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(reports, 1);
    let evidence: Vec<(String, String, String, String)> = signature_evidence::table
        .filter(signature_evidence::task_id.eq(id))
        .order(signature_evidence::signed_at.asc())
        .select((
            signature_evidence::sha256_before,
            signature_evidence::sha256_after,
            signature_evidence::certificate_serial,
            signature_evidence::client_ip,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(evidence.len(), 2);
    assert_eq!(
        evidence[0].1, evidence[1].0,
        "each signed over the last version"
    );
    assert_ne!(
        evidence[0].2, evidence[1].2,
        "each with its own certificate"
    );
    assert!(evidence.iter().all(|e| !e.3.is_empty()));
    let attempts: Vec<String> = signing_attempts::table
        .filter(signing_attempts::task_id.eq(id))
        .select(signing_attempts::status)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(attempts, ["APPLIED", "APPLIED"]);
}

async fn task(t: &TestApp, person: &Person, id: &str) -> Value {
    let r = t.gql_as(&person.token, TASK, json!({ "t": id })).await;
    ok(&r, "task").clone()
}

/// Signature widgets in the file (each stamp, slice and completed value).
fn widgets(pdf: &[u8]) -> usize {
    let document = lopdf::Document::load_mem(pdf).unwrap();
    document
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .filter(|d| d.get(b"Subtype").and_then(|s| s.as_name()).ok() == Some(b"Widget".as_slice()))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_calls_name_their_cause_and_sign_nothing() {
    let t = TestApp::spawn().await;
    let s = scene(&t, "13800020101", "13500020101").await;
    let filled = documents(&t, &s.task).await.remove(0);
    let view = task(&t, &s.c.admin, &s.task).await;
    let document = view["documents"][0]["id"].as_str().unwrap().to_owned();
    let slot = |role: &str| {
        view["documents"][0]["sealSlots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["role"]["key"] == role && s["sealKind"] != "DATE")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let official = enterprise_seal(&t, &s.c, "OFFICIAL").await;
    let mine = t
        .gql_as(&s.employee.token, "{ me { seals { id kind } } }", json!({}))
        .await;
    let handwritten = ok(&mine, "me")["seals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "HANDWRITTEN")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A stranger does not learn that the task exists.
    let stranger = t.verified_person("13800020102", "41010519900307123X").await;
    let r = sign(
        &t,
        &stranger,
        json!({ "taskId": s.task, "smsCode": "123456" }),
    )
    .await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");

    let code = code_for(&t, &s.employee, &s.task).await;
    let phone = json!({ "employee_phone": "13500020101" });
    let refused = [
        (
            json!([{ "documentId": document, "slotId": slot("employer"), "sealId": handwritten }]),
            "placements[0].slotId",
        ),
        (
            json!([{ "documentId": document, "slotId": slot("employee"), "sealId": official }]),
            "placements[0].sealId",
        ),
        (
            json!([{ "documentId": document, "sealId": handwritten, "page": 1, "x": 9000.0, "y": 10.0 }]),
            "placements[0].x",
        ),
        (
            json!([{ "documentId": document, "sealId": handwritten, "page": 1 }]),
            "placements[0].page",
        ),
        (
            json!([{ "documentId": uuid::Uuid::new_v4().to_string(), "sealId": handwritten }]),
            "placements[0].documentId",
        ),
        (
            json!([
                { "documentId": document, "slotId": slot("employee"), "sealId": handwritten },
                { "documentId": document, "slotId": slot("employee"), "sealId": handwritten },
            ]),
            "placements[1].slotId",
        ),
    ];
    for (placements, field) in refused {
        let r = sign(
            &t,
            &s.employee,
            json!({ "taskId": s.task, "smsCode": code, "fieldValues": phone, "placements": placements }),
        )
        .await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
        assert_eq!(error_field(&r), field, "{r}");
    }
    let r = sign(
        &t,
        &s.employee,
        json!({ "taskId": s.task, "smsCode": code, "fieldValues": phone, "documentIds": [uuid::Uuid::new_v4().to_string()] }),
    )
    .await;
    assert_eq!(error_field(&r), "documentIds[0]", "{r}");
    let r = sign(
        &t,
        &s.employee,
        json!({ "taskId": s.task, "smsCode": code, "fieldValues": { "job_title": "经理" } }),
    )
    .await;
    assert_eq!(error_field(&r), "fieldValues.job_title", "{r}");
    assert_eq!(documents(&t, &s.task).await[0], filled);

    // The slot takes the chosen seal, and a free placement adds another:
    // the slot, the free seal and the completed phone are three widgets.
    let r = sign(
        &t,
        &s.employee,
        json!({
            "taskId": s.task, "smsCode": code, "fieldValues": phone,
            "placements": [
                { "documentId": document, "slotId": slot("employee"), "sealId": handwritten },
                { "documentId": document, "sealId": handwritten, "page": 1, "x": 300.0, "y": 500.0 },
            ],
        }),
    )
    .await;
    ok(&r, "signTask");
    let signed = documents(&t, &s.task).await.remove(0);
    assert_eq!(widgets(&filled), 0);
    assert_eq!(widgets(&signed), 3);
    assert_eq!(signatures(&signed).len(), 1);

    // The code is used up: another call with it is a new signing that
    // needs a new code (the person has signed anyway).
    let r = sign(
        &t,
        &s.employee,
        json!({ "taskId": s.task, "smsCode": wrong_code(&code) }),
    )
    .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");

    // An enterprise made to recertify cannot sign; once certified again it can.
    let mut conn = t.conn().await;
    let enterprise: uuid::Uuid = s.c.enterprise.parse().unwrap();
    diesel::sql_query("UPDATE enterprises SET status = 'RECERTIFICATION_REQUIRED' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(enterprise)
        .execute(&mut conn)
        .await
        .unwrap();
    let r = t
        .gql_as(&s.c.admin.token, SEND_CODE, json!({ "t": s.task }))
        .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
    diesel::sql_query("UPDATE enterprises SET status = 'CERTIFIED' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(enterprise)
        .execute(&mut conn)
        .await
        .unwrap();
    let code = code_for(&t, &s.c.admin, &s.task).await;
    // Revoked meanwhile: the code cannot sign any more.
    let r = t
        .gql_as(
            &s.c.admin.token,
            "mutation($t: [ID!]!) { revokeTasks(taskIds: $t, reason: \"作废\") { status } }",
            json!({ "t": [s.task] }),
        )
        .await;
    ok(&r, "revokeTasks");
    let r = sign(
        &t,
        &s.c.admin,
        json!({ "taskId": s.task, "enterpriseId": s.c.enterprise, "smsCode": code }),
    )
    .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
    assert_eq!(signatures(&documents(&t, &s.task).await[0]).len(), 1);
}

fn wrong_code(code: &str) -> &'static str {
    if code == "111111" { "222222" } else { "111111" }
}

#[tokio::test(flavor = "multi_thread")]
async fn five_wrong_codes_use_the_code_up() {
    let t = TestApp::spawn().await;
    let s = scene(&t, "13800020091", "13500020091").await;
    let code = code_for(&t, &s.employee, &s.task).await;
    let input = |code: &str| json!({ "taskId": s.task, "smsCode": code, "fieldValues": { "employee_phone": "13500020091" } });
    for _ in 0..5 {
        let r = sign(&t, &s.employee, input(wrong_code(&code))).await;
        assert_eq!(error_field(&r), "smsCode", "{r}");
    }
    // The right code, now tried out, signs nothing.
    let r = sign(&t, &s.employee, input(&code)).await;
    assert_eq!(error_field(&r), "smsCode", "{r}");
    assert_eq!(evidence_count(&t, &s.task).await, 0);
    // A new code signs.
    let code = code_for(&t, &s.employee, &s.task).await;
    let r = sign(&t, &s.employee, input(&code)).await;
    ok(&r, "signTask");
    assert_eq!(evidence_count(&t, &s.task).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn signers_sharing_a_step_sign_at_once_and_both_signatures_hold() {
    let t = TestApp::spawn().await;
    let Scene {
        c,
        employee,
        task: id,
    } = scene_in(&t, "13800020201", "13500020201", "UNORDERED", (1, 1)).await;
    let view = task(&t, &c.admin, &id).await;
    assert_eq!(statuses(&view), ["PENDING", "PENDING"]);
    let person_code = code_for(&t, &employee, &id).await;
    let admin_code = code_for(&t, &c.admin, &id).await;
    let (a, b) = tokio::join!(
        sign(
            &t,
            &employee,
            json!({ "taskId": id, "smsCode": person_code, "fieldValues": { "employee_phone": "13500020201" } }),
        ),
        sign(
            &t,
            &c.admin,
            json!({ "taskId": id, "enterpriseId": c.enterprise, "smsCode": admin_code }),
        ),
    );
    ok(&a, "signTask");
    ok(&b, "signTask");
    let view = task(&t, &c.admin, &id).await;
    assert_eq!(view["status"], "COMPLETED", "{view}");
    let completed = documents(&t, &id).await.remove(0);
    assert_eq!(signatures(&completed).len(), 3);
    let mut conn = t.conn().await;
    let report = yuyunqian::domain::verification::verify_document(
        &mut conn,
        &t.app.services(),
        completed.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        report.verdict,
        yuyunqian::pdf::verify::Verdict::TotalPassed,
        "{report:?}"
    );
    assert_eq!(evidence_count(&t, &id).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signer_may_sign_its_documents_one_at_a_time() {
    let t = TestApp::spawn().await;
    let c = certified(
        &t,
        "13800020301",
        "郑州分签科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    grant_quota(&t, &c.enterprise, 1).await;
    let employee = t.verified_person("13500020301", "410105199003074537").await;
    add_signature(&t, &employee).await;
    let bt = business_type(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let first = published_labor_template(&t, &c).await;
    let second = published_labor_template(&t, &c).await;
    let input = json!({
        "enterpriseId": c.enterprise, "title": "入职材料", "businessTypeId": bt,
        "templateIds": [first, second], "signOrder": "SEQUENTIAL",
        "enterpriseSigners": [{ "roleKey": "employer", "enterpriseId": c.enterprise, "step": 2 }],
        "personSigner": { "roleKey": "employee", "step": 1 },
        "rows": [{ "person": { "name": "张三", "phone": "13500020301" }, "values": labor_values("张三") }],
    });
    let id = initiated_and_filled(&t, &c.admin.token, input).await;
    let view = task(&t, &c.admin, &id).await;
    let doc = |i: usize| view["documents"][i]["id"].as_str().unwrap().to_owned();

    let code = code_for(&t, &employee, &id).await;
    let r = sign(
        &t,
        &employee,
        json!({ "taskId": id, "smsCode": code, "documentIds": [doc(0)], "fieldValues": { "employee_phone": "13500020301" } }),
    )
    .await;
    let after = ok(&r, "signTask");
    assert_eq!(
        statuses(after),
        ["WAITING", "PENDING"],
        "still the person's turn"
    );
    let files = documents(&t, &id).await;
    assert_eq!(signatures(&files[0]).len(), 1);
    assert_eq!(signatures(&files[1]).len(), 0);

    let code = code_for(&t, &employee, &id).await;
    let r = sign(
        &t,
        &employee,
        json!({ "taskId": id, "smsCode": code, "documentIds": [doc(0)] }),
    )
    .await;
    assert_eq!(error_code(&r), "CONFLICT", "signed already: {r}");
    // The phone completed in the first document serves the second.
    let r = sign(&t, &employee, json!({ "taskId": id, "smsCode": code })).await;
    let after = ok(&r, "signTask");
    assert_eq!(statuses(after), ["PENDING", "SIGNED"]);
    let files = documents(&t, &id).await;
    assert_eq!(signatures(&files[0]).len(), 1);
    assert_eq!(signatures(&files[1]).len(), 1);
    assert_eq!(evidence_count(&t, &id).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_between_signing_and_applying_leaves_one_signature_after_recovery() {
    let t = TestApp::with_config(|config| {
        config.failpoint = Some("signing.before_apply".into());
    })
    .await;
    let s = scene(&t, "13800020401", "13500020401").await;
    let filled = documents(&t, &s.task).await.remove(0);
    let code = code_for(&t, &s.employee, &s.task).await;
    let input = json!({ "taskId": s.task, "smsCode": code, "fieldValues": { "employee_phone": "13500020401" } });
    let r = sign(&t, &s.employee, input.clone()).await;
    assert_eq!(error_code(&r), "INTERNAL", "{r}");
    // The signed revision is stored, the state untouched.
    assert_eq!(documents(&t, &s.task).await[0], filled);
    assert_eq!(evidence_count(&t, &s.task).await, 0);
    let view = task(&t, &s.c.admin, &s.task).await;
    assert_eq!(statuses(&view), ["WAITING", "PENDING"]);

    // Another node (no failpoint): the retry with the same code finishes
    // the attempt, without a second signature.
    let healthy = t.second_instance().await;
    let r = sign(&healthy, &s.employee, input.clone()).await;
    assert_eq!(statuses(ok(&r, "signTask")), ["PENDING", "SIGNED"]);
    let signed = documents(&t, &s.task).await.remove(0);
    assert_eq!(signatures(&signed).len(), 1);
    assert_eq!(evidence_count(&t, &s.task).await, 1);

    // The enterprise crashes too; nobody retries: the recovery job
    // finishes the attempt and completes the task.
    let r = enterprise_signs(&t, &s.c.admin, &s.c.enterprise, &s.task).await;
    assert_eq!(error_code(&r), "INTERNAL", "{r}");
    let mut conn = healthy.conn().await;
    let recover = yuyunqian::domain::tasks::signing::recover_pass;
    assert_eq!(
        recover(&mut conn, &healthy.app.services()).await.unwrap(),
        0,
        "a fresh attempt may still be under way"
    );
    // (Each node has its own test clock; this one catches up and passes.)
    healthy.app.clock.advance(chrono::TimeDelta::minutes(15));
    assert_eq!(
        recover(&mut conn, &healthy.app.services()).await.unwrap(),
        1
    );
    let view = task(&t, &s.c.admin, &s.task).await;
    assert_eq!(view["status"], "COMPLETED", "{view}");
    let completed = documents(&t, &s.task).await.remove(0);
    assert!(completed.starts_with(&signed));
    assert_eq!(signatures(&completed).len(), 3);
    assert_eq!(evidence_count(&t, &s.task).await, 2);
    assert_eq!(
        recover(&mut conn, &healthy.app.services()).await.unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs qpdf, pdfsig, pdftotext (poppler-utils, libnss3-tools) and pyHanko: run by .ci/run"]
async fn a_contract_signed_through_the_api_passes_the_independent_validators() {
    use crate::pades::{pdfsig_trusting_root, pyhanko_accepts, tool, validator_dir, write_checked};
    let (t, addr) = TestApp::serving().await;
    let s = scene(&t, "13800020701", "13500020701").await;
    let r = employee_signs(&t, &s.employee, &s.task, "13500020701").await;
    ok(&r, "signTask");
    let r = enterprise_signs(&t, &s.c.admin, &s.c.enterprise, &s.task).await;
    assert_eq!(ok(&r, "signTask")["status"], "COMPLETED");
    // Outside tools judge times by the real clock.
    t.app.clock.reset();
    let completed = documents(&t, &s.task).await.remove(0);
    let dir = validator_dir(addr, "signing").await;
    let path = dir.as_path();
    write_checked(path, "contract.pdf", &completed).await;

    // The value the employee completed is text in the contract.
    let (code, out) = tool("pdftotext", &["contract.pdf", "-"], path).await;
    assert_eq!(code, 0, "pdftotext: {out}");
    assert!(out.contains("13500020701"), "pdftotext: {out}");
    assert!(out.contains("郑州市二七区大学路2号"), "pdftotext: {out}");

    let out = pdfsig_trusting_root(path, "contract.pdf").await;
    eprintln!("pdfsig: {out}");
    assert!(
        out.matches("Signature is Valid.").count() >= 2,
        "pdfsig: {out}"
    );
    assert!(
        out.matches("Certificate is Trusted.").count() >= 2,
        "pdfsig: {out}"
    );
    assert!(!out.contains("Signature is Invalid"), "pdfsig: {out}");
    assert!(!out.contains("not signed"), "pdfsig: {out}");

    pyhanko_accepts(path, "validate", "contract.pdf", "Signer", 2).await;

    // With the server gone, the LTV data in the contract suffices.
    t.app.shutdown.cancel();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    pyhanko_accepts(path, "adesverify", "contract.pdf", "Signer", 2).await;
}
