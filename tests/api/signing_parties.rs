//! Two enterprises and a person sign one contract in three steps; the
//! employer adds the cross-page seal it was asked for.

use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::contracts::{enterprise_seal, grant_quota, labor_values, published};
use crate::helpers::flows::certified;
use crate::helpers::test_app::error_code;
use crate::signing::{
    SEND_CODE, add_signature, documents, employee_signs, enterprise_signs, initiated_and_filled,
    ok, signatures,
};
use crate::templates::{business_type, other_enterprise, three_party_layout};

fn statuses(task: &serde_json::Value) -> Vec<String> {
    task["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}:{}",
                s["role"]["key"].as_str().unwrap(),
                s["status"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_an_agency_and_the_employer_sign_in_turn() {
    let t = TestApp::spawn().await;
    let employer = certified(
        &t,
        "13800020901",
        "郑州用工科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let agency = other_enterprise(&t, "13800020902", "郑州派遣服务有限公司").await;
    grant_quota(&t, &employer.enterprise, 1).await;
    let employee = t.verified_person("13500020901", "410105199003074545").await;
    add_signature(&t, &employee).await;

    let layout = three_party_layout("agency", 400.0);
    let template = published(&t, &employer, "劳动合同", layout).await;
    let bt = business_type(&t, &employer.admin, &employer.enterprise, "劳动合同").await;
    let official = enterprise_seal(&t, &employer, "OFFICIAL").await;
    let input = json!({
        "enterpriseId": employer.enterprise, "title": "三方协议", "businessTypeId": bt,
        "templateIds": [template], "signOrder": "SEQUENTIAL",
        "enterpriseSigners": [
            { "roleKey": "employer", "enterpriseId": employer.enterprise, "step": 3, "crossPageSealId": official },
            { "roleKey": "agency", "enterpriseId": agency.enterprise, "step": 2 },
        ],
        "personSigner": { "roleKey": "employee", "step": 1 },
        "rows": [{ "person": { "name": "张三", "phone": "13500020901" }, "values": labor_values("张三") }],
    });
    let task = initiated_and_filled(&t, &employer.admin.token, input).await;

    let r = t
        .gql_as(&agency.admin.token, SEND_CODE, json!({ "t": task }))
        .await;
    assert_eq!(error_code(&r), "CONFLICT", "the agency signs second: {r}");
    let r = employee_signs(&t, &employee, &task, "13500020901").await;
    assert_eq!(
        statuses(ok(&r, "signTask")),
        ["employer:WAITING", "agency:PENDING", "employee:SIGNED"]
    );
    let r = enterprise_signs(&t, &agency.admin, &agency.enterprise, &task).await;
    assert_eq!(
        statuses(ok(&r, "signTask")),
        ["employer:PENDING", "agency:SIGNED", "employee:SIGNED"]
    );
    let r = enterprise_signs(&t, &employer.admin, &employer.enterprise, &task).await;
    assert_eq!(ok(&r, "signTask")["status"], "COMPLETED", "{r}");
    // Every party hears of it: the employee where to download it, the
    // signing enterprises' ADMINs that it is complete.
    assert!(t.last_sms("13500020901").await.unwrap().contains("免费"));
    let told = t.last_sms(&agency.admin.phone).await.unwrap();
    assert!(told.contains("已全部签署完成"), "{told}");

    let contract = documents(&t, &task).await.remove(0);
    assert_eq!(
        signatures(&contract).len(),
        4,
        "three signers and the document timestamp"
    );
    // The employer's widgets: its seal, the date and one slice per page.
    let document = lopdf::Document::load_mem(&contract).unwrap();
    let mut per_page = Vec::new();
    for (_, page) in document.get_pages() {
        let widgets = document
            .get_page_annotations(page)
            .map(|a| {
                a.iter()
                    .filter(|d| {
                        d.get(b"Subtype").and_then(|s| s.as_name()).ok()
                            == Some(b"Widget".as_slice())
                    })
                    .count()
            })
            .unwrap_or(0);
        per_page.push(widgets);
    }
    // Page 1: a slice and the document timestamp's invisible widget.
    // Page 2: the agency's seal, the employee's phone, a slice. Page 3: the
    // employee's signature, the employer's seal and date, a slice.
    assert_eq!(per_page, [2, 3, 4], "{per_page:?}");
    let mut conn = t.conn().await;
    let report =
        yuyunqian::domain::verification::verify_document(&mut conn, &t.app.services(), contract)
            .await
            .unwrap();
    assert_eq!(report.verdict, yuyunqian::pdf::verify::Verdict::TotalPassed);
    let names: Vec<&str> = report
        .signatures
        .iter()
        .filter(|s| !s.document_timestamp)
        .map(|s| s.signer_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["张三", "郑州派遣服务有限公司", "郑州用工科技有限公司"]
    );
}
