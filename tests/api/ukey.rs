//! UKey certificates: bind a personal certificate with a signed challenge,
//! then log in with it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::TimeDelta;
use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use openssl::x509::{X509Builder, X509NameBuilder};
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::test_app::{error_code, error_field};

struct Ukey {
    key: PKey<Private>,
    pem: String,
}

fn ukey(key: PKey<Private>, serial_number: Option<&str>, days: (i64, i64)) -> Ukey {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, "张三").unwrap();
    name.append_entry_by_nid(Nid::COUNTRYNAME, "CN").unwrap();
    if let Some(serial) = serial_number {
        name.append_entry_by_nid(Nid::SERIALNUMBER, serial).unwrap();
    }
    let name = name.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    let now = chrono::Utc::now().timestamp();
    builder
        .set_not_before(&Asn1Time::from_unix(now + days.0 * 86_400).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::from_unix(now + days.1 * 86_400).unwrap())
        .unwrap();
    let digest = if key.id() == openssl::pkey::Id::SM2 {
        MessageDigest::sm3()
    } else {
        MessageDigest::sha256()
    };
    builder.sign(&key, digest).unwrap();
    let pem = String::from_utf8(builder.build().to_pem().unwrap()).unwrap();
    Ukey { key, pem }
}

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

impl Ukey {
    fn sign(&self, nonce_b64: &str) -> String {
        let nonce = STANDARD.decode(nonce_b64).unwrap();
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key).unwrap();
        signer.update(&nonce).unwrap();
        STANDARD.encode(signer.sign_to_vec().unwrap())
    }
}

const CHALLENGE: &str = "mutation { createCertificateChallenge { id nonce expiresAt } }";
const BIND: &str = "mutation($id: ID!, $c: String!, $s: String!) { bindUkey(challengeId: $id, certificatePem: $c, signature: $s) { ukeyBound } }";
const LOGIN: &str = "mutation($id: ID!, $c: String!, $s: String!) { loginWithCertificate(challengeId: $id, certificatePem: $c, signature: $s) { token user { phone } } }";

async fn challenge(t: &TestApp) -> (String, String) {
    let r = t.gql(CHALLENGE, json!({})).await;
    let c = &r["data"]["createCertificateChallenge"];
    (
        c["id"].as_str().unwrap().to_owned(),
        c["nonce"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn bound_ukey_logs_in_and_each_challenge_works_once() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000201").await;
    let key = ukey(ec_key(), None, (-1, 365));

    let (id, nonce) = challenge(&t).await;
    let bound = t
        .gql_as(
            &person.token,
            BIND,
            json!({ "id": id, "c": key.pem, "s": key.sign(&nonce) }),
        )
        .await;
    assert_eq!(bound["data"]["bindUkey"]["ukeyBound"], true, "{bound}");

    let (id, nonce) = challenge(&t).await;
    let signature = key.sign(&nonce);
    let login = t
        .gql(LOGIN, json!({ "id": id, "c": key.pem, "s": signature }))
        .await;
    assert_eq!(
        login["data"]["loginWithCertificate"]["user"]["phone"], "13800000201",
        "{login}"
    );
    let replay = t
        .gql(LOGIN, json!({ "id": id, "c": key.pem, "s": signature }))
        .await;
    assert_eq!(error_field(&replay), "challengeId");

    let (id, nonce) = challenge(&t).await;
    t.app.clock.advance(TimeDelta::seconds(121));
    let expired = t
        .gql(
            LOGIN,
            json!({ "id": id, "c": key.pem, "s": key.sign(&nonce) }),
        )
        .await;
    assert_eq!(error_field(&expired), "challengeId");
}

#[tokio::test(flavor = "multi_thread")]
async fn rsa_ukeys_work_too() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000202").await;
    let key = ukey(
        PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap(),
        None,
        (-1, 365),
    );
    let (id, nonce) = challenge(&t).await;
    let bound = t
        .gql_as(
            &person.token,
            BIND,
            json!({ "id": id, "c": key.pem, "s": key.sign(&nonce) }),
        )
        .await;
    assert_eq!(bound["data"]["bindUkey"]["ukeyBound"], true, "{bound}");
    let (id, nonce) = challenge(&t).await;
    let login = t
        .gql(
            LOGIN,
            json!({ "id": id, "c": key.pem, "s": key.sign(&nonce) }),
        )
        .await;
    assert!(
        login["data"]["loginWithCertificate"]["token"].is_string(),
        "{login}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_signatures_expired_and_enterprise_certificates_are_refused() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000203").await;
    let key = ukey(ec_key(), None, (-1, 365));
    let impostor = ukey(ec_key(), None, (-1, 365));

    let (id, nonce) = challenge(&t).await;
    let wrong = t
        .gql_as(
            &person.token,
            BIND,
            json!({ "id": id, "c": key.pem, "s": impostor.sign(&nonce) }),
        )
        .await;
    assert_eq!(error_field(&wrong), "signature", "{wrong}");

    let expired = ukey(ec_key(), None, (-30, -1));
    let (id, nonce) = challenge(&t).await;
    let r = t
        .gql_as(
            &person.token,
            BIND,
            json!({ "id": id, "c": expired.pem, "s": expired.sign(&nonce) }),
        )
        .await;
    assert_eq!(error_field(&r), "certificatePem", "{r}");

    let enterprise = ukey(ec_key(), Some("91350100M000100Y43"), (-1, 365));
    let (id, nonce) = challenge(&t).await;
    let r = t
        .gql_as(
            &person.token,
            BIND,
            json!({ "id": id, "c": enterprise.pem, "s": enterprise.sign(&nonce) }),
        )
        .await;
    assert_eq!(error_field(&r), "certificatePem", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("enterprise")
    );

    // A certificate nobody bound does not log in.
    let (id, nonce) = challenge(&t).await;
    let r = t
        .gql(
            LOGIN,
            json!({ "id": id, "c": key.pem, "s": key.sign(&nonce) }),
        )
        .await;
    assert_eq!(error_code(&r), "UNAUTHENTICATED", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_certificate_binds_to_one_account() {
    let t = TestApp::spawn().await;
    let first = t.register("13800000204").await;
    let second = t.register("13800000205").await;
    let key = ukey(ec_key(), None, (-1, 365));
    let (id, nonce) = challenge(&t).await;
    t.gql_as(
        &first.token,
        BIND,
        json!({ "id": id, "c": key.pem, "s": key.sign(&nonce) }),
    )
    .await;
    let (id, nonce) = challenge(&t).await;
    let r = t
        .gql_as(
            &second.token,
            BIND,
            json!({ "id": id, "c": key.pem, "s": key.sign(&nonce) }),
        )
        .await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sm2_ukeys_bind_and_log_in() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000206").await;
    let group = EcGroup::from_curve_name(Nid::SM2).unwrap();
    let ec = EcKey::generate(&group).unwrap();
    let secret = sm2::SecretKey::from_slice(&ec.private_key().to_vec_padded(32).unwrap()).unwrap();
    let key = ukey(PKey::from_ec_key(ec).unwrap(), None, (-1, 365));
    // Signed the way SM2 UKeys sign: SM3 with the standard signer ID (RustCrypto sm2).
    let sign = |nonce_b64: &str| {
        use sm2::dsa::signature::Signer as _;
        let signing = sm2::dsa::SigningKey::new("1234567812345678", &secret).unwrap();
        let signature: sm2::dsa::Signature = signing.sign(&STANDARD.decode(nonce_b64).unwrap());
        STANDARD.encode(signature.to_bytes())
    };
    let (id, nonce) = challenge(&t).await;
    let bound = t
        .gql_as(
            &person.token,
            BIND,
            json!({ "id": id, "c": key.pem, "s": sign(&nonce) }),
        )
        .await;
    assert_eq!(bound["data"]["bindUkey"]["ukeyBound"], true, "{bound}");
    let (id, nonce) = challenge(&t).await;
    let login = t
        .gql(LOGIN, json!({ "id": id, "c": key.pem, "s": sign(&nonce) }))
        .await;
    assert!(
        login["data"]["loginWithCertificate"]["token"].is_string(),
        "{login}"
    );
}
