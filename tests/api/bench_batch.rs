//! The batch benchmark of the signing-tasks issue: a 1,000-row sheet
//! against two templates. It prints, and asserts nothing about time:
//!
//! ```sh
//! YYQ_BENCH=1 cargo test --release --test api bench_batch -- --ignored --nocapture
//! ```
//!
//! Without YYQ_BENCH it runs 20 rows, so CI keeps the path working.

use std::time::{Duration, Instant};

use rust_xlsxwriter::Workbook;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::contracts::{SHEET_KEYS, grant_quota, published_labor_template};
use crate::helpers::flows::certified;
use crate::templates::business_type;

fn sheet(rows: usize) -> Vec<u8> {
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet();
    for (col, key) in SHEET_KEYS.iter().enumerate() {
        ws.write_string(0, col as u16, *key).unwrap();
    }
    for i in 0..rows {
        let row = 2 + i as u32;
        let values = [
            format!("员工{i}"),
            format!("{}", 13_500_000_000u64 + i as u64),
            String::new(),
            "郑州市金水区花园路1号".into(),
            format!("员工{i}"),
            "11010519491231002X".into(),
            "郑州市二七区大学路2号".into(),
            "固定期限".into(),
            "2026-12-01".into(),
            "软件工程师".into(),
            "郑州".into(),
            "标准工时制".into(),
            "8500".into(),
            "按国家规定缴纳".into(),
        ];
        for (col, value) in values.iter().enumerate().filter(|(_, v)| !v.is_empty()) {
            ws.write_string(row, col as u16, value).unwrap();
        }
    }
    workbook.save_to_buffer().unwrap()
}

fn peak_memory_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

#[expect(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: YYQ_BENCH=1 cargo test --release --test api bench_batch -- --ignored --nocapture"]
async fn bench_batch_of_a_thousand_rows_and_two_templates() {
    let rows = if std::env::var_os("YYQ_BENCH").is_some() {
        1000
    } else {
        20
    };
    let t = TestApp::spawn().await;
    let c = certified(
        &t,
        "13800009001",
        "郑州压测科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    grant_quota(&t, &c.enterprise, 5000).await;
    let bt = business_type(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let first = published_labor_template(&t, &c).await;
    let second = published_labor_template(&t, &c).await;
    let input = json!({
        "enterpriseId": c.enterprise,
        "title": "年度续签",
        "businessTypeId": bt,
        "templateIds": [first, second],
        "signOrder": "SEQUENTIAL",
        "enterpriseSigners": [{ "roleKey": "employer", "enterpriseId": c.enterprise, "step": 2 }],
        "personSigner": { "roleKey": "employee", "step": 1 },
        "sheet": null,
    });
    let bytes = sheet(rows);
    let upload = |query: &'static str| {
        let input = input.clone();
        let bytes = bytes.clone();
        let t = &t;
        let token = c.admin.token.clone();
        async move {
            t.gql_upload(
                &token,
                query,
                json!({ "i": input }),
                &[("i.sheet", "batch.xlsx", &bytes)],
            )
            .await
        }
    };

    let started = Instant::now();
    let r: Value = upload(
        "query($i: InitiateBatchInput!) { validateSigningBatch(input: $i) { valid rowCount } }",
    )
    .await;
    let validated = started.elapsed();
    assert_eq!(r["data"]["validateSigningBatch"]["valid"], true, "{r}");

    let started = Instant::now();
    let r: Value = upload(
        "mutation($i: InitiateBatchInput!) { initiateSigningBatch(input: $i) { id taskCount } }",
    )
    .await;
    let initiated = started.elapsed();
    assert_eq!(r["data"]["initiateSigningBatch"]["taskCount"], rows, "{r}");

    // The server's fill workers: one per core.
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let fills: Vec<_> = (0..workers)
        .map(|_| {
            let app = t.app.clone();
            tokio::spawn(async move {
                let mut conn = app.pool.get().await.unwrap();
                loop {
                    let n = yuyunqian::domain::tasks::fill::fill_pass(&mut conn, &app.services())
                        .await
                        .unwrap();
                    if n == 0 {
                        return;
                    }
                }
            })
        })
        .collect();
    for fill in fills {
        fill.await.unwrap();
    }
    let filled = started.elapsed();
    let documents = rows * 2;
    println!(
        "batch of {rows} rows x 2 templates ({documents} documents), {workers} fill workers:\n\
         validate {:.2} s, initiation returns in {:.2} s, all documents filled {:.2} s after \
         the mutation started ({:.1} documents/s), peak memory {} MiB",
        secs(validated),
        secs(initiated),
        secs(filled),
        documents as f64 / secs(filled - initiated).max(0.001),
        peak_memory_mib()
    );
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
