//! PAdES signatures: a person and an enterprise sign a 10-page contract in
//! two incremental revisions, each B-T (a platform TSA timestamp over the
//! signature); the structure is checked here and by independent validators
//! (qpdf, poppler's pdfsig, pyHanko).

use std::path::Path;

use der::Encode;
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::flows::certified_enterprise;
use crate::helpers::test_app::Person;
use yuyunqian::db::ids::CertificateId;
use yuyunqian::domain::pdf_signatures::{Placement, sign};
use yuyunqian::pdf::stamp::{self, Stamp};
use yuyunqian::pki::cms;

/// A plain contract of `pages` A4 pages, as a PDF generator would write it.
pub fn contract_pdf(pages: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let mut kids = Vec::new();
    for n in 1..=pages {
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 14.into()]),
                Operation::new("Td", vec![72.into(), 770.into()]),
                Operation::new(
                    "Tj",
                    vec![Object::string_literal(format!("Labor contract, page {n}"))],
                ),
                Operation::new("ET", vec![]),
            ],
        };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        kids.push(page_id.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => pages as i64, "Resources" => resources_id,
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    bytes
}

async fn person_certificate(t: &TestApp, person: &Person) -> CertificateId {
    let r = t
        .gql_as(&person.token, "{ me { certificates { id } } }", json!({}))
        .await;
    r["data"]["me"]["certificates"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .parse()
        .unwrap()
}

async fn enterprise_certificate(t: &TestApp, admin: &Person, enterprise: &str) -> CertificateId {
    let r = t
        .gql_as(
            &admin.token,
            "query($e: ID!) { enterprise(id: $e) { certificates { id } } }",
            json!({ "e": enterprise }),
        )
        .await;
    r["data"]["enterprise"]["certificates"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .parse()
        .unwrap()
}

/// The stored image of the seal a query points at.
async fn seal_png(
    t: &TestApp,
    token: &str,
    query: &str,
    vars: serde_json::Value,
    pointer: &str,
) -> Vec<u8> {
    let r = t.gql_as(token, query, vars).await;
    let sha = r
        .pointer(pointer)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("{r}"));
    t.app.storage.get(sha).unwrap()
}

/// The contract signed by a person (page 1) and then an enterprise (page 10).
pub async fn signed_twice(t: &TestApp) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (admin, enterprise) = certified_enterprise(
        t,
        "13800004201",
        "郑州签约科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    t.app.clock.advance(chrono::TimeDelta::seconds(61));
    let employee = t.verified_person("13800004202", "110101199003071233").await;
    let original = contract_pdf(10);
    // Signatures and CRLs carry the app's time; outside validators judge
    // them by the system clock, which the setup above ran ahead of.
    t.app.clock.reset();
    let name_seal = seal_png(
        t,
        &employee.token,
        "{ me { seals { image { sha256 } } } }",
        json!({}),
        "/data/me/seals/0/image/sha256",
    )
    .await;
    let official = seal_png(
        t,
        &admin.token,
        "query($e: ID!) { enterprise(id: $e) { seals { image { sha256 } } } }",
        json!({ "e": enterprise }),
        "/data/enterprise/seals/0/image/sha256",
    )
    .await;
    let date = yuyunqian::seal_images::date_seal("２０２６年１１月３０日").unwrap();
    let mut conn = t.conn().await;
    let services = t.app.services();
    let employee_stamp = [Stamp {
        png: &name_seal,
        x: 400.0,
        y: 100.0,
        width: 90.0,
        height: 90.0,
    }];
    let first = sign(
        &mut conn,
        &services,
        original.clone(),
        person_certificate(t, &employee).await,
        Placement {
            field_name: "employee".into(),
            page: 0,
            appearance: Some(stamp::appearance(&employee_stamp).unwrap()),
            stamps: Vec::new(),
            texts: Vec::new(),
        },
    )
    .await
    .unwrap();
    let employer_stamps = [
        Stamp {
            png: &official,
            x: 380.0,
            y: 120.0,
            width: 120.0,
            height: 120.0,
        },
        Stamp {
            png: &date,
            x: 380.0,
            y: 90.0,
            width: 120.0,
            height: 30.0,
        },
    ];
    let second = sign(
        &mut conn,
        &services,
        first.clone(),
        enterprise_certificate(t, &admin, &enterprise).await,
        Placement {
            field_name: "employer".into(),
            page: 9,
            appearance: Some(stamp::appearance(&employer_stamps).unwrap()),
            stamps: Vec::new(),
            texts: Vec::new(),
        },
    )
    .await
    .unwrap();
    (original, first, second)
}

/// (ByteRange, CMS) of every signature dictionary, in file order.
fn signatures(pdf: &[u8]) -> Vec<([usize; 4], Vec<u8>)> {
    let doc = Document::load_mem(pdf).unwrap();
    let mut found = Vec::new();
    for object in doc.objects.values() {
        let Object::Dictionary(dict) = object else {
            continue;
        };
        let Ok(Object::Array(range)) = dict.get(b"ByteRange") else {
            continue;
        };
        let range: Vec<usize> = range.iter().map(|v| v.as_i64().unwrap() as usize).collect();
        let contents = dict.get(b"Contents").unwrap().as_str().unwrap().to_vec();
        found.push(([range[0], range[1], range[2], range[3]], contents));
    }
    found.sort_by_key(|(range, _)| range[1]);
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn each_signature_appends_a_revision_with_a_pades_b_t_cms() {
    let t = TestApp::spawn().await;
    let (original, first, second) = signed_twice(&t).await;

    // Earlier revisions stay byte-identical; pages are not added.
    assert!(first.starts_with(&original));
    assert!(second.starts_with(&first));
    assert_eq!(Document::load_mem(&second).unwrap().get_pages().len(), 10);

    let found = signatures(&second);
    assert_eq!(found.len(), 2);
    for (i, (range, contents)) in found.iter().enumerate() {
        // The gap is exactly the hex string, the last range runs to its
        // revision's end.
        let revision_end = if i == 0 { first.len() } else { second.len() };
        assert_eq!(range[0], 0);
        assert_eq!(second[range[1]], b'<');
        assert_eq!(second[range[2] - 1], b'>');
        assert_eq!(range[2] + range[3], revision_end);

        let data = cms::parse_signed_data(contents_der(contents)).unwrap();
        let signer = data.signer_infos.0.iter().next().unwrap();
        let attributes = signer.signed_attrs.as_ref().unwrap();
        let mut oids: Vec<String> = attributes.iter().map(|a| a.oid.to_string()).collect();
        oids.sort();
        assert_eq!(
            oids,
            [
                "1.2.840.113549.1.9.16.2.47",
                "1.2.840.113549.1.9.3",
                "1.2.840.113549.1.9.4"
            ],
            "contentType, messageDigest, signing-certificate-v2 and no signingTime"
        );
        // messageDigest is the SHA-256 of the two ranges.
        let mut signed = second[range[0]..range[1]].to_vec();
        signed.extend_from_slice(&second[range[2]..range[2] + range[3]]);
        let digest = openssl::hash::hash(openssl::hash::MessageDigest::sha256(), &signed).unwrap();
        let value = cms::attribute_value(attributes, cms::ID_MESSAGE_DIGEST).unwrap();
        assert_eq!(
            value
                .decode_as::<der::asn1::OctetString>()
                .unwrap()
                .as_bytes(),
            &digest[..]
        );

        // The timestamp token stamps the signature value.
        let unsigned = signer.unsigned_attrs.as_ref().unwrap();
        let token = cms::attribute_value(unsigned, cms::ID_SIGNATURE_TIME_STAMP).unwrap();
        let info = yuyunqian::pki::tsa::token_info(&token.to_der().unwrap()).unwrap();
        let imprint = openssl::hash::hash(
            openssl::hash::MessageDigest::sha256(),
            signer.signature.as_bytes(),
        )
        .unwrap();
        assert_eq!(info.message_imprint.hashed_message.as_bytes(), &imprint[..]);
    }
}

/// The DER inside the zero-padded /Contents.
fn contents_der(contents: &[u8]) -> &[u8] {
    use der::{Decode, Reader};
    let mut reader = der::SliceReader::new(contents).unwrap();
    let header = der::Header::decode(&mut reader).unwrap();
    let len = usize::try_from(reader.position()).unwrap() + usize::try_from(header.length).unwrap();
    &contents[..len]
}

/// An incremental revision over `pdf` that replaces the text of page
/// `page` (1-based) with `text`: the forgery the verifiers must catch.
pub fn rewrite_page(pdf: &[u8], page: u32, text: &str) -> Vec<u8> {
    let document = Document::load_mem(pdf).unwrap();
    let page_id = document.get_pages()[&page];
    let content_id = document
        .get_dictionary(page_id)
        .unwrap()
        .get(b"Contents")
        .unwrap()
        .as_reference()
        .unwrap();
    let forged = Content {
        operations: vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 14.into()]),
            Operation::new("Td", vec![72.into(), 770.into()]),
            Operation::new("Tj", vec![Object::string_literal(text)]),
            Operation::new("ET", vec![]),
        ],
    };
    let mut revision = yuyunqian::pdf::revision::Revision::new(pdf, &document);
    revision
        .put(
            content_id,
            &Object::Stream(Stream::new(dictionary! {}, forged.encode().unwrap())),
        )
        .unwrap();
    revision.finish().unwrap().bytes
}

/// `pyhanko sign <command> --trust root.pem --trust-replace [extra] <file>` in `dir`.
pub(crate) async fn pyhanko(
    dir: &Path,
    command: &str,
    extra: &[&str],
    file: &str,
) -> (i32, String) {
    let mut args = vec!["sign", command, "--trust", "root.pem", "--trust-replace"];
    args.extend_from_slice(extra);
    args.push(file);
    tool("pyhanko", &args, dir).await
}

/// pyHanko's `command` (validate, adesverify) on `file`: it exits 0 and
/// judges `count` signatures, those whose lines start with `signer`, intact
/// and trusted with an intact, trusted timestamp. Its output.
pub(crate) async fn pyhanko_accepts(
    dir: &Path,
    command: &str,
    file: &str,
    signer: &str,
    count: usize,
) -> String {
    let (code, out) = pyhanko(dir, command, &[], file).await;
    eprintln!("pyhanko {command}: {out}");
    assert_eq!(code, 0, "pyhanko {command}: {out}");
    let judged: Vec<&str> = out.lines().filter(|l| l.starts_with(signer)).collect();
    assert_eq!(judged.len(), count, "pyhanko {command}: {out}");
    assert!(
        judged
            .iter()
            .all(|l| l.contains(":INTACT:TRUSTED,TIMESTAMP_TOKEN<INTACT:TRUSTED>,")),
        "pyhanko {command}: {out}"
    );
    out
}

/// `pdfsig` on `file` in `dir`, the platform root (`root.pem`) trusted
/// through an NSS database made there on first use.
pub(crate) async fn pdfsig_trusting_root(dir: &Path, file: &str) -> String {
    if !dir.join("nss").exists() {
        std::fs::create_dir_all(dir.join("nss")).unwrap();
        let (code, out) = tool(
            "certutil",
            &["-N", "-d", "sql:nss", "--empty-password"],
            dir,
        )
        .await;
        assert_eq!(code, 0, "certutil: {out}");
        let (code, out) = tool(
            "certutil",
            &[
                "-A", "-d", "sql:nss", "-n", "root", "-t", "C,C,C", "-i", "root.pem",
            ],
            dir,
        )
        .await;
        assert_eq!(code, 0, "certutil: {out}");
    }
    tool("pdfsig", &["-nssdir", "sql:nss", file], dir).await.1
}

/// A fresh directory holding the running server's root certificate.
pub(crate) async fn validator_dir(addr: std::net::SocketAddr, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("yyq-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = reqwest::get(format!("http://{addr}/pki/root.pem"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(dir.join("root.pem"), &root).unwrap();
    dir
}

/// Writes `pdf` as `file` where the validators run, and checks that qpdf
/// finds no syntax or stream error in it.
pub(crate) async fn write_checked(path: &Path, file: &str, pdf: &[u8]) {
    eprintln!("validator files in {}", path.display());
    std::fs::write(path.join(file), pdf).unwrap();
    let (code, out) = tool("qpdf", &["--check", file], path).await;
    assert_eq!(code, 0, "qpdf: {out}");
    assert!(out.contains("No syntax or stream encoding errors"), "{out}");
}

pub(crate) async fn tool(program: &str, args: &[&str], dir: &Path) -> (i32, String) {
    let output = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs qpdf, pdfsig (poppler-utils, libnss3-tools) and pyHanko: run by .ci/run"]
async fn independent_validators_accept_the_signatures_and_refuse_tampering() {
    let (t, addr) = TestApp::serving().await;
    let (_, _, signed) = signed_twice(&t).await;
    let dir = validator_dir(addr, "pades").await;
    let path = dir.as_path();
    write_checked(path, "signed.pdf", &signed).await;

    let out = pdfsig_trusting_root(path, "signed.pdf").await;
    assert_eq!(
        out.matches("Signature is Valid.").count(),
        2,
        "pdfsig: {out}"
    );
    assert_eq!(
        out.matches("Certificate is Trusted.").count(),
        2,
        "pdfsig: {out}"
    );

    let out = pyhanko_accepts(path, "validate", "signed.pdf", "employe", 2).await;
    assert!(out.contains("ACCEPTABLE_MODIFICATIONS"), "pyhanko: {out}");

    // The stamps show where they were placed (rendered by poppler).
    let (code, out) = tool(
        "pdftoppm",
        &["-r", "50", "-png", "signed.pdf", "page"],
        path,
    )
    .await;
    assert_eq!(code, 0, "pdftoppm: {out}");
    let red_in = |page: &str, area| red_pixels(&path.join(page), area);
    assert!(
        red_in("page-01.png", (400.0, 100.0, 490.0, 190.0)) > 100,
        "the name seal on page 1"
    );
    assert!(
        red_in("page-10.png", (380.0, 120.0, 500.0, 240.0)) > 200,
        "the official seal on page 10"
    );
    assert!(
        red_in("page-10.png", (380.0, 90.0, 500.0, 120.0)) > 20,
        "the date seal on page 10"
    );
    assert_eq!(
        red_in("page-02.png", (380.0, 90.0, 500.0, 240.0)),
        0,
        "nothing on page 2"
    );

    // Completion: DSS and a document timestamp (B-LT), checked AdES-style.
    let mut conn = t.conn().await;
    let completed =
        yuyunqian::domain::pdf_signatures::complete(&mut conn, &t.app.services(), signed.clone())
            .await
            .unwrap();
    assert!(completed.starts_with(&signed));
    write_checked(path, "completed.pdf", &completed).await;
    let (code, out) = pyhanko(path, "validate", &[], "completed.pdf").await;
    assert_eq!(code, 0, "pyhanko validate: {out}");

    // With the server gone, the CRLs can only come from the DSS: the
    // completed contract validates, the merely signed one does not.
    t.app.shutdown.cancel();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    pyhanko_accepts(path, "adesverify", "completed.pdf", "employe", 2).await;
    let (code, out) = pyhanko(path, "adesverify", &[], "signed.pdf").await;
    assert_ne!(code, 0, "without the DSS the CRLs are out of reach: {out}");

    // An incremental update that rewrites page 3's text is not an
    // acceptable modification after signing.
    let rewritten = rewrite_page(&signed, 3, "Monthly pay: 1 yuan");
    std::fs::write(path.join("rewritten.pdf"), &rewritten).unwrap();
    let (code, out) = pyhanko(
        path,
        "validate",
        &["--no-revocation-check"],
        "rewritten.pdf",
    )
    .await;
    assert_ne!(code, 0, "pyhanko accepted a rewritten page: {out}");

    // One byte changed inside the first signed range breaks both signatures.
    let mut altered = signed.clone();
    let at = signed
        .windows(22)
        .position(|w| w == b"Labor contract, page 3")
        .unwrap();
    altered[at + 21] = b'8';
    std::fs::write(path.join("altered.pdf"), &altered).unwrap();
    let (code, out) = pyhanko(path, "validate", &[], "altered.pdf").await;
    assert_ne!(code, 0, "pyhanko accepted an altered file: {out}");
    let out = pdfsig_trusting_root(path, "altered.pdf").await;
    assert_eq!(
        out.matches("Signature is Valid.").count(),
        0,
        "pdfsig: {out}"
    );
}

/// Red seal pixels in a page rendered at 50 dpi, within a box in points.
fn red_pixels(png: &Path, (x0, y0, x1, y1): (f32, f32, f32, f32)) -> usize {
    let image = image::open(png).unwrap().into_rgb8();
    let px = |pt: f32| (pt * 50.0 / 72.0) as u32;
    let mut count = 0;
    for y in px(842.0 - y1)..px(842.0 - y0) {
        for x in px(x0)..px(x1).min(image.width()) {
            let [r, g, b] = image.get_pixel(x, y).0;
            if r > 150 && g < 110 && b < 110 {
                count += 1;
            }
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs pdftoppm (poppler-utils) and pyHanko: run by .ci/run"]
async fn a_cross_page_seal_puts_a_slice_on_every_page_after_an_earlier_signature() {
    let (t, addr) = TestApp::serving().await;
    let (admin, enterprise) = certified_enterprise(
        &t,
        "13800004301",
        "郑州骑缝科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    t.app.clock.advance(chrono::TimeDelta::seconds(61));
    let employee = t.verified_person("13800004302", "110101199003071233").await;
    let official = seal_png(
        &t,
        &admin.token,
        "query($e: ID!) { enterprise(id: $e) { seals { image { sha256 } } } }",
        json!({ "e": enterprise }),
        "/data/enterprise/seals/0/image/sha256",
    )
    .await;
    t.app.clock.reset();
    let mut conn = t.conn().await;
    let services = t.app.services();
    let first = sign(
        &mut conn,
        &services,
        contract_pdf(10),
        person_certificate(&t, &employee).await,
        Placement {
            field_name: "employee".into(),
            page: 0,
            appearance: None,
            stamps: Vec::new(),
            texts: Vec::new(),
        },
    )
    .await
    .unwrap();
    let pages: Vec<(usize, f32)> = (0..10).map(|p| (p, 595.0)).collect();
    let signed = sign(
        &mut conn,
        &services,
        first,
        enterprise_certificate(&t, &admin, &enterprise).await,
        Placement {
            field_name: "employer".into(),
            page: 9,
            appearance: Some(
                stamp::appearance(&[Stamp {
                    png: &official,
                    x: 380.0,
                    y: 120.0,
                    width: 120.0,
                    height: 120.0,
                }])
                .unwrap(),
            ),
            stamps: stamp::cross_page(&official, &pages, 400.0, 120.0).unwrap(),
            texts: Vec::new(),
        },
    )
    .await
    .unwrap();
    let dir = validator_dir(addr, "cross").await;
    let path = dir.as_path();
    std::fs::write(path.join("signed.pdf"), &signed).unwrap();

    let (code, out) = tool(
        "pdftoppm",
        &["-r", "50", "-png", "signed.pdf", "page"],
        path,
    )
    .await;
    assert_eq!(code, 0, "pdftoppm: {out}");
    for page in 1..=10 {
        let png = path.join(format!("page-{page:02}.png"));
        assert!(
            red_pixels(&png, (583.0, 400.0, 595.0, 520.0)) > 5,
            "a seal slice on page {page}"
        );
        assert_eq!(
            red_pixels(&png, (560.0, 400.0, 580.0, 520.0)),
            0,
            "only a slice on page {page}"
        );
    }

    // The slices are widgets of the enterprise's signature field: the
    // employee's earlier signature sees an acceptable modification.
    let (code, out) = pyhanko(path, "validate", &[], "signed.pdf").await;
    assert_eq!(code, 0, "pyhanko: {out}");
    assert!(
        out.contains("employee:") && out.contains("ACCEPTABLE_MODIFICATIONS"),
        "{out}"
    );
    assert_eq!(
        out.matches(":INTACT:TRUSTED,TIMESTAMP_TOKEN<INTACT:TRUSTED>,")
            .count(),
        2,
        "{out}"
    );

    // Our verifier agrees.
    let report = yuyunqian::domain::verification::verify_document(&mut conn, &services, signed)
        .await
        .unwrap();
    assert_eq!(report.verdict, yuyunqian::pdf::verify::Verdict::TotalPassed);
    assert_eq!(report.signatures.len(), 2);
}
