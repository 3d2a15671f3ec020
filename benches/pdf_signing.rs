//! Signing throughput on one core: fill + stamp + PAdES B-T signature of a
//! 10-page contract, the signature alone, and its verification, with the platform's own code
//! (no database). Prints signatures per second, the raw cryptographic cost
//! and peak memory, and leaves the contract, keys and certificates in
//! `target/bench-signing/` for `scripts/bench-signing.sh` to hand to pyHanko.
//!
//! Run: `cargo bench --bench pdf_signing` (or the script, which also runs
//! pyHanko on the same file and prints the ratio).

#![allow(
    clippy::print_stdout,
    reason = "a benchmark reports on standard output"
)]

use std::time::Instant;

use chrono::Utc;
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};
use yuyunqian::pdf::fill::{FieldText, fill};
use yuyunqian::pdf::sign::{DEFAULT_RESERVED, FieldSpec, SignatureKind, prepare};
use yuyunqian::pdf::stamp::{Stamp, appearance};
use yuyunqian::pdf::verify::{Trust, Verdict, verify};
use yuyunqian::pki::algorithms::{Digest, SignatureAlgorithm};
use yuyunqian::pki::ca::{self, KeyAlgorithm, SubjectInfo};
use yuyunqian::pki::cms::{self, Cert, ID_DATA, SignerParts};
use yuyunqian::pki::tsa::{self, Tsa};

fn contract(pages: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(
        dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" },
    );
    let mut kids = Vec::new();
    for n in 1..=pages {
        let mut operations = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 10.into()]),
        ];
        for line in 0..40 {
            operations.push(Operation::new(
                "Td",
                vec![
                    if line == 0 { 72 } else { 0 }.into(),
                    if line == 0 { 780 } else { -16 }.into(),
                ],
            ));
            operations.push(Operation::new(
                "Tj",
                vec![Object::string_literal(format!(
                    "Article {n}.{line}: the parties agree on the terms of this labor contract."
                ))],
            ));
        }
        operations.push(Operation::new("ET", vec![]));
        let content_id = doc.add_object(Stream::new(
            dictionary! {},
            Content { operations }.encode().expect("content"),
        ));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font_id } },
        });
        kids.push(page_id.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => pages as i64 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).expect("save");
    bytes
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Material {
    signer: Cert,
    key: openssl::pkey::PKey<openssl::pkey::Private>,
    chain: Vec<Cert>,
    tsa_cert: Cert,
    tsa_key: openssl::pkey::PKey<openssl::pkey::Private>,
}

fn sign_once(pdf: &[u8], m: &Material, stamp: Option<&[u8]>) -> Vec<u8> {
    let document = Document::load_mem(pdf).expect("parse");
    let spec = FieldSpec {
        name: "employer",
        page: 9,
        kind: SignatureKind::Cades {
            signing_time: Utc::now(),
        },
        appearance: stamp.map(|png| {
            appearance(&[Stamp {
                png,
                x: 380.0,
                y: 120.0,
                width: 120.0,
                height: 120.0,
            }])
            .expect("appearance")
        }),
        stamps: Vec::new(),
        texts: Vec::new(),
    };
    let prepared = prepare(pdf, &document, &spec, DEFAULT_RESERVED).expect("prepare");
    let digest = prepared.digest(Digest::Sha256).expect("digest");
    let attributes =
        cms::signed_attributes(ID_DATA, &digest, &m.signer, Digest::Sha256).expect("attributes");
    let signature = SignatureAlgorithm::EcdsaSha256
        .sign(&m.key, &cms::to_be_signed(&attributes).expect("der"))
        .expect("sign");
    let imprint = Digest::Sha256.hash(&[&signature]).expect("hash");
    let tsa = Tsa {
        cert: &m.tsa_cert,
        chain: &m.chain,
        key: &m.tsa_key,
    };
    let token = tsa::issue_token(&tsa, Digest::Sha256, &imprint, Utc::now(), None).expect("token");
    let cms = cms::signed_data(
        ID_DATA,
        None,
        SignerParts {
            signer: &m.signer,
            chain: &m.chain,
            signed_attributes: attributes,
            algorithm: SignatureAlgorithm::EcdsaSha256,
            signature,
            timestamp_token: Some(token),
        },
    )
    .expect("cms");
    prepared.embed(&cms).expect("embed")
}

fn rate(label: &str, iterations: u32, mut work: impl FnMut()) -> f64 {
    work();
    let started = Instant::now();
    for _ in 0..iterations {
        work();
    }
    let per_second = f64::from(iterations) / started.elapsed().as_secs_f64();
    println!(
        "{label}: {per_second:.0}/s ({:.3} ms each)",
        1000.0 / per_second
    );
    per_second
}

fn main() {
    let now = Utc::now();
    let alg = KeyAlgorithm::EcdsaP256;
    let root = ca::new_root(alg, now).expect("root");
    let issuing =
        ca::new_issuing(&root, alg, "http://127.0.0.1/pki/root.crl", now).expect("issuing");
    let tsa = ca::new_tsa(&issuing, alg, "http://127.0.0.1/pki/crl", now).expect("tsa");
    let key = alg.generate_key().expect("key");
    let subject = SubjectInfo {
        common_name: "郑州云签科技有限公司",
        organization: "郑州云签科技有限公司",
        serial_number: "91350100M000100Y43",
    };
    let signer = ca::issue_end_entity(
        &issuing,
        alg,
        &subject,
        &key,
        "http://127.0.0.1/pki/crl",
        now,
    )
    .expect("cert");
    let der = |c: &openssl::x509::X509| Cert::from_der(&c.to_der().expect("der")).expect("cert");
    let m = Material {
        signer: der(&signer),
        key: key.clone(),
        chain: vec![der(&issuing.cert)],
        tsa_cert: der(&tsa.cert),
        tsa_key: tsa.key.clone(),
    };

    let pdf = contract(10);
    let seal = yuyunqian::seal_images::round_seal("郑州云签科技有限公司", Some("合同专用章"))
        .expect("seal");
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-signing");
    std::fs::create_dir_all(&out).expect("dir");
    std::fs::write(out.join("contract.pdf"), &pdf).expect("write");
    std::fs::write(out.join("signer.pem"), signer.to_pem().expect("pem")).expect("write");
    std::fs::write(
        out.join("signer.key"),
        key.private_key_to_pem_pkcs8().expect("pem"),
    )
    .expect("write");
    std::fs::write(out.join("issuing.pem"), issuing.cert.to_pem().expect("pem")).expect("write");
    std::fs::write(out.join("root.pem"), root.cert.to_pem().expect("pem")).expect("write");
    std::fs::write(out.join("tsa.pem"), tsa.cert.to_pem().expect("pem")).expect("write");
    std::fs::write(
        out.join("tsa.key"),
        tsa.key.private_key_to_pem_pkcs8().expect("pem"),
    )
    .expect("write");
    println!("contract: {} pages, {} bytes", 10, pdf.len());

    let b_t = rate("PAdES B-T signature (invisible)", 300, || {
        std::hint::black_box(sign_once(&pdf, &m, None));
    });
    std::fs::write(out.join("rust-signed.pdf"), sign_once(&pdf, &m, None)).expect("write");
    rate("PAdES B-T signature with a seal appearance", 100, || {
        std::hint::black_box(sign_once(&pdf, &m, Some(&seal)));
    });
    let document = Document::load_mem(&pdf).expect("parse");
    let fields: Vec<FieldText> = [
        "郑州云签科技有限公司",
        "张三",
        "41010519900307451X",
        "2026年11月30日",
        "8000.00元",
    ]
    .iter()
    .enumerate()
    .map(|(i, text)| FieldText {
        key: "field",
        page: 0,
        x: 72.0,
        y: 600.0 - 30.0 * i as f32,
        width: 300.0,
        height: 16.0,
        font_size: 12.0,
        text,
    })
    .collect();
    rate("fill + stamp + B-T signature", 50, || {
        let filled = fill(&pdf, &document, &fields).expect("fill");
        std::hint::black_box(sign_once(&filled, &m, Some(&seal)));
    });
    let crypto = rate(
        "cryptography alone (2 ECDSA signatures, CMS, token)",
        1000,
        || {
            let digest = [7u8; 32];
            let attributes = cms::signed_attributes(ID_DATA, &digest, &m.signer, Digest::Sha256)
                .expect("attributes");
            let signature = SignatureAlgorithm::EcdsaSha256
                .sign(&m.key, &cms::to_be_signed(&attributes).expect("der"))
                .expect("sign");
            let tsa = Tsa {
                cert: &m.tsa_cert,
                chain: &m.chain,
                key: &m.tsa_key,
            };
            let token = tsa::issue_token(&tsa, Digest::Sha256, &signature[..32], Utc::now(), None)
                .expect("token");
            std::hint::black_box(
                cms::signed_data(
                    ID_DATA,
                    None,
                    SignerParts {
                        signer: &m.signer,
                        chain: &m.chain,
                        signed_attributes: attributes,
                        algorithm: SignatureAlgorithm::EcdsaSha256,
                        signature,
                        timestamp_token: Some(token),
                    },
                )
                .expect("cms"),
            );
        },
    );
    println!(
        "B-T signing costs {:.1}x the raw cryptography",
        crypto / b_t
    );
    std::fs::write(out.join("rust-rate.txt"), format!("{b_t}")).expect("write");
    let signed = sign_once(&pdf, &m, None);
    let root_der = root.cert.to_der().expect("der");
    let trust = Trust {
        root: &root_der,
        crls: &[],
    };
    let verified = rate("verification of the B-T signed contract", 300, || {
        let report = verify(&signed, &trust).expect("verify");
        assert_eq!(report.verdict, Verdict::TotalPassed);
        std::hint::black_box(report);
    });
    std::fs::write(out.join("rust-verify-rate.txt"), format!("{verified}")).expect("write");
    if let Some(kib) = peak_memory_kib() {
        println!("peak memory (VmHWM): {} MiB", kib / 1024);
    }
}
