//! The field catalogue of business types, custom fields, and the seals a
//! membership carries.

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::flows::{certified_enterprise, member};
use crate::helpers::test_app::{Person, error_code, error_field};

const TYPES: &str = "query($e: ID!) { enterprise(id: $e) { businessTypes { id name fields { key label type requiredInTemplate custom } } } }";

async fn types(t: &TestApp, person: &Person, enterprise: &str) -> Vec<Value> {
    let r = t
        .gql_as(&person.token, TYPES, json!({ "e": enterprise }))
        .await;
    r["data"]["enterprise"]["businessTypes"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .clone()
}

fn of_type<'a>(types: &'a [Value], name: &str) -> &'a Value {
    types.iter().find(|bt| bt["name"] == name).unwrap()
}

fn keys(bt: &Value) -> Vec<&str> {
    bt["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn business_types_list_their_catalogue_and_the_custom_fields() {
    let t = TestApp::spawn().await;
    let (admin, enterprise) = certified_enterprise(
        &t,
        "13800004001",
        "郑州字段科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let listed = types(&t, &admin, &enterprise).await;
    let labor = of_type(&listed, "劳动合同");
    let labor_keys = keys(labor);
    for key in [
        "employer_name",
        "employee_name",
        "employee_id_number",
        "contract_type",
        "start_date",
        "job_title",
        "work_location",
        "working_hours",
        "monthly_pay",
        "social_insurance",
    ] {
        assert!(labor_keys.contains(&key), "{key} in {labor_keys:?}");
    }
    let id_field = labor["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "employee_id_number")
        .unwrap();
    assert_eq!(id_field["type"], "ID_NUMBER");
    assert_eq!(id_field["requiredInTemplate"], true);
    assert_eq!(id_field["custom"], false);
    assert!(keys(of_type(&listed, "离职")).contains(&"leave_date"));

    // A new business type gets the general catalogue.
    let r = t
        .gql_as(&admin.token, "mutation($e: ID!) { createBusinessType(enterpriseId: $e, name: \"实习协议\") { id fields { key requiredInTemplate } } }", json!({ "e": enterprise }))
        .await;
    let internship = r["data"]["createBusinessType"].clone();
    assert_eq!(
        keys(&internship),
        [
            "employer_name",
            "employee_name",
            "employee_id_number",
            "employee_phone",
            "signing_date"
        ],
        "{r}"
    );

    // Custom fields: for one business type, or for all.
    let create = "mutation($e: ID!, $b: ID, $k: String!, $l: String!, $t: FieldType!) { createCustomField(enterpriseId: $e, businessTypeId: $b, key: $k, label: $l, type: $t) { key label type custom requiredInTemplate } }";
    let r = t
        .gql_as(&admin.token, create, json!({ "e": enterprise, "b": labor["id"], "k": "annual_bonus", "l": "年终奖", "t": "MONEY" }))
        .await;
    assert_eq!(
        r["data"]["createCustomField"],
        json!({ "key": "annual_bonus", "label": "年终奖", "type": "MONEY", "custom": true, "requiredInTemplate": false }),
        "{r}"
    );
    let r = t
        .gql_as(
            &admin.token,
            create,
            json!({ "e": enterprise, "k": "employee_no", "l": "工号", "t": "TEXT" }),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    let listed = types(&t, &admin, &enterprise).await;
    let labor_keys = keys(of_type(&listed, "劳动合同"));
    assert!(
        labor_keys.ends_with(&["annual_bonus", "employee_no"]),
        "{labor_keys:?}"
    );
    let leave_keys = keys(of_type(&listed, "离职"));
    assert!(leave_keys.contains(&"employee_no") && !leave_keys.contains(&"annual_bonus"));

    // Refusals.
    for (vars, code, field) in [
        (
            json!({ "e": enterprise, "k": "AnnualBonus", "l": "年终奖", "t": "MONEY" }),
            "BAD_USER_INPUT",
            Some("key"),
        ),
        (
            json!({ "e": enterprise, "k": "bonus", "l": "", "t": "MONEY" }),
            "BAD_USER_INPUT",
            Some("label"),
        ),
        (
            json!({ "e": enterprise, "k": "employee_name", "l": "姓名", "t": "TEXT" }),
            "CONFLICT",
            None,
        ),
        (
            json!({ "e": enterprise, "k": "employee_no", "l": "工号", "t": "TEXT" }),
            "CONFLICT",
            None,
        ),
        (
            json!({ "e": enterprise, "b": "00000000-0000-4000-8000-000000000000", "k": "bonus", "l": "奖金", "t": "MONEY" }),
            "NOT_FOUND",
            None,
        ),
    ] {
        let r = t.gql_as(&admin.token, create, vars.clone()).await;
        assert_eq!(error_code(&r), code, "{vars}: {r}");
        if let Some(field) = field {
            assert_eq!(error_field(&r), field);
        }
    }
    let clerk = member(
        &t,
        &admin,
        &enterprise,
        "13800004002",
        "110101199003071233",
        json!([]),
    )
    .await;
    let r = t
        .gql_as(
            &clerk.token,
            create,
            json!({ "e": enterprise, "k": "bonus", "l": "奖金", "t": "MONEY" }),
        )
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_membership_shows_its_seals_to_the_member_and_the_admin_only() {
    let t = TestApp::spawn().await;
    let (admin, enterprise) = certified_enterprise(
        &t,
        "13800004101",
        "郑州授权科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let r = t
        .gql_as(
            &admin.token,
            "query($e: ID!) { enterprise(id: $e) { seals { id } } }",
            json!({ "e": enterprise }),
        )
        .await;
    let seal = r["data"]["enterprise"]["seals"][0]["id"].clone();
    let holder = member(
        &t,
        &admin,
        &enterprise,
        "13800004102",
        "110101199003071233",
        json!([seal]),
    )
    .await;
    let other = member(
        &t,
        &admin,
        &enterprise,
        "13800004103",
        "410102198506152310",
        json!([]),
    )
    .await;

    let mine = t
        .gql_as(
            &holder.token,
            "{ me { memberships { role seals { id kind } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["data"]["me"]["memberships"][0]["seals"],
        json!([{ "id": seal, "kind": "OFFICIAL" }]),
        "{mine}"
    );

    let members = "query($e: ID!) { enterprise(id: $e) { members { edges { node { role user { phone } seals { id } } } } } }";
    let seals_by_phone = |r: &Value| -> Vec<(String, usize)> {
        r["data"]["enterprise"]["members"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|e| {
                let node = &e["node"];
                (
                    node["user"]["phone"].as_str().unwrap().to_owned(),
                    node["seals"].as_array().unwrap().len(),
                )
            })
            .collect()
    };
    let by_admin = seals_by_phone(
        &t.gql_as(&admin.token, members, json!({ "e": enterprise }))
            .await,
    );
    assert_eq!(
        by_admin.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        [1, 1, 0],
        "{by_admin:?}"
    );
    let by_other = seals_by_phone(
        &t.gql_as(&other.token, members, json!({ "e": enterprise }))
            .await,
    );
    assert_eq!(
        by_other.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        [0, 0, 0],
        "grants are not for other members: {by_other:?}"
    );
}
