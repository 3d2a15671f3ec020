//! SM2 with SM3 (国密) end to end: a platform whose CA runs on SM2 signs a
//! contract through the API. Our verifier accepts it; the RustCrypto sm2
//! and sm3 crates, implementations independent of OpenSSL, accept every
//! signature, certificate binding and timestamp in it; a changed byte
//! fails it. (pyHanko, pdfsig and OpenSSL 3.0 have no SM2 PAdES support.)

use cms::signed_data::{SignedData, SignerInfo};
use der::Encode;
use der::asn1::OctetString;
use sm2::dsa::signature::Verifier as _;
use sm3::Digest as _;
use x509_cert::Certificate;

use crate::helpers::TestApp;
use crate::signing::{documents, employee_signs, enterprise_signs, ok, scene};
use crate::verification::{signer_names, verify};
use yuyunqian::config::CertAlgorithm;
use yuyunqian::pdf::signatures::SubFilter;
use yuyunqian::pki::cms::{
    ID_MESSAGE_DIGEST, ID_SIGNATURE_TIME_STAMP, ID_SIGNING_CERTIFICATE_V2, SigningCertificateV2,
    attribute_value, parse_signed_data,
};

const SM3: &str = "1.2.156.10197.1.401";
const SM2_WITH_SM3: &str = "1.2.156.10197.1.501";

fn sm3(parts: &[&[u8]]) -> Vec<u8> {
    let mut hasher = sm3::Sm3::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().to_vec()
}

/// The certificate of the SignedData's only signer.
fn signer_certificate(data: &SignedData, signer: &SignerInfo) -> Certificate {
    let cms::signed_data::SignerIdentifier::IssuerAndSerialNumber(id) = &signer.sid else {
        panic!("signer named by key identifier");
    };
    data.certificates
        .as_ref()
        .unwrap()
        .0
        .iter()
        .find_map(|choice| match choice {
            cms::cert::CertificateChoices::Certificate(c)
                if c.tbs_certificate.serial_number == id.serial_number =>
            {
                Some(c.clone())
            }
            _ => None,
        })
        .unwrap()
}

/// The sm2 crate's verdict on a DER signature of `message` by `cert`'s key,
/// under the standard signer ID.
fn sm2_accepts(cert: &Certificate, message: &[u8], signature_der: &[u8]) -> bool {
    let point = cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .as_bytes()
        .unwrap();
    let key = sm2::dsa::VerifyingKey::from_sec1_bytes("1234567812345678", point).unwrap();
    let sig = openssl::ecdsa::EcdsaSig::from_der(signature_der).unwrap();
    let mut raw = sig.r().to_vec_padded(32).unwrap();
    raw.extend(sig.s().to_vec_padded(32).unwrap());
    key.verify(message, &sm2::dsa::Signature::from_slice(&raw).unwrap())
        .is_ok()
}

/// Checks one SignerInfo the way SM2 software would: SM3 and SM2-with-SM3
/// declared, messageDigest = SM3(`content`), the ESS binding an SM3 hash of
/// the signer's certificate, the SM2 signature over the signed attributes.
fn check_signer_info(data: &SignedData, content: &[&[u8]]) -> (Certificate, SignerInfo) {
    let signer = data.signer_infos.0.iter().next().unwrap().clone();
    assert_eq!(signer.digest_alg.oid.to_string(), SM3);
    assert_eq!(signer.signature_algorithm.oid.to_string(), SM2_WITH_SM3);
    let attributes = signer.signed_attrs.as_ref().unwrap();
    let digest = attribute_value(attributes, ID_MESSAGE_DIGEST)
        .unwrap()
        .decode_as::<OctetString>()
        .unwrap();
    assert_eq!(digest.as_bytes(), sm3(content).as_slice());
    let cert = signer_certificate(data, &signer);
    let binding = attribute_value(attributes, ID_SIGNING_CERTIFICATE_V2)
        .unwrap()
        .decode_as::<SigningCertificateV2>()
        .unwrap();
    let id = &binding.certs[0];
    assert_eq!(id.hash_algorithm.as_ref().unwrap().oid.to_string(), SM3);
    assert_eq!(
        id.cert_hash.as_bytes(),
        sm3(&[&cert.to_der().unwrap()]).as_slice()
    );
    let signed = attributes.to_der().unwrap();
    assert!(sm2_accepts(&cert, &signed, signer.signature.as_bytes()));
    assert!(!sm2_accepts(
        &cert,
        b"something else",
        signer.signature.as_bytes()
    ));
    (cert, signer)
}

/// A timestamp token over SM3(`stamped`), signed with SM2 by the
/// platform TSA.
fn check_token(token: &[u8], stamped: &[&[u8]]) {
    let data = parse_signed_data(token).unwrap();
    let info = yuyunqian::pki::tsa::token_info(token).unwrap();
    assert_eq!(info.message_imprint.hash_algorithm.oid.to_string(), SM3);
    assert_eq!(
        info.message_imprint.hashed_message.as_bytes(),
        sm3(stamped).as_slice()
    );
    let tst = data
        .encap_content_info
        .econtent
        .as_ref()
        .unwrap()
        .decode_as::<OctetString>()
        .unwrap();
    let (tsa, _) = check_signer_info(&data, &[tst.as_bytes()]);
    let name = tsa.tbs_certificate.subject.to_string();
    assert!(name.contains("时间戳"), "{name}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sm2_platform_signs_contracts_that_sm2_software_accepts() {
    let t = TestApp::with_config(|c| c.cert_algorithm = CertAlgorithm::Sm2).await;
    let s = scene(&t, "13800020801", "13500020801").await;
    let r = employee_signs(&t, &s.employee, &s.task, "13500020801").await;
    ok(&r, "signTask");
    let r = enterprise_signs(&t, &s.c.admin, &s.c.enterprise, &s.task).await;
    assert_eq!(ok(&r, "signTask")["status"], "COMPLETED");
    let completed = documents(&t, &s.task).await.remove(0);

    let report = verify(&t, &completed).await;
    assert_eq!(report["verdict"], "TOTAL_PASSED", "{report}");
    let signatures = report["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 3, "{report}");
    assert!(signatures.iter().all(|s| s["verdict"] == "TOTAL_PASSED"));
    assert_eq!(
        signer_names(&report),
        ["张三", "郑州签署科技有限公司"],
        "{report}"
    );

    // Every signature, checked without OpenSSL's SM2.
    let document =
        yuyunqian::pdf::input::load(&completed, &yuyunqian::pdf::input::Limits::default()).unwrap();
    let found = yuyunqian::pdf::signatures::find(&document).unwrap();
    assert_eq!(found.len(), 3);
    for signature in &found {
        let [0, b, c, d] = signature.byte_range[..] else {
            panic!("{:?}", signature.byte_range);
        };
        let (b, c, d) = (b as usize, c as usize, d as usize);
        let ranges: [&[u8]; 2] = [&completed[..b], &completed[c..c + d]];
        if signature.sub_filter == SubFilter::DocumentTimestamp {
            check_token(&signature.cms, &ranges);
            continue;
        }
        let data = parse_signed_data(&signature.cms).unwrap();
        let (cert, signer) = check_signer_info(&data, &ranges);
        assert_eq!(cert.signature_algorithm.oid.to_string(), SM2_WITH_SM3);
        let token = attribute_value(
            signer.unsigned_attrs.as_ref().unwrap(),
            ID_SIGNATURE_TIME_STAMP,
        )
        .unwrap()
        .to_der()
        .unwrap();
        check_token(&token, &[signer.signature.as_bytes()]);
    }

    // One changed byte in the first signed range (a space made a line
    // break: the file still parses) fails every signature.
    let mut tampered = completed.clone();
    let at = tampered.windows(6).position(|w| w == b" 0 obj").unwrap();
    tampered[at] = b'\n';
    let report = verify(&t, &tampered).await;
    assert_eq!(report["verdict"], "TOTAL_FAILED", "{report}");
    assert_eq!(report["subIndication"], "HASH_FAILURE", "{report}");
}
