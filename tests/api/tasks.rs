//! Signing tasks, part 1: batches from page-form rows, row checks, the
//! quota ledger (and its race), idempotent initiation, the fill job,
//! frequent contacts.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use lopdf::Document;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::contracts::{fill_all, grant_quota, labor_values, published_labor_template};
use crate::helpers::flows::{Certified, certified, member};
use crate::helpers::test_app::{Person, error_code, error_field};
use crate::templates::{business_type, created, download};
use yuyunqian::db::schema::quota_ledger;

const INITIATE: &str = "mutation($i: InitiateBatchInput!) { initiateSigningBatch(input: $i) { id title taskCount readyCount tasks { totalCount edges { node { id title status readyAt signOrder businessType { name } initiator { name } initiatedBy { id } signers { kind name role { key name } step status enterprise { id } } documents { name status pages { page } file { contentType url } sealSlots { sealKind } } } } } } }";
const VALIDATE: &str = "query($i: InitiateBatchInput!) { validateSigningBatch(input: $i) { valid rowCount errors { row column message } } }";
const BALANCE: &str = "query($e: ID!) { enterprise(id: $e) { quotaBalance } }";

fn ok<'a>(r: &'a Value, field: &str) -> &'a Value {
    assert!(r.get("errors").is_none(), "{field}: {r}");
    &r["data"][field]
}

/// A certified enterprise with a published 劳动合同 template.
async fn ready(t: &TestApp, phone: &str) -> (Certified, String, String) {
    let c = certified(t, phone, "郑州任务科技有限公司", "91350100M000100Y43").await;
    let bt = business_type(t, &c.admin, &c.enterprise, "劳动合同").await;
    let template = published_labor_template(t, &c).await;
    (c, bt, template)
}

async fn balance(t: &TestApp, person: &Person, enterprise: &str) -> i64 {
    let r = t
        .gql_as(&person.token, BALANCE, json!({ "e": enterprise }))
        .await;
    ok(&r, "enterprise")["quotaBalance"].as_i64().unwrap()
}

async fn ledger_sum(t: &TestApp) -> i64 {
    let mut conn = t.conn().await;
    let amounts: Vec<i32> = quota_ledger::table
        .select(quota_ledger::amount)
        .load(&mut conn)
        .await
        .unwrap();
    amounts.iter().map(|a| i64::from(*a)).sum()
}

fn row(n: usize) -> Value {
    json!({
        "person": { "name": format!("员工{n}"), "phone": format!("1390000{:04}", n) },
        "values": labor_values(&format!("员工{n}")),
    })
}

fn input(c: &Certified, bt: &str, template: &str, rows: Vec<Value>) -> Value {
    json!({
        "enterpriseId": c.enterprise,
        "title": "2027年度劳动合同续签",
        "businessTypeId": bt,
        "templateIds": [template],
        "signOrder": "SEQUENTIAL",
        "enterpriseSigners": [{ "roleKey": "employer", "enterpriseId": c.enterprise, "step": 2 }],
        "personSigner": { "roleKey": "employee", "step": 1, "canRefuse": true },
        "rows": rows,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_makes_a_task_per_row_paid_from_the_quota_and_filled_in_the_background() {
    let t = TestApp::spawn().await;
    let (c, bt, template) = ready(&t, "13800006001").await;
    let mut batch = input(&c, &bt, &template, vec![row(1), row(2)]);
    batch["idempotencyKey"] = json!("renewal-2027-01");

    // No quota yet: refused, nothing written.
    let r = t
        .gql_as(&c.admin.token, INITIATE, json!({ "i": batch }))
        .await;
    assert_eq!(error_code(&r), "QUOTA_EXHAUSTED", "{r}");
    assert_eq!(balance(&t, &c.admin, &c.enterprise).await, 0);

    grant_quota(&t, &c.enterprise, 5).await;
    assert_eq!(balance(&t, &c.admin, &c.enterprise).await, 5);
    let r = t
        .gql_as(&c.admin.token, INITIATE, json!({ "i": batch }))
        .await;
    let made = ok(&r, "initiateSigningBatch").clone();
    assert_eq!(made["taskCount"], 2);
    assert_eq!(made["readyCount"], 0);
    assert_eq!(made["tasks"]["totalCount"], 2);
    let task = &made["tasks"]["edges"][0]["node"];
    assert_eq!(task["title"], "2027年度劳动合同续签");
    assert_eq!(task["status"], "IN_PROGRESS");
    assert_eq!(task["readyAt"], Value::Null);
    assert_eq!(task["businessType"]["name"], "劳动合同");
    assert_eq!(task["initiator"]["name"], "郑州任务科技有限公司");
    assert_eq!(task["initiatedBy"]["id"], c.admin.user_id);
    let signers = task["signers"].as_array().unwrap();
    assert_eq!(signers.len(), 2);
    assert_eq!(signers[0]["kind"], "ENTERPRISE");
    assert_eq!(signers[0]["name"], "郑州任务科技有限公司");
    assert_eq!(signers[0]["role"]["key"], "employer");
    assert_eq!(signers[1]["kind"], "PERSON");
    assert_eq!(signers[1]["name"], "员工1");
    assert!(signers.iter().all(|s| s["status"] == "WAITING"));
    let documents = task["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0]["name"], "标准劳动合同.pdf");
    assert_eq!(documents[0]["file"], Value::Null, "not filled yet");
    assert_eq!(documents[0]["pages"].as_array().unwrap().len(), 3);
    assert_eq!(documents[0]["sealSlots"].as_array().unwrap().len(), 3);
    assert_eq!(balance(&t, &c.admin, &c.enterprise).await, 3);
    assert_eq!(ledger_sum(&t).await, 3, "the ledger sums to the balance");

    // A retry returns the same batch and charges nothing.
    let r = t
        .gql_as(&c.admin.token, INITIATE, json!({ "i": batch }))
        .await;
    assert_eq!(ok(&r, "initiateSigningBatch")["id"], made["id"]);
    assert_eq!(balance(&t, &c.admin, &c.enterprise).await, 3);
    // The same key with another input is a conflict.
    let mut other = batch.clone();
    other["title"] = json!("另一个批次");
    let r = t
        .gql_as(&c.admin.token, INITIATE, json!({ "i": other }))
        .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");

    // The fill job fills every document; the first step's signer is told.
    assert_eq!(t.sms_count("13900000001").await, 0);
    assert_eq!(fill_all(&t).await, 2);
    let r = t
        .gql_as(&c.admin.token, INITIATE, json!({ "i": batch }))
        .await;
    let filled = ok(&r, "initiateSigningBatch").clone();
    assert_eq!(filled["readyCount"], 2);
    let task = &filled["tasks"]["edges"][0]["node"];
    assert!(task["readyAt"].is_string());
    assert_eq!(
        task["signers"][1]["status"], "PENDING",
        "the person signs first"
    );
    assert_eq!(task["signers"][0]["status"], "WAITING");
    let sms = t.last_sms("13900000001").await.unwrap();
    assert!(
        sms.contains("郑州任务科技有限公司邀请您签署《2027年度劳动合同续签》"),
        "{sms}"
    );
    assert_eq!(t.sms_count("13900000002").await, 1);
    let file = &task["documents"][0]["file"];
    assert_eq!(file["contentType"], "application/pdf");
    let pdf = download(&t, file["url"].as_str().unwrap()).await;
    let document = Document::load_mem(&pdf).unwrap();
    assert_eq!(document.get_pages().len(), 3, "filling adds no page");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs pdftotext (poppler-utils): run by .ci/run"]
async fn pdftotext_reads_each_rows_values_in_its_contract() {
    let t = TestApp::spawn().await;
    let (c, bt, template) = ready(&t, "13800006002").await;
    grant_quota(&t, &c.enterprise, 2).await;
    let mut batch = input(&c, &bt, &template, vec![row(1), row(2)]);
    batch["addPageQrCodes"] = json!(true);
    let r = t
        .gql_as(&c.admin.token, INITIATE, json!({ "i": batch }))
        .await;
    ok(&r, "initiateSigningBatch");
    fill_all(&t).await;
    let r = t
        .gql_as(&c.admin.token, INITIATE, json!({ "i": batch }))
        .await;
    // Without an idempotency key this is a second batch: refused for quota.
    assert_eq!(error_code(&r), "QUOTA_EXHAUSTED", "{r}");
    let mut conn = t.conn().await;
    use yuyunqian::db::schema::{files, task_documents};
    let shas: Vec<String> = task_documents::table
        .inner_join(files::table.on(files::id.nullable().eq(task_documents::file_id)))
        .select(files::sha256)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(shas.len(), 2);
    let dir = std::env::temp_dir().join(format!("yyq-batch-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut texts = Vec::new();
    for (i, sha) in shas.iter().enumerate() {
        let bytes = t.app.storage.get(sha).unwrap();
        let name = format!("{i}.pdf");
        std::fs::write(dir.join(&name), bytes).unwrap();
        let out = tokio::process::Command::new("pdftotext")
            .args([&name, "-"])
            .current_dir(&dir)
            .output()
            .await
            .unwrap();
        texts.push(String::from_utf8(out.stdout).unwrap());
    }
    let all = texts.join("\n");
    assert!(all.contains("员工1") && all.contains("员工2"), "{all}");
    for text in &texts {
        assert!(
            text.contains("郑州任务科技有限公司"),
            "employer from the enterprise: {text}"
        );
        assert!(text.contains("2026年12月01日"), "{text}");
        assert!(text.contains("8500.00"), "{text}");
        assert!(text.contains("11010519491231002X"), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_row_problem_is_reported_with_its_row_and_column() {
    let t = TestApp::spawn().await;
    let (c, bt, template) = ready(&t, "13800006003").await;
    grant_quota(&t, &c.enterprise, 100).await;
    let mut bad = Vec::new();
    let mut missing = row(1);
    missing["values"]["job_title"] = Value::Null;
    bad.push(missing);
    let mut phone = row(2);
    phone["person"]["phone"] = json!("12345");
    bad.push(phone);
    let mut id = row(3);
    id["values"]["employee_id_number"] = json!("110105194912310021");
    bad.push(id);
    let mut date = row(4);
    date["values"]["start_date"] = json!("下个月");
    bad.push(date);
    let mut money = row(5);
    money["values"]["monthly_pay"] = json!("八千");
    bad.push(money);
    let mut repeated = row(6);
    repeated["person"]["phone"] = json!("13900000001");
    bad.push(repeated);
    let mut long = row(7);
    long["values"]["job_title"] = json!("软件工程师".repeat(40));
    bad.push(long);
    let mut unknown = row(8);
    unknown["values"]["no_such_field"] = json!("x");
    bad.push(unknown);
    let mut signer_fills = row(9);
    signer_fills["values"]["employee_phone"] = json!("13900000009");
    bad.push(signer_fills);
    let mut person_id = row(10);
    person_id["person"]["idNumber"] = json!("123");
    bad.push(person_id);
    bad.push(row(11));

    let batch = input(&c, &bt, &template, bad);
    let r = t
        .gql_as(&c.admin.token, VALIDATE, json!({ "i": batch }))
        .await;
    let report = ok(&r, "validateSigningBatch");
    assert_eq!(report["valid"], false);
    assert_eq!(report["rowCount"], 11);
    let errors: Vec<(i64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(i64, String)> = [
        (1, "job_title"),
        (2, "person.phone"),
        (3, "employee_id_number"),
        (4, "start_date"),
        (5, "monthly_pay"),
        (6, "person.phone"),
        (7, "job_title"),
        (8, "no_such_field"),
        (9, "employee_phone"),
        (10, "person.idNumber"),
    ]
    .iter()
    .map(|(r, c)| (*r, (*c).to_owned()))
    .collect();
    assert_eq!(errors, expected, "{report}");
    let repeated = &report["errors"][5]["message"];
    assert!(repeated.as_str().unwrap().contains("row 1"), "{repeated}");

    // Initiation refuses the whole batch with the same list; nothing is charged.
    let r = t
        .gql_as(&c.admin.token, INITIATE, json!({ "i": batch }))
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    let listed = r["errors"][0]["extensions"]["rowErrors"]
        .as_array()
        .unwrap();
    assert_eq!(listed.len(), expected.len());
    assert_eq!(listed[0]["row"], 1);
    assert_eq!(balance(&t, &c.admin, &c.enterprise).await, 100);

    // A valid batch validates.
    let good = input(&c, &bt, &template, vec![row(1), row(2)]);
    let r = t
        .gql_as(&c.admin.token, VALIDATE, json!({ "i": good }))
        .await;
    assert_eq!(ok(&r, "validateSigningBatch")["valid"], true, "{r}");
    // ID numbers never come back in messages.
    assert!(!r.to_string().contains("11010519491231002X"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_the_wrong_shape_is_refused_whole() {
    let t = TestApp::spawn().await;
    let (c, bt, template) = ready(&t, "13800006004").await;
    grant_quota(&t, &c.enterprise, 10).await;
    let draft = created(&t, &c.admin, &c.enterprise, "劳动合同").await;

    type Change = fn(&mut Value, &str);
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "a draft template",
            |i, d| i["templateIds"] = json!([d]),
            "input.templateIds[0]",
        ),
        (
            "no templates",
            |i, _| i["templateIds"] = json!([]),
            "input.templateIds",
        ),
        (
            "an unknown role",
            |i, _| i["enterpriseSigners"][0]["roleKey"] = json!("boss"),
            "input.enterpriseSigners[0].roleKey",
        ),
        (
            "a role without signer",
            |i, _| i["enterpriseSigners"] = json!([]),
            "input.enterpriseSigners",
        ),
        (
            "the wrong person role",
            |i, _| i["personSigner"]["roleKey"] = json!("employer"),
            "input.personSigner.roleKey",
        ),
        ("no rows", |i, _| i["rows"] = json!([]), "input.rows"),
        (
            "an empty title",
            |i, _| i["title"] = json!(" "),
            "input.title",
        ),
        (
            "a past deadline",
            |i, _| i["deadline"] = json!("2020-01-01T00:00:00Z"),
            "input.deadline",
        ),
        (
            "signer completion unordered",
            |i, _| {
                i["signOrder"] = json!("UNORDERED");
                i["signerCompletedFieldKeys"] = json!(["employee_address"]);
            },
            "input.signerCompletedFieldKeys",
        ),
        (
            "signer completion with the enterprise first",
            |i, _| {
                i["enterpriseSigners"][0]["step"] = json!(1);
                i["personSigner"]["step"] = json!(2);
                i["signerCompletedFieldKeys"] = json!(["employee_address"]);
            },
            "input.signerCompletedFieldKeys",
        ),
        (
            "values not an object",
            |i, _| i["rows"][0]["values"] = json!([1]),
            "input.rows[0].values",
        ),
        (
            "a CC'd stranger",
            |i, _| i["ccUserIds"] = json!(["00000000-0000-0000-0000-000000000000"]),
            "input.ccUserIds[0]",
        ),
    ];
    for (what, change, field) in cases {
        let mut batch = input(&c, &bt, &template, vec![row(1)]);
        change(&mut batch, &draft);
        let r = t
            .gql_as(&c.admin.token, INITIATE, json!({ "i": batch }))
            .await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{what}: {r}");
        assert_eq!(error_field(&r), field, "{what}: {r}");
    }
    assert_eq!(balance(&t, &c.admin, &c.enterprise).await, 10);

    // With the person signing first and the enterprise last, the person
    // may complete fields; the initiator then leaves them empty.
    let mut completing = input(&c, &bt, &template, vec![row(1)]);
    completing["signerCompletedFieldKeys"] = json!(["employee_address"]);
    completing["rows"][0]["values"]
        .as_object_mut()
        .unwrap()
        .remove("employee_address");
    let r = t
        .gql_as(&c.admin.token, INITIATE, json!({ "i": completing }))
        .await;
    ok(&r, "initiateSigningBatch");

    // A member without the business type cannot start tasks in it.
    let clerk = member(
        &t,
        &c.admin,
        &c.enterprise,
        "13800006005",
        "41010519900307123X",
        json!([]),
    )
    .await;
    let r = t
        .gql_as(
            &clerk.token,
            INITIATE,
            json!({ "i": input(&c, &bt, &template, vec![row(1)]) }),
        )
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_initiations_never_overdraw_the_quota() {
    let t = TestApp::spawn().await;
    let (c, bt, template) = ready(&t, "13800006006").await;
    grant_quota(&t, &c.enterprise, 1).await;
    let batch = input(&c, &bt, &template, vec![row(1)]);
    let attempts = (0..20).map(|_| {
        let token = c.admin.token.clone();
        let batch = batch.clone();
        let t = &t;
        async move { t.gql_as(&token, INITIATE, json!({ "i": batch })).await }
    });
    let results = futures_util::future::join_all(attempts).await;
    let made = results.iter().filter(|r| r.get("errors").is_none()).count();
    let exhausted = results
        .iter()
        .filter(|r| error_code(r) == "QUOTA_EXHAUSTED")
        .count();
    assert_eq!((made, exhausted), (1, 19), "{results:?}");
    assert_eq!(balance(&t, &c.admin, &c.enterprise).await, 0);
    assert_eq!(ledger_sum(&t).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn frequent_contacts_are_the_enterprises_own() {
    let t = TestApp::spawn().await;
    let c = certified(
        &t,
        "13800006007",
        "郑州联系人科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    const ADD: &str = "mutation($e: ID!, $n: String!, $p: String!, $en: String) { addFrequentContact(enterpriseId: $e, name: $n, phone: $p, enterpriseName: $en) { id name phone enterpriseName } }";
    let r = t
        .gql_as(&c.admin.token, ADD, json!({ "e": c.enterprise, "n": "李四", "p": "139 0000 1111", "en": "郑州合作方有限公司" }))
        .await;
    let contact = ok(&r, "addFrequentContact").clone();
    assert_eq!(contact["phone"], "13900001111");
    let r = t
        .gql_as(
            &c.admin.token,
            ADD,
            json!({ "e": c.enterprise, "n": "李四", "p": "13900001111" }),
        )
        .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
    let r = t
        .gql_as(
            &c.admin.token,
            ADD,
            json!({ "e": c.enterprise, "n": "李四", "p": "12345" }),
        )
        .await;
    assert_eq!(error_field(&r), "phone", "{r}");
    let list = "query($e: ID!) { enterprise(id: $e) { frequentContacts { id name } } }";
    let r = t
        .gql_as(&c.admin.token, list, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(ok(&r, "enterprise")["frequentContacts"][0]["name"], "李四");

    let stranger = t.verified_person("13800006008", "41010519900307123X").await;
    let remove = "mutation($id: ID!) { removeFrequentContact(id: $id) }";
    let r = t
        .gql_as(&stranger.token, remove, json!({ "id": contact["id"] }))
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    let r = t
        .gql_as(&stranger.token, list, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    let r = t
        .gql_as(&c.admin.token, remove, json!({ "id": contact["id"] }))
        .await;
    assert_eq!(ok(&r, "removeFrequentContact"), true);
    let r = t
        .gql_as(&c.admin.token, list, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(ok(&r, "enterprise")["frequentContacts"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rows_contract_can_be_previewed_before_the_batch_starts() {
    let t = TestApp::spawn().await;
    let (c, bt, template) = ready(&t, "13800006009").await;
    const PREVIEW: &str = "mutation($i: InitiateBatchInput!, $r: Int!, $t: ID!) { previewSigningDocument(input: $i, row: $r, templateId: $t) { name contentType url } }";
    let mut bad = row(3);
    bad["values"]["start_date"] = json!("明年");
    let batch = input(&c, &bt, &template, vec![row(1), row(2), bad]);
    let r = t
        .gql_as(
            &c.admin.token,
            PREVIEW,
            json!({ "i": batch, "r": 2, "t": template }),
        )
        .await;
    let file = ok(&r, "previewSigningDocument");
    assert_eq!(file["name"], "标准劳动合同（预览）.pdf");
    let pdf = download(&t, file["url"].as_str().unwrap()).await;
    assert_eq!(Document::load_mem(&pdf).unwrap().get_pages().len(), 3);
    // A row with problems shows them instead; other rows and templates are refused.
    let r = t
        .gql_as(
            &c.admin.token,
            PREVIEW,
            json!({ "i": batch, "r": 3, "t": template }),
        )
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(
        r["errors"][0]["extensions"]["rowErrors"][0]["column"],
        "start_date"
    );
    let r = t
        .gql_as(
            &c.admin.token,
            PREVIEW,
            json!({ "i": batch, "r": 9, "t": template }),
        )
        .await;
    assert_eq!(error_field(&r), "row", "{r}");
    let other = created(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let r = t
        .gql_as(
            &c.admin.token,
            PREVIEW,
            json!({ "i": batch, "r": 1, "t": other }),
        )
        .await;
    assert_eq!(error_field(&r), "templateId", "{r}");
    // Nothing was initiated or charged.
    assert_eq!(balance(&t, &c.admin, &c.enterprise).await, 0);
}
