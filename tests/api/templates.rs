//! Contract templates over GraphQL with real PDFs: authoring (upload,
//! layout, publish, copy, disable), every refusal, the required-field rule,
//! business-type isolation between members, and previews.

use axum::body::Body;
use axum::http::Request;
use lopdf::{Document, Object, dictionary};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::flows::{Certified, approve_order, certified, member, reviewing_order_for};
use crate::helpers::test_app::{Person, error_code, error_field};
use crate::pades::contract_pdf;

const CREATE: &str = "mutation($e: ID!, $n: String!, $b: ID!, $f: Upload!) { createTemplate(enterpriseId: $e, name: $n, businessTypeId: $b, file: $f) { id name status pages { page width height } file { name contentType sha256 } businessType { name } } }";
const LAYOUT: &str = "mutation($t: ID!, $l: TemplateLayoutInput!) { updateTemplateLayout(templateId: $t, layout: $l) { id status roles { key name kind } fields { field { key } page x y width height fontSize required dateFormat filledBy { key } } sealSlots { role { key } sealKind page x y width height } } }";
pub(crate) const PUBLISH: &str =
    "mutation($t: ID!) { publishTemplate(templateId: $t) { id status publishedAt } }";
const STATUS: &str = "mutation($t: ID!, $s: TemplateStatus!) { setTemplateStatus(templateId: $t, status: $s) { status } }";
const COPY: &str = "mutation($t: ID!, $n: String!) { copyTemplate(templateId: $t, name: $n) { id name status copiedFromId roles { key } fields { field { key } } sealSlots { sealKind } } }";
const TEMPLATE: &str = "query($t: ID!) { template(id: $t) { id name status roles { key } fields { field { key } } sealSlots { sealKind } } }";
const LIST: &str = "query($e: ID!, $s: TemplateStatus, $first: Int, $after: String) { enterprise(id: $e) { templates(status: $s, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id name status businessType { name } } } } } }";
const PREVIEW: &str = "mutation($t: ID!, $v: JSON) { previewTemplate(templateId: $t, values: $v) { name contentType size url } }";

fn ok<'a>(r: &'a Value, field: &str) -> &'a Value {
    assert!(r.get("errors").is_none(), "{field}: {r}");
    &r["data"][field]
}

pub(crate) async fn business_type(
    t: &TestApp,
    person: &Person,
    enterprise: &str,
    name: &str,
) -> String {
    let r = t
        .gql_as(
            &person.token,
            "query($e: ID!) { enterprise(id: $e) { businessTypes { id name } } }",
            json!({ "e": enterprise }),
        )
        .await;
    r["data"]["enterprise"]["businessTypes"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .find(|bt| bt["name"] == name)
        .unwrap_or_else(|| panic!("no business type {name}: {r}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn create(
    t: &TestApp,
    person: &Person,
    enterprise: &str,
    business_type: &str,
    name: &str,
    pdf: &[u8],
) -> Value {
    t.gql_upload(
        &person.token,
        CREATE,
        json!({ "e": enterprise, "n": name, "b": business_type, "f": null }),
        &[("f", "劳动合同模板.pdf", pdf)],
    )
    .await
}

pub(crate) async fn created(
    t: &TestApp,
    person: &Person,
    enterprise: &str,
    type_name: &str,
) -> String {
    let bt = business_type(t, person, enterprise, type_name).await;
    let r = create(t, person, enterprise, &bt, "标准劳动合同", &contract_pdf(3)).await;
    ok(&r, "createTemplate")["id"].as_str().unwrap().to_owned()
}

fn placement(key: &str, page: i64, y: f64) -> Value {
    json!({ "fieldKey": key, "page": page, "x": 72.0, "y": y, "width": 240.0, "height": 18.0 })
}

/// Every field 劳动合同 requires, employee_name twice, and a seal slot per role.
/// `complete_layout` with a third party: the ENTERPRISE role `key` (丙方)
/// and its OFFICIAL seal slot on page 2 at (300, `y`).
pub(crate) fn three_party_layout(key: &str, y: f64) -> Value {
    let mut layout = complete_layout();
    layout["roles"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "key": key, "name": "丙方", "kind": "ENTERPRISE" }));
    layout["sealSlots"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "roleKey": key, "sealKind": "OFFICIAL", "page": 2, "x": 300.0, "y": y }));
    layout
}

pub(crate) fn complete_layout() -> Value {
    let required = [
        "employer_name",
        "employer_address",
        "employer_legal_rep",
        "employee_name",
        "employee_id_number",
        "employee_address",
        "contract_type",
        "start_date",
        "job_title",
        "work_location",
        "working_hours",
        "monthly_pay",
        "social_insurance",
    ];
    let mut fields: Vec<Value> = required
        .iter()
        .enumerate()
        .map(|(i, key)| placement(key, 1, 100.0 + 30.0 * i as f64))
        .collect();
    fields.push(placement("employee_name", 3, 600.0));
    fields.push(json!({ "fieldKey": "employee_phone", "page": 2, "x": 72.0, "y": 100.0, "width": 200.0, "height": 18.0, "filledByRoleKey": "employee" }));
    json!({
        "roles": [
            { "key": "employer", "name": "甲方", "kind": "ENTERPRISE" },
            { "key": "employee", "name": "乙方", "kind": "PERSON" },
        ],
        "fields": fields,
        "sealSlots": [
            { "roleKey": "employer", "sealKind": "OFFICIAL", "page": 3, "x": 80.0, "y": 650.0 },
            { "roleKey": "employer", "sealKind": "DATE", "page": 3, "x": 80.0, "y": 780.0 },
            { "roleKey": "employee", "sealKind": "HANDWRITTEN", "page": 3, "x": 350.0, "y": 680.0 },
        ],
    })
}

pub(crate) async fn layout(t: &TestApp, person: &Person, template: &str, layout: Value) -> Value {
    t.gql_as(&person.token, LAYOUT, json!({ "t": template, "l": layout }))
        .await
}

async fn setup(t: &TestApp, phone: &str, name: &str, uscc: &str) -> Certified {
    certified(t, phone, name, uscc).await
}

/// A second enterprise in the same test: its ADMIN needs an ID of its own.
pub(crate) async fn other_enterprise(t: &TestApp, phone: &str, name: &str) -> Certified {
    let operator = t.operator(&format!("139{}", &phone[3..])).await;
    let admin = t.verified_person(phone, "410105199003074537").await;
    let (admin, order, enterprise) =
        reviewing_order_for(t, admin, name, "91410100MA00000021").await;
    approve_order(t, &operator, &order).await;
    Certified {
        admin,
        enterprise,
        operator,
        legal_rep_phone: format!("137{}", &phone[3..]),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_is_uploaded_laid_out_published_copied_and_disabled() {
    let t = TestApp::spawn().await;
    let c = setup(
        &t,
        "13800005001",
        "郑州模板科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let bt = business_type(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let pdf = contract_pdf(3);
    let r = create(&t, &c.admin, &c.enterprise, &bt, "  标准劳动合同 ", &pdf).await;
    let template = ok(&r, "createTemplate").clone();
    assert_eq!(template["name"], "标准劳动合同");
    assert_eq!(template["status"], "DRAFT");
    assert_eq!(template["businessType"]["name"], "劳动合同");
    assert_eq!(
        template["pages"],
        json!([
            { "page": 1, "width": 595.0, "height": 842.0 },
            { "page": 2, "width": 595.0, "height": 842.0 },
            { "page": 3, "width": 595.0, "height": 842.0 },
        ])
    );
    assert_eq!(template["file"]["contentType"], "application/pdf");
    assert_eq!(template["file"]["name"], "劳动合同模板.pdf");
    assert_eq!(
        template["file"]["sha256"],
        hex::encode(openssl::sha::sha256(&pdf))
    );
    let id = template["id"].as_str().unwrap();

    let r = layout(&t, &c.admin, id, complete_layout()).await;
    let laid = ok(&r, "updateTemplateLayout");
    assert_eq!(
        laid["roles"],
        json!([
            { "key": "employer", "name": "甲方", "kind": "ENTERPRISE" },
            { "key": "employee", "name": "乙方", "kind": "PERSON" },
        ])
    );
    let fields = laid["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 15);
    let names: Vec<&Value> = fields
        .iter()
        .filter(|f| f["field"]["key"] == "employee_name")
        .collect();
    assert_eq!(names.len(), 2, "placed twice");
    assert_eq!(names[1]["page"], 3);
    assert_eq!(names[1]["fontSize"], 12.0, "default font size");
    assert_eq!(names[1]["required"], true);
    let start = fields
        .iter()
        .find(|f| f["field"]["key"] == "start_date")
        .unwrap();
    assert_eq!(start["dateFormat"], "yyyy年MM月dd日", "the default format");
    let phone = fields
        .iter()
        .find(|f| f["field"]["key"] == "employee_phone")
        .unwrap();
    assert_eq!(phone["filledBy"]["key"], "employee");
    assert_eq!(phone["dateFormat"], Value::Null);
    assert_eq!(
        laid["sealSlots"][0],
        json!({ "role": { "key": "employer" }, "sealKind": "OFFICIAL", "page": 3, "x": 80.0, "y": 650.0, "width": 119.0, "height": 119.0 })
    );

    let r = t.gql_as(&c.admin.token, PUBLISH, json!({ "t": id })).await;
    assert_eq!(ok(&r, "publishTemplate")["status"], "PUBLISHED");
    assert!(r["data"]["publishTemplate"]["publishedAt"].is_string());
    // Published templates never change.
    let r = layout(&t, &c.admin, id, complete_layout()).await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
    let r = t.gql_as(&c.admin.token, PUBLISH, json!({ "t": id })).await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");

    let r = t
        .gql_as(&c.admin.token, STATUS, json!({ "t": id, "s": "DISABLED" }))
        .await;
    assert_eq!(ok(&r, "setTemplateStatus")["status"], "DISABLED");
    let r = t
        .gql_as(&c.admin.token, STATUS, json!({ "t": id, "s": "DRAFT" }))
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(error_field(&r), "status");
    let r = t
        .gql_as(&c.admin.token, STATUS, json!({ "t": id, "s": "PUBLISHED" }))
        .await;
    assert_eq!(ok(&r, "setTemplateStatus")["status"], "PUBLISHED");

    // A new version: a DRAFT copy with the same layout, which can change.
    let r = t
        .gql_as(
            &c.admin.token,
            COPY,
            json!({ "t": id, "n": "标准劳动合同（2027版）" }),
        )
        .await;
    let copy = ok(&r, "copyTemplate").clone();
    assert_eq!(copy["status"], "DRAFT");
    assert_eq!(copy["copiedFromId"], id);
    assert_eq!(
        copy["roles"],
        json!([{ "key": "employer" }, { "key": "employee" }])
    );
    assert_eq!(copy["fields"].as_array().unwrap().len(), 15);
    assert_eq!(copy["sealSlots"].as_array().unwrap().len(), 3);
    let copy_id = copy["id"].as_str().unwrap();
    let mut changed = complete_layout();
    changed["fields"].as_array_mut().unwrap().pop();
    let r = layout(&t, &c.admin, copy_id, changed).await;
    assert_eq!(
        ok(&r, "updateTemplateLayout")["fields"]
            .as_array()
            .unwrap()
            .len(),
        14
    );
    // The original kept its layout.
    let r = t.gql_as(&c.admin.token, TEMPLATE, json!({ "t": id })).await;
    assert_eq!(ok(&r, "template")["fields"].as_array().unwrap().len(), 15);
    // A draft is published with publishTemplate, not setTemplateStatus.
    let r = t
        .gql_as(
            &c.admin.token,
            STATUS,
            json!({ "t": copy_id, "s": "PUBLISHED" }),
        )
        .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");

    // The list pages newest first and filters by status.
    let r = t
        .gql_as(
            &c.admin.token,
            LIST,
            json!({ "e": c.enterprise, "first": 1 }),
        )
        .await;
    let list = &ok(&r, "enterprise")["templates"];
    assert_eq!(list["totalCount"], 2);
    assert_eq!(list["pageInfo"]["hasNextPage"], true);
    assert_eq!(list["edges"][0]["node"]["id"], copy_id);
    let after = list["pageInfo"]["endCursor"].as_str().unwrap();
    let r = t
        .gql_as(
            &c.admin.token,
            LIST,
            json!({ "e": c.enterprise, "first": 1, "after": after }),
        )
        .await;
    let list = &ok(&r, "enterprise")["templates"];
    assert_eq!(list["edges"][0]["node"]["id"], id);
    assert_eq!(list["pageInfo"]["hasNextPage"], false);
    let r = t
        .gql_as(
            &c.admin.token,
            LIST,
            json!({ "e": c.enterprise, "s": "DRAFT" }),
        )
        .await;
    let list = &ok(&r, "enterprise")["templates"];
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["edges"][0]["node"]["id"], copy_id);
    let r = t
        .gql_as(
            &c.admin.token,
            LIST,
            json!({ "e": c.enterprise, "after": "bm9wZQ" }),
        )
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");

    // Every step is in the enterprise's audit log.
    let r = t
        .gql_as(
            &c.admin.token,
            "query($e: ID!) { enterprise(id: $e) { auditLogs(first: 50) { edges { node { action } } } } }",
            json!({ "e": c.enterprise }),
        )
        .await;
    let actions: Vec<&str> = r["data"]["enterprise"]["auditLogs"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    for action in [
        "template.create",
        "template.layout",
        "template.publish",
        "template.status",
        "template.copy",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_layout_refusal_names_its_entry_and_changes_nothing() {
    let t = TestApp::spawn().await;
    let c = setup(
        &t,
        "13800005002",
        "郑州布局科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let id = created(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let r = layout(&t, &c.admin, &id, complete_layout()).await;
    ok(&r, "updateTemplateLayout");

    type Change = fn(&mut Value);
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "duplicate role key",
            |l| l["roles"][1]["key"] = json!("employer"),
            "layout.roles[1].key",
        ),
        (
            "empty role name",
            |l| l["roles"][0]["name"] = json!(" "),
            "layout.roles[0].name",
        ),
        (
            "unknown field",
            |l| l["fields"][2]["fieldKey"] = json!("no_such_field"),
            "layout.fields[2].fieldKey",
        ),
        (
            "a page the PDF lacks",
            |l| l["fields"][0]["page"] = json!(4),
            "layout.fields[0].page",
        ),
        (
            "beyond the right edge",
            |l| l["fields"][1]["x"] = json!(400.0),
            "layout.fields[1].x",
        ),
        (
            "beyond the bottom edge",
            |l| l["fields"][1]["y"] = json!(830.0),
            "layout.fields[1].y",
        ),
        (
            "negative",
            |l| l["fields"][1]["x"] = json!(-1.0),
            "layout.fields[1].x",
        ),
        (
            "no area",
            |l| l["fields"][1]["width"] = json!(0.0),
            "layout.fields[1].width",
        ),
        (
            "font too small",
            |l| l["fields"][3]["fontSize"] = json!(5.5),
            "layout.fields[3].fontSize",
        ),
        (
            "font too large",
            |l| l["fields"][3]["fontSize"] = json!(73),
            "layout.fields[3].fontSize",
        ),
        (
            "unknown date format",
            |l| l["fields"][7]["dateFormat"] = json!("dd/MM/yyyy"),
            "layout.fields[7].dateFormat",
        ),
        (
            "date format on a text field",
            |l| l["fields"][0]["dateFormat"] = json!("yyyy-MM-dd"),
            "layout.fields[0].dateFormat",
        ),
        (
            "a second placement with other properties",
            |l| l["fields"][13]["fontSize"] = json!(14),
            "layout.fields[13].fontSize",
        ),
        (
            "filled by an enterprise role",
            |l| l["fields"][14]["filledByRoleKey"] = json!("employer"),
            "layout.fields[14].filledByRoleKey",
        ),
        (
            "filled by an unknown role",
            |l| l["fields"][14]["filledByRoleKey"] = json!("nobody"),
            "layout.fields[14].filledByRoleKey",
        ),
        (
            "slot of an unknown role",
            |l| l["sealSlots"][0]["roleKey"] = json!("nobody"),
            "layout.sealSlots[0].roleKey",
        ),
        (
            "a person with an official seal",
            |l| l["sealSlots"][2]["sealKind"] = json!("OFFICIAL"),
            "layout.sealSlots[2].sealKind",
        ),
        (
            "an enterprise with a handwritten signature",
            |l| l["sealSlots"][0]["sealKind"] = json!("HANDWRITTEN"),
            "layout.sealSlots[0].sealKind",
        ),
        (
            "a seal off the page",
            |l| l["sealSlots"][0]["x"] = json!(500.0),
            "layout.sealSlots[0].x",
        ),
        (
            "a slot on a missing page",
            |l| l["sealSlots"][1]["page"] = json!(0),
            "layout.sealSlots[1].page",
        ),
    ];
    for (what, change, field) in cases {
        let mut bad = complete_layout();
        change(&mut bad);
        let r = layout(&t, &c.admin, &id, bad).await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{what}: {r}");
        assert_eq!(error_field(&r), field, "{what}: {r}");
    }
    // A refused layout leaves the last good one in place.
    let r = t.gql_as(&c.admin.token, TEMPLATE, json!({ "t": id })).await;
    let kept = ok(&r, "template");
    assert_eq!(kept["fields"].as_array().unwrap().len(), 15);
    assert_eq!(kept["sealSlots"].as_array().unwrap().len(), 3);

    // Changing the second placement together with the first is fine.
    let mut both = complete_layout();
    both["fields"][3]["fontSize"] = json!(14);
    both["fields"][13]["fontSize"] = json!(14);
    let r = layout(&t, &c.admin, &id, both).await;
    let fields = ok(&r, "updateTemplateLayout")["fields"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        fields
            .iter()
            .filter(|f| f["field"]["key"] == "employee_name")
            .all(|f| f["fontSize"] == 14.0)
    );
    let r = layout(
        &t,
        &c.admin,
        "00000000-0000-0000-0000-000000000000",
        complete_layout(),
    )
    .await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn publishing_needs_the_required_fields_both_parties_and_a_slot_per_role() {
    let t = TestApp::spawn().await;
    let c = setup(
        &t,
        "13800005003",
        "郑州发布科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let id = created(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let publish = async |t: &TestApp| t.gql_as(&c.admin.token, PUBLISH, json!({ "t": id })).await;
    // Nothing laid out yet.
    let r = publish(&t).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(error_field(&r), "layout.fields");

    let mut missing = complete_layout();
    missing["fields"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f["fieldKey"] != "monthly_pay");
    ok(
        &layout(&t, &c.admin, &id, missing).await,
        "updateTemplateLayout",
    );
    let r = publish(&t).await;
    assert_eq!(error_field(&r), "layout.fields", "{r}");
    let message = r["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("monthly_pay (月工资)"), "{message}");
    assert!(!message.contains("employee_name"), "{message}");

    let mut one_party = complete_layout();
    one_party["roles"][1]["kind"] = json!("ENTERPRISE");
    one_party["sealSlots"][2]["sealKind"] = json!("OFFICIAL");
    one_party["fields"][14]
        .as_object_mut()
        .unwrap()
        .remove("filledByRoleKey");
    ok(
        &layout(&t, &c.admin, &id, one_party).await,
        "updateTemplateLayout",
    );
    let r = publish(&t).await;
    assert_eq!(error_field(&r), "layout.roles", "{r}");

    let mut no_slot = complete_layout();
    no_slot["sealSlots"].as_array_mut().unwrap().pop();
    ok(
        &layout(&t, &c.admin, &id, no_slot).await,
        "updateTemplateLayout",
    );
    let r = publish(&t).await;
    assert_eq!(error_field(&r), "layout.sealSlots", "{r}");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("乙方"));

    // A custom field is placed like a public one; 入职 requires nothing.
    let r = t
        .gql_as(
            &c.admin.token,
            "mutation($e: ID!) { createCustomField(enterpriseId: $e, key: \"bonus\", label: \"年终奖\", type: MONEY) { key } }",
            json!({ "e": c.enterprise }),
        )
        .await;
    ok(&r, "createCustomField");
    let mut with_custom = complete_layout();
    with_custom["fields"]
        .as_array_mut()
        .unwrap()
        .push(placement("bonus", 2, 300.0));
    ok(
        &layout(&t, &c.admin, &id, with_custom).await,
        "updateTemplateLayout",
    );
    let r = publish(&t).await;
    assert_eq!(ok(&r, "publishTemplate")["status"], "PUBLISHED");

    let onboarding = created(&t, &c.admin, &c.enterprise, "入职").await;
    let minimal = crate::helpers::contracts::onboarding_layout();
    ok(
        &layout(&t, &c.admin, &onboarding, minimal).await,
        "updateTemplateLayout",
    );
    let r = t
        .gql_as(&c.admin.token, PUBLISH, json!({ "t": onboarding }))
        .await;
    assert_eq!(ok(&r, "publishTemplate")["status"], "PUBLISHED");
}

/// A PDF with an OpenAction running JavaScript.
fn pdf_with_javascript() -> Vec<u8> {
    let mut doc = Document::load_mem(&contract_pdf(1)).unwrap();
    let action = doc.add_object(
        dictionary! { "S" => "JavaScript", "JS" => Object::string_literal("app.alert(1)") },
    );
    let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    doc.get_dictionary_mut(root)
        .unwrap()
        .set("OpenAction", action);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_that_are_not_acceptable_pdfs_are_refused_and_leave_nothing() {
    let t = TestApp::spawn().await;
    let c = setup(
        &t,
        "13800005004",
        "郑州上传科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let bt = business_type(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not a PDF", b"PK\x03\x04 a zip file".to_vec()),
        ("broken", b"%PDF-1.7\n1 0 obj <<".to_vec()),
        ("javascript", pdf_with_javascript()),
        ("too many pages", contract_pdf(201)),
    ];
    for (what, pdf) in cases {
        let r = create(&t, &c.admin, &c.enterprise, &bt, "模板", &pdf).await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{what}: {r}");
        assert_eq!(error_field(&r), "file", "{what}: {r}");
    }
    let r = create(&t, &c.admin, &c.enterprise, &bt, " ", &contract_pdf(1)).await;
    assert_eq!(error_field(&r), "name", "{r}");

    // Another enterprise's business type is not one of ours.
    let other = other_enterprise(&t, "13800005005", "郑州别家科技有限公司").await;
    let foreign = business_type(&t, &other.admin, &other.enterprise, "劳动合同").await;
    let r = create(
        &t,
        &c.admin,
        &c.enterprise,
        &foreign,
        "模板",
        &contract_pdf(1),
    )
    .await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    // Nor may one create templates in an enterprise one is not a member of.
    let r = create(
        &t,
        &other.admin,
        &c.enterprise,
        &bt,
        "模板",
        &contract_pdf(1),
    )
    .await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");

    let r = t
        .gql_as(&c.admin.token, LIST, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(ok(&r, "enterprise")["templates"]["totalCount"], 0, "{r}");
}

async fn grant(t: &TestApp, admin: &Person, enterprise: &str, user: &Person, types: &[&str]) {
    let r = t
        .gql_as(
            &admin.token,
            "mutation($e: ID!, $u: ID!, $b: [ID!]!) { updateMemberGrants(enterpriseId: $e, userId: $u, businessTypeIds: $b, sealIds: []) { businessTypes { name } } }",
            json!({ "e": enterprise, "u": user.user_id, "b": types }),
        )
        .await;
    ok(&r, "updateMemberGrants");
}

#[tokio::test(flavor = "multi_thread")]
async fn members_see_and_use_only_templates_of_their_business_types() {
    let t = TestApp::spawn().await;
    let c = setup(
        &t,
        "13800005006",
        "郑州隔离科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let labor_type = business_type(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let onboarding_type = business_type(&t, &c.admin, &c.enterprise, "入职").await;
    let labor = created(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let onboarding = created(&t, &c.admin, &c.enterprise, "入职").await;
    let hr = member(
        &t,
        &c.admin,
        &c.enterprise,
        "13800005007",
        "41010519900307123X",
        json!([]),
    )
    .await;
    let clerk = member(
        &t,
        &c.admin,
        &c.enterprise,
        "13800005008",
        "410105199003071256",
        json!([]),
    )
    .await;
    grant(&t, &c.admin, &c.enterprise, &hr, &[&labor_type]).await;
    grant(&t, &c.admin, &c.enterprise, &clerk, &[&onboarding_type]).await;

    let listed = |r: &Value| -> Vec<String> {
        ok(r, "enterprise")["templates"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = t
        .gql_as(&hr.token, LIST, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(listed(&r), std::slice::from_ref(&labor));
    assert_eq!(r["data"]["enterprise"]["templates"]["totalCount"], 1);
    let r = t
        .gql_as(&clerk.token, LIST, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(listed(&r), std::slice::from_ref(&onboarding));
    let r = t
        .gql_as(&c.admin.token, LIST, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(listed(&r).len(), 2);

    // The member edits and publishes what it is granted...
    let r = layout(&t, &hr, &labor, complete_layout()).await;
    ok(&r, "updateTemplateLayout");
    let r = t.gql_as(&hr.token, PUBLISH, json!({ "t": labor })).await;
    assert_eq!(ok(&r, "publishTemplate")["status"], "PUBLISHED");
    let r = create(
        &t,
        &hr,
        &c.enterprise,
        &labor_type,
        "人事模板",
        &contract_pdf(1),
    )
    .await;
    ok(&r, "createTemplate");

    // ...and nothing else exists for it.
    let other = other_enterprise(&t, "13800005009", "郑州外人科技有限公司").await;
    for person in [&hr, &other.admin] {
        let r = t
            .gql_as(&person.token, TEMPLATE, json!({ "t": onboarding }))
            .await;
        assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
        let r = layout(&t, person, &onboarding, complete_layout()).await;
        assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
        let r = t
            .gql_as(&person.token, PUBLISH, json!({ "t": onboarding }))
            .await;
        assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
        let r = t
            .gql_as(
                &person.token,
                COPY,
                json!({ "t": onboarding, "n": "偷来的" }),
            )
            .await;
        assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
        let r = t
            .gql_as(
                &person.token,
                STATUS,
                json!({ "t": onboarding, "s": "DISABLED" }),
            )
            .await;
        assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
        let r = t
            .gql_as(&person.token, PREVIEW, json!({ "t": onboarding }))
            .await;
        assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    }
    let r = create(
        &t,
        &hr,
        &c.enterprise,
        &onboarding_type,
        "越权",
        &contract_pdf(1),
    )
    .await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    let r = t
        .gql_as(&other.admin.token, LIST, json!({ "e": c.enterprise }))
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");

    // Losing the grant loses the templates at once.
    grant(&t, &c.admin, &c.enterprise, &hr, &[]).await;
    let r = t.gql_as(&hr.token, TEMPLATE, json!({ "t": labor })).await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    let r = t
        .gql_as(&hr.token, LIST, json!({ "e": c.enterprise }))
        .await;
    assert!(listed(&r).is_empty());
}

pub(crate) async fn download(t: &TestApp, url: &str) -> Vec<u8> {
    let path = url.trim_start_matches("http://127.0.0.1:8080");
    let (status, _, body) = t
        .request(Request::get(path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(status.as_u16(), 200);
    body.to_vec()
}

async fn preview_of(t: &TestApp) -> (Vec<u8>, Vec<u8>) {
    let c = setup(
        t,
        "13800005010",
        "郑州预览科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let id = created(t, &c.admin, &c.enterprise, "劳动合同").await;
    ok(
        &layout(t, &c.admin, &id, complete_layout()).await,
        "updateTemplateLayout",
    );
    let values =
        json!({ "employee_name": "张三丰", "start_date": "2026-12-01", "monthly_pay": 8500 });
    let r = t
        .gql_as(&c.admin.token, PREVIEW, json!({ "t": id, "v": values }))
        .await;
    let file = ok(&r, "previewTemplate");
    assert_eq!(file["contentType"], "application/pdf");
    assert_eq!(file["name"], "标准劳动合同（预览）.pdf");
    let filled = download(t, file["url"].as_str().unwrap()).await;
    assert_eq!(file["size"], filled.len());

    // Values must belong to placed fields and be drawable in their boxes.
    let cases = [
        (json!({ "no_such_field": "x" }), "values.no_such_field"),
        (json!({ "start_date": "2026/12/01" }), "values.start_date"),
        (
            json!({ "employee_name": "张".repeat(200) }),
            "values.employee_name",
        ),
        (
            json!({ "employee_name": { "a": 1 } }),
            "values.employee_name",
        ),
        (json!(["张三"]), "values"),
    ];
    for (values, field) in cases {
        let r = t
            .gql_as(&c.admin.token, PREVIEW, json!({ "t": id, "v": values }))
            .await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{values}: {r}");
        assert_eq!(error_field(&r), field, "{r}");
    }
    (contract_pdf(3), filled)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preview_fills_the_template_on_its_own_pages() {
    let t = TestApp::spawn().await;
    let (template, filled) = preview_of(&t).await;
    // An incremental revision over the template: same pages, more drawing.
    assert!(filled.starts_with(&template));
    let document = Document::load_mem(&filled).unwrap();
    assert_eq!(document.get_pages().len(), 3);
    let page_one = document.get_pages()[&1];
    let content = document.get_page_content(page_one);
    let text = String::from_utf8_lossy(&content);
    assert!(text.contains(" re S"), "outlines drawn");
    assert!(text.contains("Tj"), "values drawn");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs pdftotext (poppler-utils): run by .ci/run"]
async fn pdftotext_reads_the_preview_values_and_samples() {
    let t = TestApp::spawn().await;
    let (_, filled) = preview_of(&t).await;
    let dir = std::env::temp_dir().join(format!("yyq-preview-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("preview.pdf"), &filled).unwrap();
    let output = tokio::process::Command::new("pdftotext")
        .args(["preview.pdf", "-"])
        .current_dir(&dir)
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let pages: Vec<&str> = text.split('\u{c}').collect();
    // Given values, formatted per field; employee_name on pages 1 and 3.
    assert!(pages[0].contains("张三丰"), "{text}");
    assert!(pages[2].contains("张三丰"), "{text}");
    assert!(pages[0].contains("2026年12月01日"), "{text}");
    assert!(pages[0].contains("8500"), "{text}");
    // Samples where no value was given, and the slots' labels.
    assert!(pages[0].contains("用人单位名称"), "{text}");
    assert!(pages[0].contains("11010519491231002X"), "{text}");
    assert!(pages[2].contains("甲方"), "{text}");
    assert!(pages[2].contains("公章"), "{text}");
    assert!(pages[2].contains("手写签名"), "{text}");
    if std::env::var_os("KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
