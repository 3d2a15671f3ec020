//! Timestamps from a remote RFC 3161 service: signing asks it, a failing
//! service fails the signing; our TSA's answers satisfy `openssl ts`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use chrono::Utc;
use serde_json::json;
use yuyunqian::pki::ca::{self, CaMaterial, KeyAlgorithm};
use yuyunqian::pki::cms::{self, Cert};
use yuyunqian::pki::tsa::{self, Tsa};

use crate::helpers::TestApp;
use crate::pades::contract_pdf;

/// A TSA under a CA of its own, as an outside service would be.
struct Outside {
    tsa: CaMaterial,
    issuing: CaMaterial,
    root: CaMaterial,
}

fn outside() -> Outside {
    let now = Utc::now();
    let root = ca::new_root(KeyAlgorithm::EcdsaP256, now).unwrap();
    let issuing = ca::new_issuing(
        &root,
        KeyAlgorithm::EcdsaP256,
        "http://127.0.0.1:9/root.crl",
        now,
    )
    .unwrap();
    let tsa = ca::new_tsa(
        &issuing,
        KeyAlgorithm::EcdsaP256,
        "http://127.0.0.1:9/crl",
        now,
    )
    .unwrap();
    Outside { tsa, issuing, root }
}

fn answer(outside: &Outside, request: &[u8]) -> Vec<u8> {
    let cert = Cert::from_der(&outside.tsa.cert.to_der().unwrap()).unwrap();
    let chain = [Cert::from_der(&outside.issuing.cert.to_der().unwrap()).unwrap()];
    let tsa = Tsa {
        cert: &cert,
        chain: &chain,
        key: &outside.tsa.key,
    };
    tsa::respond(&tsa, request, Utc::now()).unwrap()
}

async fn serve(outside: Arc<Outside>, down: Arc<AtomicBool>) -> SocketAddr {
    let app = axum::Router::new().route(
        "/tsa",
        post(move |body: Bytes| {
            let (outside, down) = (outside.clone(), down.clone());
            async move {
                if down.load(Ordering::SeqCst) {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                (
                    [(header::CONTENT_TYPE, "application/timestamp-reply")],
                    answer(&outside, &body),
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_carry_the_configured_tsas_token_and_fail_without_it() {
    let outside = Arc::new(outside());
    let down = Arc::new(AtomicBool::new(false));
    let addr = serve(outside.clone(), down.clone()).await;
    let t = TestApp::with_config(|config| config.tsa.tsa_url = Some(format!("http://{addr}/tsa")))
        .await;
    let person = t.verified_person("13800004401", "410105199003074510").await;
    let r = t
        .gql_as(&person.token, "{ me { certificates { id } } }", json!({}))
        .await;
    let certificate = r["data"]["me"]["certificates"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let placement = || yuyunqian::domain::pdf_signatures::Placement {
        field_name: "employee".into(),
        page: 0,
        appearance: None,
        stamps: Vec::new(),
        texts: Vec::new(),
    };
    let mut conn = t.conn().await;
    let services = t.app.services();
    let signed = yuyunqian::domain::pdf_signatures::sign(
        &mut conn,
        &services,
        contract_pdf(2),
        certificate,
        placement(),
    )
    .await
    .unwrap();
    let document = lopdf::Document::load_mem(&signed).unwrap();
    let found = yuyunqian::pdf::signatures::find(&document).unwrap();
    let embedded = cms::embedded_certificates(&found[0].cms).unwrap();
    assert!(
        embedded.contains(&outside.tsa.cert.to_der().unwrap()),
        "the outside TSA stamped"
    );

    down.store(true, Ordering::SeqCst);
    let failed = yuyunqian::domain::pdf_signatures::sign(
        &mut conn,
        &services,
        contract_pdf(2),
        certificate,
        placement(),
    )
    .await;
    assert!(failed.is_err(), "no timestamp, no signature");
    let error: async_graphql::Error = failed.err().unwrap().into();
    assert_eq!(
        error.extensions.unwrap().get("code").unwrap().to_string(),
        "\"INTERNAL\""
    );
}

#[tokio::test]
#[ignore = "needs the openssl command: run by .ci/run"]
async fn openssl_accepts_the_platform_tsas_answers() {
    let outside = outside();
    let dir = std::env::temp_dir().join(format!("yyq-tsa-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("data.txt"), "劳动合同").unwrap();
    let run = |args: &[&str]| {
        let output = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    run(&[
        "ts",
        "-query",
        "-data",
        "data.txt",
        "-sha256",
        "-cert",
        "-out",
        "request.tsq",
    ]);
    let request = std::fs::read(dir.join("request.tsq")).unwrap();
    std::fs::write(dir.join("response.tsr"), answer(&outside, &request)).unwrap();
    let mut chain = outside.root.cert.to_pem().unwrap();
    chain.extend(outside.issuing.cert.to_pem().unwrap());
    std::fs::write(dir.join("chain.pem"), chain).unwrap();
    let verified = run(&[
        "ts",
        "-verify",
        "-queryfile",
        "request.tsq",
        "-in",
        "response.tsr",
        "-CAfile",
        "chain.pem",
    ]);
    assert!(String::from_utf8_lossy(&verified.stdout).contains("Verification: OK"));
}
