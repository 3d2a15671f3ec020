//! Excel mode: the sheet template, real filled sheets (numbers stored as
//! floats, Excel dates, trailing spaces, merged cells), and sheets built to
//! hurt (not xlsx, sparse, too long, inflating).

use std::io::{Cursor, Write};

use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::contracts::{SHEET_KEYS, grant_quota, published_labor_template};
use crate::helpers::flows::{Certified, certified};
use crate::helpers::test_app::{error_code, error_field};
use crate::templates::{business_type, download};
use yuyunqian::db::schema::signing_tasks;

const SHEET_TEMPLATE: &str = "mutation($e: ID!, $t: [ID!]!) { batchSheetTemplate(enterpriseId: $e, templateIds: $t) { name contentType url } }";
const VALIDATE: &str = "query($i: InitiateBatchInput!) { validateSigningBatch(input: $i) { valid rowCount errors { row column message } } }";
const INITIATE: &str =
    "mutation($i: InitiateBatchInput!) { initiateSigningBatch(input: $i) { id taskCount } }";

fn ok<'a>(r: &'a Value, field: &str) -> &'a Value {
    assert!(r.get("errors").is_none(), "{field}: {r}");
    &r["data"][field]
}

async fn ready(t: &TestApp, phone: &str) -> (Certified, String, String) {
    let c = certified(t, phone, "郑州表格科技有限公司", "91350100M000100Y43").await;
    let bt = business_type(t, &c.admin, &c.enterprise, "劳动合同").await;
    let template = published_labor_template(t, &c).await;
    (c, bt, template)
}

fn batch(c: &Certified, bt: &str, template: &str) -> Value {
    json!({
        "enterpriseId": c.enterprise,
        "title": "表格导入续签",
        "businessTypeId": bt,
        "templateIds": [template],
        "signOrder": "SEQUENTIAL",
        "enterpriseSigners": [{ "roleKey": "employer", "enterpriseId": c.enterprise, "step": 2 }],
        "personSigner": { "roleKey": "employee", "step": 1 },
        "sheet": null,
    })
}

/// A sheet as an HR clerk fills it: phones and pay typed as numbers, start
/// dates as Excel dates, padded text, and (with `merged`) one work
/// location merged over the last two rows.
fn filled_sheet(rows: usize, merged: bool) -> Vec<u8> {
    let mut workbook = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = workbook.add_worksheet();
    for (col, key) in SHEET_KEYS.iter().enumerate() {
        sheet.write_string(0, col as u16, *key).unwrap();
        sheet
            .write_string(1, col as u16, format!("标题{col}"))
            .unwrap();
    }
    sheet.set_row_hidden(0).unwrap();
    for i in 0..rows {
        let row = 2 + i as u32;
        sheet.write_string(row, 0, format!("员工{i}  ")).unwrap();
        sheet
            .write_number(row, 1, 13_900_000_000.0 + i as f64)
            .unwrap();
        sheet.write_string(row, 3, "郑州市金水区花园路1号").unwrap();
        sheet.write_string(row, 4, format!("员工{i}")).unwrap();
        sheet.write_string(row, 5, "11010519491231002X").unwrap();
        sheet.write_string(row, 6, "郑州市二七区大学路2号").unwrap();
        sheet.write_string(row, 7, "固定期限").unwrap();
        let start = ExcelDateTime::from_ymd(2026, 12, 1).unwrap();
        sheet
            .write_datetime_with_format(row, 8, &start, &date)
            .unwrap();
        sheet.write_string(row, 9, "  软件工程师  ").unwrap();
        if !merged || i + 2 < rows {
            sheet.write_string(row, 10, "郑州").unwrap();
        }
        sheet.write_string(row, 11, "标准工时制").unwrap();
        sheet.write_number(row, 12, 8500.0).unwrap();
        sheet.write_string(row, 13, "按国家规定缴纳").unwrap();
    }
    if merged {
        let first = 2 + rows as u32 - 2;
        sheet
            .merge_range(first, 10, first + 1, 10, "郑州", &Format::new())
            .unwrap();
    }
    workbook.save_to_buffer().unwrap()
}

async fn with_sheet(t: &TestApp, token: &str, query: &str, input: Value, sheet: &[u8]) -> Value {
    t.gql_upload(
        token,
        query,
        json!({ "i": input }),
        &[("i.sheet", "续签.xlsx", sheet)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sheet_template_keeps_keys_labels_text_columns_and_the_enterprise_row() {
    let t = TestApp::spawn().await;
    let (c, _, template) = ready(&t, "13800008001").await;
    let r = t
        .gql_as(
            &c.admin.token,
            SHEET_TEMPLATE,
            json!({ "e": c.enterprise, "t": [template] }),
        )
        .await;
    let file = ok(&r, "batchSheetTemplate");
    assert_eq!(
        file["contentType"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let bytes = download(&t, file["url"].as_str().unwrap()).await;
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes.clone())).unwrap();
    let range = workbook.worksheet_range("签署数据").unwrap();
    let keys: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        &keys[..3],
        ["person.name", "person.phone", "person.idNumber"]
    );
    assert!(keys.contains(&"employee_id_number".to_owned()));
    assert!(
        !keys.contains(&"employee_phone".to_owned()),
        "the employee fills it when signing"
    );
    let labels: Vec<String> = range
        .rows()
        .nth(1)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(labels.contains(&"劳动者姓名 *".to_owned()), "{labels:?}");
    let first: Vec<&Data> = range.rows().nth(2).unwrap().iter().collect();
    let name_col = keys.iter().position(|k| k == "employer_name").unwrap();
    assert_eq!(first[name_col].to_string(), "郑州表格科技有限公司");
    // Text format ("@") on the columns, the key row hidden.
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut styles = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("xl/styles.xml").unwrap(), &mut styles)
        .unwrap();
    assert!(styles.contains("formatCode=\"@\""), "{styles}");
    let mut sheet = String::new();
    std::io::Read::read_to_string(
        &mut archive.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut sheet,
    )
    .unwrap();
    assert!(sheet.contains("hidden=\"1\""));
    assert!(
        sheet.contains("<col ") && sheet.contains("style=\"1\""),
        "{sheet}"
    );
}

/// `validateSigningBatch` with a sheet against the batch of `ready`.
async fn validated(t: &TestApp, c: &Certified, bt: &str, template: &str, bytes: &[u8]) -> Value {
    with_sheet(t, &c.admin.token, VALIDATE, batch(c, bt, template), bytes).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filled_sheet_is_checked_row_by_row_and_starts_the_batch() {
    let t = TestApp::spawn().await;
    let (c, bt, template) = ready(&t, "13800008002").await;
    grant_quota(&t, &c.enterprise, 10).await;
    let validate = async |bytes: &[u8]| validated(&t, &c, &bt, &template, bytes).await;

    // The merged work location leaves the last row without one.
    let merged = filled_sheet(4, true);
    let r = validate(&merged).await;
    let report = ok(&r, "validateSigningBatch");
    assert_eq!(report["rowCount"], 4);
    assert_eq!(
        report["errors"],
        json!([{ "row": 6, "column": "work_location", "message": "工作地点 is required" }]),
        "rows are numbered as Excel shows them"
    );

    let sheet = filled_sheet(3, false);
    let r = validate(&sheet).await;
    assert_eq!(ok(&r, "validateSigningBatch")["valid"], true, "{r}");
    let r = with_sheet(
        &t,
        &c.admin.token,
        INITIATE,
        batch(&c, &bt, &template),
        &sheet,
    )
    .await;
    assert_eq!(ok(&r, "initiateSigningBatch")["taskCount"], 3);

    // What the tasks hold: numbers, dates and padded text as typed.
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = t.conn().await;
    let sealed: Vec<Vec<u8>> = signing_tasks::table
        .order(signing_tasks::row_number)
        .select(signing_tasks::values_enc)
        .load(&mut conn)
        .await
        .unwrap();
    let values: Value = serde_json::from_slice(
        &t.keys()
            .open(
                &sealed[0],
                yuyunqian::domain::tasks::initiate::VALUES_CONTEXT,
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(values["start_date"], "2026-12-01");
    assert_eq!(values["monthly_pay"], "8500.00");
    assert_eq!(values["job_title"], "软件工程师");
    assert_eq!(values["employer_name"], "郑州表格科技有限公司");

    // An ID number typed as a number has lost digits: a row error.
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet();
    for (col, key) in SHEET_KEYS.iter().enumerate() {
        ws.write_string(0, col as u16, *key).unwrap();
    }
    ws.write_string(2, 0, "员工").unwrap();
    ws.write_string(2, 1, "13900000001").unwrap();
    ws.write_number(2, 2, 110_105_194_912_310_020.0).unwrap();
    let bytes = workbook.save_to_buffer().unwrap();
    let r = validate(&bytes).await;
    let errors = ok(&r, "validateSigningBatch")["errors"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        errors
            .iter()
            .any(|e| e["column"] == "person.idNumber" && e["row"] == 3),
        "{errors:?}"
    );
}

/// A valid xlsx whose central directory claims `size` bytes once unpacked.
fn inflating_zip(size: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut writer = zip::ZipWriter::new(Cursor::new(&mut bytes));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        writer
            .start_file("xl/worksheets/sheet1.xml", options)
            .unwrap();
        writer.write_all(&[b' '; 1000]).unwrap();
        writer.finish().unwrap();
    }
    // The central directory entry starts with PK\x01\x02; its uncompressed
    // size sits 24 bytes in.
    let at = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap() + 24;
    bytes[at..at + 4].copy_from_slice(&size.to_le_bytes());
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn sheets_built_to_hurt_are_refused_before_they_cost_anything() {
    let t = TestApp::spawn().await;
    let (c, bt, template) = ready(&t, "13800008003").await;
    grant_quota(&t, &c.enterprise, 10).await;
    let validate = async |bytes: &[u8]| validated(&t, &c, &bt, &template, bytes).await;

    let mut sparse = Workbook::new();
    let ws = sparse.add_worksheet();
    ws.write_string(0, 0, "person.phone").unwrap();
    ws.write_string(1_048_575, 16_383, "x").unwrap();
    let sparse = sparse.save_to_buffer().unwrap();

    let mut long = Workbook::new();
    let ws = long.add_worksheet();
    ws.write_string(0, 1, "person.phone").unwrap();
    ws.write_string(5_010, 1, "13900000001").unwrap();
    let long = long.save_to_buffer().unwrap();

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not xlsx", b"%PDF-1.7 not a sheet".to_vec(), "not an .xlsx"),
        ("sparse", sparse, "columns"),
        ("too long", long, "5000 rows"),
        ("inflating", inflating_zip(200 * 1024 * 1024), "100 MB"),
    ];
    for (what, bytes, message) in cases {
        let r = validate(&bytes).await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{what}: {r}");
        assert_eq!(error_field(&r), "input.sheet", "{what}: {r}");
        let text = r["errors"][0]["message"].as_str().unwrap();
        assert!(text.contains(message), "{what}: {text}");
    }

    let mut both = batch(&c, &bt, &template);
    both["rows"] = json!([]);
    let r = with_sheet(&t, &c.admin.token, INITIATE, both, &filled_sheet(1, false)).await;
    assert_eq!(error_field(&r), "input.sheet", "{r}");
}
