//! What task tests share: a published 劳动合同 template, row values, quota
//! and the fill job.

use serde_json::{Value, json};

use super::TestApp;
use super::flows::Certified;
use crate::templates::{PUBLISH, complete_layout, created, layout};

/// Values for every field `complete_layout` has the initiator fill
/// (the employer's name, USCC and legal representative come from the
/// enterprise).
pub fn labor_values(employee: &str) -> Value {
    json!({
        "employer_address": "郑州市金水区花园路1号",
        "employee_name": employee,
        "employee_id_number": "11010519491231002X",
        "employee_address": "郑州市二七区大学路2号",
        "contract_type": "固定期限",
        "start_date": "2026-12-01",
        "job_title": "软件工程师",
        "work_location": "郑州",
        "working_hours": "标准工时制",
        "monthly_pay": 8500,
        "social_insurance": "按国家规定缴纳",
    })
}

/// The columns of a filled 劳动合同 sheet: the person, then what
/// `labor_values` fills.
pub const SHEET_KEYS: [&str; 14] = [
    "person.name",
    "person.phone",
    "person.idNumber",
    "employer_address",
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

/// A 入职 layout without fields: a company and a staff member, one slot each.
pub fn onboarding_layout() -> Value {
    json!({
        "roles": [
            { "key": "company", "name": "公司", "kind": "ENTERPRISE" },
            { "key": "staff", "name": "员工", "kind": "PERSON" },
        ],
        "fields": [],
        "sealSlots": [
            { "roleKey": "company", "sealKind": "CONTRACT", "page": 1, "x": 400.0, "y": 600.0 },
            { "roleKey": "staff", "sealKind": "HANDWRITTEN", "page": 1, "x": 100.0, "y": 600.0 },
        ],
    })
}

/// A PUBLISHED template of `business_type` with `layout_input`.
pub async fn published(
    t: &TestApp,
    c: &Certified,
    business_type: &str,
    layout_input: Value,
) -> String {
    let template = created(t, &c.admin, &c.enterprise, business_type).await;
    let r = layout(t, &c.admin, &template, layout_input).await;
    assert!(r.get("errors").is_none(), "{r}");
    let r = t
        .gql_as(&c.admin.token, PUBLISH, json!({ "t": template }))
        .await;
    assert_eq!(r["data"]["publishTemplate"]["status"], "PUBLISHED", "{r}");
    template
}

/// The published 劳动合同 template of `complete_layout`.
pub async fn published_labor_template(t: &TestApp, c: &Certified) -> String {
    published(t, c, "劳动合同", complete_layout()).await
}

/// `yuyunqian quota grant` for the enterprise.
pub async fn grant_quota(t: &TestApp, enterprise: &str, amount: i32) {
    let out = t
        .cli(&[
            "quota",
            "grant",
            "--enterprise",
            enterprise,
            "--amount",
            &amount.to_string(),
            "--note",
            "合同采购单 2026-001",
        ])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the fill job until it finds nothing; how many tasks became ready.
pub async fn fill_all(t: &TestApp) -> usize {
    let mut conn = t.conn().await;
    let mut total = 0;
    loop {
        let n = yuyunqian::domain::tasks::fill::fill_pass(&mut conn, &t.app.services())
            .await
            .unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

/// The id of the enterprise's seal of `kind` (OFFICIAL, CONTRACT, ...).
pub async fn enterprise_seal(t: &TestApp, c: &Certified, kind: &str) -> String {
    let r = t
        .gql_as(
            &c.admin.token,
            "query($e: ID!) { enterprise(id: $e) { seals { id kind } } }",
            json!({ "e": c.enterprise }),
        )
        .await;
    r["data"]["enterprise"]["seals"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .find(|s| s["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} seal: {r}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}
