//! The platform CA: certificates served, issued to verified people, revoked
//! into the CRL, keys encrypted at rest, and accepted by `openssl verify`.

use axum::body::Body;
use axum::http::Request;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use openssl::x509::{CrlStatus, X509, X509Crl};
use serde_json::json;

use crate::helpers::TestApp;
use yuyunqian::config::CertAlgorithm;
use yuyunqian::db::schema::{certificates, platform_keys};

const MY_CERTIFICATES: &str = "{ me { certificates { id kind subject issuer serialNumber status expiringSoon pem notAfter } } }";

async fn get(t: &TestApp, path: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = t
        .request(Request::get(path).body(Body::empty()).unwrap())
        .await;
    (status.as_u16(), body)
}

async fn chain(t: &TestApp) -> (X509, X509) {
    let (status, root) = get(t, "/pki/root.pem").await;
    assert_eq!(status, 200);
    let (_, issuing) = get(t, "/pki/issuing.pem").await;
    (
        X509::from_pem(&root).unwrap(),
        X509::from_pem(&issuing).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn verified_people_get_a_cloud_certificate_that_chains_to_the_root() {
    let t = TestApp::spawn().await;
    let person = t.verified_person("13800000501", "410105199003074510").await;
    let r = t.gql_as(&person.token, MY_CERTIFICATES, json!({})).await;
    let certs = r["data"]["me"]["certificates"].as_array().unwrap().clone();
    assert_eq!(certs.len(), 1, "{r}");
    let cert = &certs[0];
    assert_eq!(cert["kind"], "CLOUD");
    assert_eq!(cert["status"], "VALID");
    assert_eq!(cert["expiringSoon"], false);
    let subject = cert["subject"].as_str().unwrap();
    assert!(
        subject.contains("CN=张三") && subject.contains("C=CN"),
        "{subject}"
    );
    assert!(
        !subject.contains("410105199003074510"),
        "no ID number in the certificate"
    );

    let leaf = X509::from_pem(cert["pem"].as_str().unwrap().as_bytes()).unwrap();
    let (root, issuing) = chain(&t).await;
    let mut store = openssl::x509::store::X509StoreBuilder::new().unwrap();
    store.add_cert(root).unwrap();
    let store = store.build();
    let mut untrusted = openssl::stack::Stack::new().unwrap();
    untrusted.push(issuing).unwrap();
    let mut ctx = openssl::x509::X509StoreContext::new().unwrap();
    assert!(
        ctx.init(&store, &leaf, &untrusted, |c| c.verify_cert())
            .unwrap()
    );
    let days = leaf.not_before().diff(leaf.not_after()).unwrap().days;
    assert!(
        (364..=366).contains(&days),
        "one-year validity, got {days} days"
    );

    // The person's key is held encrypted.
    let mut conn = t.conn().await;
    let sealed: Option<Vec<u8>> = certificates::table
        .select(certificates::private_key_enc)
        .first(&mut conn)
        .await
        .unwrap();
    let sealed = sealed.unwrap();
    assert!(openssl::pkey::PKey::private_key_from_pkcs8(&sealed).is_err());
    let pkcs8 = t.keys().open(&sealed, b"certificates.private_key").unwrap();
    let key = openssl::pkey::PKey::private_key_from_pkcs8(&pkcs8).unwrap();
    assert!(key.public_eq(&leaf.public_key().unwrap()));
}

#[tokio::test(flavor = "multi_thread")]
async fn platform_keys_are_encrypted_at_rest_and_created_once() {
    let t = TestApp::spawn().await;
    // A second start (or a second process) finds the CA and keeps it.
    let (root_before, _) = chain(&t).await;
    let mut conn = t.conn().await;
    let services = t.app.services();
    let (a, b) = tokio::join!(
        async {
            let mut c = t.conn().await;
            yuyunqian::domain::certificates::ensure_platform_ca(&mut c, &services).await
        },
        async {
            let mut c = t.conn().await;
            yuyunqian::domain::certificates::ensure_platform_ca(&mut c, &services).await
        }
    );
    assert!(a.is_ok() && b.is_ok());
    let rows: Vec<(String, Vec<u8>)> = platform_keys::table
        .select((platform_keys::purpose, platform_keys::private_key_enc))
        .load(&mut conn)
        .await
        .unwrap();
    let mut purposes: Vec<&str> = rows.iter().map(|(p, _)| p.as_str()).collect();
    purposes.sort();
    assert_eq!(purposes, ["ISSUING", "ROOT", "TSA"]);
    for (_, sealed) in &rows {
        assert!(openssl::pkey::PKey::private_key_from_pkcs8(sealed).is_err());
        assert!(t.keys().open(sealed, b"platform_keys.private_key").is_ok());
    }
    let (root_after, _) = chain(&t).await;
    assert_eq!(root_before.to_der().unwrap(), root_after.to_der().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_certificates_appear_in_the_crl() {
    let t = TestApp::spawn().await;
    let person = t.verified_person("13800000502", "410105199003074510").await;
    let (_, issuing) = chain(&t).await;
    let (status, der) = get(&t, "/pki/crl").await;
    assert_eq!(status, 200);
    let crl = X509Crl::from_der(&der).unwrap();
    assert!(crl.verify(&issuing.public_key().unwrap()).unwrap());
    assert!(crl.get_revoked().is_none_or(|r| r.is_empty()));

    let r = t.gql_as(&person.token, MY_CERTIFICATES, json!({})).await;
    let id: uuid::Uuid = r["data"]["me"]["certificates"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let leaf = X509::from_pem(
        r["data"]["me"]["certificates"][0]["pem"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let mut conn = t.conn().await;
    yuyunqian::domain::certificates::revoke(
        &mut conn,
        &t.app.services(),
        None,
        yuyunqian::db::ids::CertificateId(id),
        "keyCompromise",
    )
    .await
    .unwrap();

    let (_, der) = get(&t, "/pki/crl").await;
    let crl = X509Crl::from_der(&der).unwrap();
    assert!(crl.verify(&issuing.public_key().unwrap()).unwrap());
    assert!(matches!(crl.get_by_cert(&leaf), CrlStatus::Revoked(_)));
    let r = t.gql_as(&person.token, MY_CERTIFICATES, json!({})).await;
    assert_eq!(r["data"]["me"]["certificates"][0]["status"], "REVOKED");
}

fn openssl_verify(dir: &std::path::Path, root: &X509, issuing: &X509, leaf: &X509) -> String {
    std::fs::write(dir.join("root.pem"), root.to_pem().unwrap()).unwrap();
    std::fs::write(dir.join("issuing.pem"), issuing.to_pem().unwrap()).unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.to_pem().unwrap()).unwrap();
    let output = std::process::Command::new("openssl")
        .current_dir(dir)
        .args([
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "cert.pem",
        ])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The cloud certificate a newly verified person gets.
async fn issued_leaf(t: &TestApp) -> X509 {
    let person = t.verified_person("13800000503", "410105199003074510").await;
    let r = t.gql_as(&person.token, MY_CERTIFICATES, json!({})).await;
    X509::from_pem(
        r["data"]["me"]["certificates"][0]["pem"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap()
}

async fn issued_certificate_passes_openssl_verify(algorithm: CertAlgorithm) {
    let t = TestApp::with_config(|c| c.cert_algorithm = algorithm).await;
    let leaf = issued_leaf(&t).await;
    let (root, issuing) = chain(&t).await;
    let dir = std::env::temp_dir().join(format!("yyq-verify-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = openssl_verify(&dir, &root, &issuing, &leaf);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.trim(), "cert.pem: OK", "{out}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the openssl command: run by .ci/run"]
async fn issued_ecdsa_certificate_passes_openssl_verify() {
    issued_certificate_passes_openssl_verify(CertAlgorithm::EcdsaP256).await;
}

/// Whether the RustCrypto sm2 crate, an implementation independent of
/// OpenSSL, accepts the signature of a certificate or CRL (DER) by
/// `issuer`'s key under the standard signer ID of GM/T 0009.
fn sm2_crate_verifies(der: &[u8], issuer: &X509) -> bool {
    use der::{Decode, Encode};
    use sm2::dsa::signature::Verifier as _;
    let spki = issuer.public_key().unwrap().public_key_to_der().unwrap();
    let info = spki::SubjectPublicKeyInfoRef::try_from(spki.as_slice()).unwrap();
    let point = info.subject_public_key.as_bytes().unwrap();
    let key = sm2::dsa::VerifyingKey::from_sec1_bytes("1234567812345678", point).unwrap();
    let (tbs, signature) = match x509_cert::Certificate::from_der(der) {
        Ok(cert) => (cert.tbs_certificate.to_der().unwrap(), cert.signature),
        Err(_) => {
            let list = x509_cert::crl::CertificateList::from_der(der).unwrap();
            (list.tbs_cert_list.to_der().unwrap(), list.signature)
        }
    };
    let sig = openssl::ecdsa::EcdsaSig::from_der(signature.as_bytes().unwrap()).unwrap();
    let mut raw = sig.r().to_vec_padded(32).unwrap();
    raw.extend(sig.s().to_vec_padded(32).unwrap());
    key.verify(&tbs, &sm2::dsa::Signature::from_slice(&raw).unwrap())
        .is_ok()
}

/// SM2 certificates and CRLs are signed under the standard signer ID
/// (GM/T 0015), which SM2 software checks. `openssl verify` (OpenSSL 3.0)
/// checks them under an empty ID and cannot be told otherwise, so it
/// refuses them: the sm2 crate is the independent check here.
#[tokio::test(flavor = "multi_thread")]
async fn issued_sm2_certificates_carry_standard_sm2_signatures() {
    let t = TestApp::with_config(|c| c.cert_algorithm = CertAlgorithm::Sm2).await;
    let leaf = issued_leaf(&t).await;
    let (root, issuing) = chain(&t).await;
    let leaf_der = leaf.to_der().unwrap();
    assert!(sm2_crate_verifies(&leaf_der, &issuing));
    assert!(!sm2_crate_verifies(&leaf_der, &root));
    assert!(sm2_crate_verifies(&issuing.to_der().unwrap(), &root));
    assert!(sm2_crate_verifies(&root.to_der().unwrap(), &root));
    let (_, crl) = get(&t, "/pki/crl").await;
    assert!(sm2_crate_verifies(&crl, &issuing));
    let (_, root_crl) = get(&t, "/pki/root.crl").await;
    assert!(sm2_crate_verifies(&root_crl, &root));
    let at = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    assert!(yuyunqian::pki::chain::sm2_trusted(
        &root.to_der().unwrap(),
        &leaf_der,
        &[issuing.to_der().unwrap()],
        at
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn ca_root_command_prints_the_served_root() {
    let t = TestApp::spawn().await;
    let (_, served) = get(&t, "/pki/root.pem").await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_yuyunqian"))
        .args(["ca", "root"])
        .env("YYQ_DATABASE_URL", t.database_url())
        .env(
            "YYQ_MASTER_KEY",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        )
        .env("YYQ_PUBLIC_BASE_URL", "http://127.0.0.1:8080")
        .env("YYQ_LOG", "error")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout, served);
}
