//! Document verification over GraphQL (no login): platform signatures pass,
//! tampering and foreign documents do not.

use lopdf::Document;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::test_app::{error_code, error_field};
use crate::pades::{rewrite_page, signed_twice};

const VERIFY: &str = "mutation($f: Upload!) { verifyDocument(file: $f) { verdict subIndication platformDocument modifiedAfterLastSignature signatures { verdict subIndication signerName enterpriseName serialNumber signedAt timestampedAt digestValid signatureValid chainTrusted certificateValidAtSigning coversWholeRevision documentTimestamp } } }";

/// `verifyDocument` on an uploaded file: its report.
pub async fn verify(t: &TestApp, pdf: &[u8]) -> Value {
    let r = t
        .gql_upload(
            "",
            VERIFY,
            json!({ "f": null }),
            &[("f", "contract.pdf", pdf)],
        )
        .await;
    r["data"]["verifyDocument"].clone()
}

/// Who signed, in order, leaving out document timestamps.
pub fn signer_names(report: &Value) -> Vec<&str> {
    report["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["documentTimestamp"] == false)
        .map(|s| s["signerName"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn platform_signatures_pass_and_every_kind_of_tampering_is_caught() {
    let t = TestApp::spawn().await;
    let (original, _, signed) = signed_twice(&t).await;
    let mut conn = t.conn().await;
    let completed =
        yuyunqian::domain::pdf_signatures::complete(&mut conn, &t.app.services(), signed.clone())
            .await
            .unwrap();

    let report = verify(&t, &signed).await;
    assert_eq!(report["verdict"], "TOTAL_PASSED", "{report}");
    assert_eq!(report["platformDocument"], true);
    assert_eq!(report["modifiedAfterLastSignature"], false);
    let signatures = report["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 2);
    for check in signatures {
        for field in [
            "digestValid",
            "signatureValid",
            "chainTrusted",
            "certificateValidAtSigning",
            "coversWholeRevision",
        ] {
            assert_eq!(check[field], true, "{field}: {report}");
        }
        assert!(check["timestampedAt"].is_string(), "{report}");
    }
    assert_eq!(signatures[0]["signerName"], "张三");
    assert_eq!(signatures[0]["enterpriseName"], Value::Null);
    assert_eq!(signatures[1]["enterpriseName"], "郑州签约科技有限公司");

    let report = verify(&t, &completed).await;
    assert_eq!(report["verdict"], "TOTAL_PASSED", "{report}");
    assert_eq!(report["signatures"].as_array().unwrap().len(), 3);
    assert_eq!(report["signatures"][2]["documentTimestamp"], true);

    // One byte inside the first signed range.
    let mut altered = signed.clone();
    let at = signed
        .windows(22)
        .position(|w| w == b"Labor contract, page 3")
        .unwrap();
    altered[at + 21] = b'8';
    let report = verify(&t, &altered).await;
    assert_eq!(report["verdict"], "TOTAL_FAILED", "{report}");
    assert_eq!(report["signatures"][0]["subIndication"], "HASH_FAILURE");

    // Validation data appended without a timestamp over it: indeterminate.
    let document = Document::load_mem(&signed).unwrap();
    let with_dss = yuyunqian::pdf::ltv::add_dss(&signed, &document, &[], &[]).unwrap();
    let report = verify(&t, &with_dss).await;
    assert_eq!(report["verdict"], "INDETERMINATE", "{report}");
    assert_eq!(report["subIndication"], "UNSIGNED_VALIDATION_DATA");
    assert_eq!(report["modifiedAfterLastSignature"], true);

    // A revision that rewrites a page after signing.
    let rewritten = rewrite_page(&signed, 3, "");
    let report = verify(&t, &rewritten).await;
    assert_eq!(report["verdict"], "TOTAL_FAILED", "{report}");
    assert_eq!(report["subIndication"], "MODIFIED_AFTER_SIGNING");

    // A ByteRange rewritten to cover less of the file.
    let marker = b"/ByteRange[0 ";
    let at = signed
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap()
        + marker.len();
    let close = at + signed[at..].iter().position(|&b| b == b']').unwrap();
    let numbers: Vec<usize> = std::str::from_utf8(&signed[at..close])
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let shorter = format!("{} {} {}", numbers[0], numbers[1], numbers[2] - 100);
    let mut narrowed = signed.clone();
    let mut patch = shorter.into_bytes();
    patch.resize(close - at, b' ');
    narrowed[at..close].copy_from_slice(&patch);
    let report = verify(&t, &narrowed).await;
    assert_eq!(report["verdict"], "TOTAL_FAILED", "{report}");
    assert_eq!(report["signatures"][0]["coversWholeRevision"], false);

    // Unsigned, and not a PDF at all.
    let report = verify(&t, &original).await;
    assert_eq!(report["verdict"], "TOTAL_FAILED");
    assert_eq!(report["subIndication"], "NO_SIGNATURE");
    let r = t
        .gql_upload(
            "",
            VERIFY,
            json!({ "f": null }),
            &[("f", "x.pdf", b"hello")],
        )
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    assert_eq!(error_field(&r), "file");
}

#[tokio::test(flavor = "multi_thread")]
async fn documents_signed_under_another_root_never_pass() {
    let elsewhere = TestApp::spawn().await;
    let (_, _, signed) = signed_twice(&elsewhere).await;
    let t = TestApp::spawn().await;
    let report = verify(&t, &signed).await;
    assert_eq!(report["verdict"], "TOTAL_FAILED", "{report}");
    assert_eq!(report["subIndication"], "NOT_SIGNED_ON_PLATFORM");
    assert_eq!(report["platformDocument"], false);
    assert_eq!(
        report["signatures"][0]["digestValid"], true,
        "intact, only foreign"
    );
    assert_eq!(report["signatures"][0]["chainTrusted"], false);
}

/// A small deterministic mutation fuzzer (cargo fuzz needs a nightly
/// toolchain this machine does not have): flipped bytes, truncations and
/// spliced copies of a signed contract go through the input checks and the
/// verifier, which must answer (Ok or Err) and never panic.
#[tokio::test(flavor = "multi_thread")]
async fn mutated_documents_never_crash_the_parser_or_the_verifier() {
    let t = TestApp::spawn().await;
    let (_, _, signed) = signed_twice(&t).await;
    let mut conn = t.conn().await;
    let root = yuyunqian::domain::certificates::platform_certificate_pem(
        &mut conn,
        &t.app.services(),
        yuyunqian::db::enums::KeyPurpose::Root,
    )
    .await
    .unwrap();
    let root = openssl::x509::X509::from_pem(root.as_bytes())
        .unwrap()
        .to_der()
        .unwrap();
    let trust = yuyunqian::pdf::verify::Trust {
        root: &root,
        crls: &[],
    };
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let limits = yuyunqian::pdf::input::Limits::default();
    for round in 0..400 {
        let mut bytes = signed.clone();
        match round % 4 {
            0 => {
                for _ in 0..1 + next() % 8 {
                    let at = (next() as usize) % bytes.len();
                    bytes[at] = next() as u8;
                }
            }
            1 => bytes.truncate((next() as usize) % bytes.len()),
            2 => {
                let from = (next() as usize) % bytes.len();
                let to = (next() as usize) % bytes.len();
                let len = ((next() as usize) % 512).min(bytes.len() - from.max(to));
                let chunk = bytes[from..from + len].to_vec();
                bytes[to..to + len].copy_from_slice(&chunk);
            }
            _ => {
                let at = (next() as usize) % bytes.len();
                bytes.splice(
                    at..at,
                    b"<< /Type /Page /Contents 9999 0 R >>".iter().copied(),
                );
            }
        }
        let _ = yuyunqian::pdf::input::accept(&bytes, &limits);
        if let Ok(report) = yuyunqian::pdf::verify::verify(&bytes, &trust) {
            assert!(
                report.verdict != yuyunqian::pdf::verify::Verdict::TotalPassed || bytes == signed,
                "round {round}: a mutated document passed"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verification_beyond_the_servers_capacity_is_told_to_retry() {
    let t = TestApp::spawn().await;
    let (_, _, signed) = signed_twice(&t).await;
    let all = u32::try_from(t.app.verifications.available_permits()).unwrap();
    let held = t
        .app
        .verifications
        .clone()
        .try_acquire_many_owned(all)
        .unwrap();
    let r = t
        .gql_upload(
            "",
            VERIFY,
            json!({ "f": null }),
            &[("f", "contract.pdf", &signed)],
        )
        .await;
    assert_eq!(error_code(&r), "RATE_LIMITED", "{r}");
    drop(held);
    assert_eq!(verify(&t, &signed).await["verdict"], "TOTAL_PASSED");
}

/// A page rewritten between two signatures: the later signer signed it, but
/// the earlier signature no longer holds.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_between_two_signatures_fails_the_earlier_one() {
    let t = TestApp::spawn().await;
    let (_, first, _) = signed_twice(&t).await;
    let rewritten = rewrite_page(&first, 3, "");
    let r = t
        .gql_as(
            &t.verified_person("13800004501", "410102198506152310")
                .await
                .token,
            "{ me { certificates { id } } }",
            json!({}),
        )
        .await;
    let certificate = r["data"]["me"]["certificates"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut conn = t.conn().await;
    let resigned = yuyunqian::domain::pdf_signatures::sign(
        &mut conn,
        &t.app.services(),
        rewritten,
        certificate,
        yuyunqian::domain::pdf_signatures::Placement {
            field_name: "witness".into(),
            page: 1,
            appearance: None,
            stamps: Vec::new(),
            texts: Vec::new(),
        },
    )
    .await
    .unwrap();
    let report = verify(&t, &resigned).await;
    assert_eq!(report["verdict"], "TOTAL_FAILED", "{report}");
    assert_eq!(report["signatures"][0]["verdict"], "TOTAL_FAILED");
    assert_eq!(
        report["signatures"][0]["subIndication"],
        "MODIFIED_AFTER_SIGNING"
    );
    assert_eq!(
        report["signatures"][1]["verdict"], "TOTAL_PASSED",
        "the witness signed what it saw"
    );
}
