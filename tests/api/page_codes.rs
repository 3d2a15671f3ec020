//! Per-page QR codes: vector drawings that a QR decoder reads back as each
//! page's own verification URL.

use lopdf::{Document, Object};
use uuid::Uuid;
use yuyunqian::domain::page_codes;
use yuyunqian::pdf::qr::add_page_codes;

use crate::helpers::TestApp;
use crate::pades::contract_pdf;

fn coded(t: &TestApp, document: Uuid, pages: u16) -> (Vec<u8>, Vec<String>) {
    let template = contract_pdf(usize::from(pages));
    let parsed = Document::load_mem(&template).unwrap();
    let urls: Vec<String> = (1..=pages)
        .map(|page| {
            let code = page_codes::encode(t.keys(), document, page).unwrap();
            page_codes::url("https://yuyunqian.example", &code)
        })
        .collect();
    (
        add_page_codes(&template, &parsed, &urls, 56.0).unwrap(),
        urls,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_gets_a_vector_code_and_no_page_is_added() {
    let t = TestApp::spawn().await;
    let (pdf, _) = coded(&t, Uuid::new_v4(), 3);
    let document = Document::load_mem(&pdf).unwrap();
    assert_eq!(document.get_pages().len(), 3);
    let images = document
        .objects
        .values()
        .filter(|o| matches!(o, Object::Stream(s) if s.dict.get(b"Subtype").is_ok_and(|v| v.as_name().is_ok_and(|n| n == b"Image"))))
        .count();
    assert_eq!(images, 0, "drawn with operators, not a raster");
}

/// The text of the one QR code in the bottom-right quarter of a rendered page.
fn scan(png: &std::path::Path) -> String {
    let image = image::open(png).unwrap().into_luma8();
    let (width, height) = image.dimensions();
    let (x0, y0) = (width / 2, height / 2);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        (width - x0) as usize,
        (height - y0) as usize,
        |x, y| image.get_pixel(x0 + x as u32, y0 + y as u32).0[0],
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one code in {}", png.display());
    grids[0].decode().unwrap().1
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs pdftoppm (poppler-utils): run by .ci/run"]
async fn a_qr_decoder_reads_each_pages_own_url() {
    let t = TestApp::spawn().await;
    let document = Uuid::new_v4();
    let (pdf, urls) = coded(&t, document, 3);
    let dir = std::env::temp_dir().join(format!("yyq-qr-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("coded.pdf"), &pdf).unwrap();
    let output = tokio::process::Command::new("pdftoppm")
        .args(["-r", "150", "-gray", "-png", "coded.pdf", "page"])
        .current_dir(&dir)
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    for (index, url) in urls.iter().enumerate() {
        let text = scan(&dir.join(format!("page-{}.png", index + 1)));
        assert_eq!(&text, url);
        let code = text.rsplit('/').next().unwrap();
        let page = u16::try_from(index + 1).unwrap();
        assert_eq!(page_codes::decode(t.keys(), code), Some((document, page)));
    }
}

/// A filled, QR-coded contract of a real batch: (document id, its PDF).
async fn coded_contract(t: &TestApp) -> (Uuid, Vec<u8>) {
    use crate::helpers::contracts::{
        fill_all, grant_quota, labor_values, published_labor_template,
    };
    use serde_json::json;
    let c = crate::helpers::flows::certified(
        t,
        "13800009101",
        "郑州溯源科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    grant_quota(t, &c.enterprise, 1).await;
    let bt = crate::templates::business_type(t, &c.admin, &c.enterprise, "劳动合同").await;
    let template = published_labor_template(t, &c).await;
    let input = json!({
        "enterpriseId": c.enterprise, "title": "溯源合同", "businessTypeId": bt,
        "templateIds": [template], "signOrder": "UNORDERED", "addPageQrCodes": true,
        "enterpriseSigners": [{ "roleKey": "employer", "enterpriseId": c.enterprise }],
        "personSigner": { "roleKey": "employee" },
        "rows": [{ "person": { "name": "员工甲", "phone": "13500009101" }, "values": labor_values("员工甲") }],
    });
    let r = t
        .gql_as(
            &c.admin.token,
            "mutation($i: InitiateBatchInput!) { initiateSigningBatch(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    fill_all(t).await;
    let r = t
        .gql_as(&c.admin.token, "query($e: ID!) { enterprise(id: $e) { tasks(box: INITIATED) { edges { node { documents { id file { url } } } } } } }", json!({ "e": c.enterprise }))
        .await;
    let document = &r["data"]["enterprise"]["tasks"]["edges"][0]["node"]["documents"][0];
    let pdf = crate::templates::download(t, document["file"]["url"].as_str().unwrap()).await;
    (document["id"].as_str().unwrap().parse().unwrap(), pdf)
}

const TRACE: &str = "query($c: String!) { pageTrace(code: $c) { documentId documentName taskTitle page pageCount } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_page_code_names_its_document_task_and_page_to_anyone() {
    use axum::body::Body;
    use axum::http::Request;
    use serde_json::json;
    let t = TestApp::spawn().await;
    let (document, _) = coded_contract(&t).await;
    let code = page_codes::encode(t.keys(), document, 2).unwrap();
    // No login needed: the code is on the paper.
    let r = t.gql(TRACE, json!({ "c": code })).await;
    assert_eq!(
        r["data"]["pageTrace"],
        json!({ "documentId": document.to_string(), "documentName": "标准劳动合同.pdf", "taskTitle": "溯源合同", "page": 2, "pageCount": 3 }),
        "{r}"
    );
    let (status, _, body) = t
        .request(
            Request::get(format!("/t/{code}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status.as_u16(), 200);
    let html = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        html.contains("第 2 页，共 3 页") && html.contains("溯源合同"),
        "{html}"
    );

    // Forged, mistyped and out-of-range codes name nothing.
    let mut forged = code.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let beyond = page_codes::encode(t.keys(), document, 4).unwrap();
    let unknown = page_codes::encode(t.keys(), Uuid::new_v4(), 1).unwrap();
    for bad in [
        forged.as_str(),
        beyond.as_str(),
        unknown.as_str(),
        "x<script>",
    ] {
        let r = t.gql(TRACE, json!({ "c": bad })).await;
        assert_eq!(
            crate::helpers::test_app::error_code(&r),
            "NOT_FOUND",
            "{bad}: {r}"
        );
        let (status, _, body) = t
            .request(
                Request::get(format!("/t/{}", urlencoding(bad)))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(status.as_u16(), 404, "{bad}");
        assert!(!String::from_utf8_lossy(&body).contains("<script>"));
    }
}

fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs pdftoppm (poppler-utils): run by .ci/run"]
async fn the_code_scanned_from_a_filled_contract_traces_its_page() {
    use serde_json::json;
    let t = TestApp::spawn().await;
    let (document, pdf) = coded_contract(&t).await;
    let dir = std::env::temp_dir().join(format!("yyq-trace-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("contract.pdf"), &pdf).unwrap();
    let output = tokio::process::Command::new("pdftoppm")
        .args([
            "-r",
            "150",
            "-gray",
            "-png",
            "-f",
            "3",
            "-l",
            "3",
            "contract.pdf",
            "page",
        ])
        .current_dir(&dir)
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let url = scan(&dir.join("page-3.png"));
    assert!(url.starts_with("http://127.0.0.1:8080/t/"), "{url}");
    let code = url.rsplit('/').next().unwrap();
    let r = t.gql(TRACE, json!({ "c": code })).await;
    assert_eq!(
        r["data"]["pageTrace"]["documentId"],
        document.to_string(),
        "{r}"
    );
    assert_eq!(r["data"]["pageTrace"]["page"], 3);
    let _ = std::fs::remove_dir_all(&dir);
}
