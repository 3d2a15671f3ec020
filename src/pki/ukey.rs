//! Checks for USB-key (UKey) certificates: parse, read what identifies them,
//! and verify a challenge signature made with the key they certify.

use chrono::{DateTime, Utc};
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::sign::Verifier;
use openssl::x509::X509;

use crate::pki::sm2;

#[derive(Debug, thiserror::Error)]
pub enum UkeyError {
    #[error("certificate is not a PEM X.509 certificate")]
    NotACertificate,
    #[error("certificate key algorithm is not supported (RSA, ECDSA P-256 or SM2)")]
    UnsupportedKey,
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
}

/// What the platform needs to know of a UKey certificate.
pub struct UkeyCertificate {
    cert: X509,
    /// SHA-256 of the DER, lowercase hex.
    pub fingerprint: String,
    pub subject_common_name: Option<String>,
    /// The subject's serialNumber attribute (a USCC on enterprise certificates).
    pub subject_serial_number: Option<String>,
    pub has_organization_identifier: bool,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl UkeyCertificate {
    pub fn from_pem(pem: &str) -> Result<Self, UkeyError> {
        let cert = X509::from_pem(pem.as_bytes()).map_err(|_| UkeyError::NotACertificate)?;
        let fingerprint = hex::encode(cert.digest(MessageDigest::sha256())?);
        let subject = cert.subject_name();
        let text_of = |nid: Nid| {
            subject
                .entries_by_nid(nid)
                .next()
                .and_then(|entry| entry.data().to_string().ok())
        };
        let subject_common_name = text_of(Nid::COMMONNAME);
        let subject_serial_number = text_of(Nid::SERIALNUMBER);
        let has_organization_identifier = subject
            .entries()
            .any(|entry| entry.object().to_string() == "2.5.4.97");
        let not_before = asn1_to_utc(cert.not_before())?;
        let not_after = asn1_to_utc(cert.not_after())?;
        Ok(Self {
            cert,
            fingerprint,
            subject_common_name,
            subject_serial_number,
            has_organization_identifier,
            not_before,
            not_after,
        })
    }

    pub fn valid_at(&self, now: DateTime<Utc>) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// PEM of the certificate as the platform stores it.
    pub fn to_pem(&self) -> Result<String, UkeyError> {
        Ok(String::from_utf8_lossy(&self.cert.to_pem()?).into_owned())
    }

    /// Whether `signature` is the certified key's signature of `message`:
    /// SHA-256 with RSA (PKCS#1 v1.5) or ECDSA P-256, or SM2 with SM3 and the
    /// standard signer ID. EC signatures may be DER or the 64-byte r||s form.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> Result<bool, UkeyError> {
        let key: PKey<Public> = self.cert.public_key()?;
        if key.id() == Id::RSA {
            return verify_digest_signature(&key, message, signature);
        }
        let signature = ec_signature_der(signature)?;
        if key.id() == Id::EC {
            return match key.ec_key()?.group().curve_name() {
                Some(Nid::X9_62_PRIME256V1) => verify_digest_signature(&key, message, &signature),
                _ => Err(UkeyError::UnsupportedKey),
            };
        }
        let spki = key.public_key_to_der()?;
        if !sm2::is_sm2(&spki) {
            return Err(UkeyError::UnsupportedKey);
        }
        sm2::verify(&spki, message, &signature).map_err(|_| UkeyError::UnsupportedKey)
    }
}

fn verify_digest_signature(
    key: &PKey<Public>,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, UkeyError> {
    let mut verifier = Verifier::new(MessageDigest::sha256(), key)?;
    verifier.update(message)?;
    // A malformed signature is simply not a valid one.
    Ok(verifier.verify(signature).unwrap_or(false))
}

/// DER as given, or the 64-byte r||s form turned into DER.
fn ec_signature_der(signature: &[u8]) -> Result<Vec<u8>, UkeyError> {
    if signature.len() == 64 {
        let r = BigNum::from_slice(&signature[..32])?;
        let s = BigNum::from_slice(&signature[32..])?;
        Ok(EcdsaSig::from_private_components(r, s)?.to_der()?)
    } else {
        Ok(signature.to_vec())
    }
}

fn asn1_to_utc(time: &openssl::asn1::Asn1TimeRef) -> Result<DateTime<Utc>, UkeyError> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0)?;
    let diff = epoch.diff(time)?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    DateTime::<Utc>::from_timestamp(secs, 0).ok_or(UkeyError::NotACertificate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::pkey::Private;
    use openssl::rsa::Rsa;
    use openssl::sign::Signer;
    use openssl::x509::{X509Builder, X509NameBuilder};

    fn self_signed(key: &PKey<Private>, cn: &str) -> X509 {
        self_signed_with(key, cn, MessageDigest::sha256())
    }

    fn self_signed_with(key: &PKey<Private>, cn: &str, digest: MessageDigest) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
        let name = name.build();
        let mut builder = X509Builder::new().unwrap();
        builder.set_version(2).unwrap();
        builder.set_subject_name(&name).unwrap();
        builder.set_issuer_name(&name).unwrap();
        builder.set_pubkey(key).unwrap();
        builder
            .set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        builder
            .set_not_after(&openssl::asn1::Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        builder.sign(key, digest).unwrap();
        builder.build()
    }

    fn sign(key: &PKey<Private>, msg: &[u8]) -> Vec<u8> {
        let mut signer = Signer::new(MessageDigest::sha256(), key).unwrap();
        signer.update(msg).unwrap();
        signer.sign_to_vec().unwrap()
    }

    #[test]
    fn ecdsa_signature_verifies_in_der_and_raw_form() {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let pem = String::from_utf8(self_signed(&key, "张三").to_pem().unwrap()).unwrap();
        let cert = UkeyCertificate::from_pem(&pem).unwrap();
        assert_eq!(cert.subject_common_name.as_deref(), Some("张三"));
        let der = sign(&key, b"nonce");
        assert!(cert.verifies(b"nonce", &der).unwrap());
        assert!(!cert.verifies(b"other", &der).unwrap());
        let sig = EcdsaSig::from_der(&der).unwrap();
        let mut raw = sig.r().to_vec_padded(32).unwrap();
        raw.extend(sig.s().to_vec_padded(32).unwrap());
        assert!(cert.verifies(b"nonce", &raw).unwrap());
        assert!(cert.valid_at(Utc::now()));
    }

    #[test]
    fn rsa_signature_verifies() {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let pem = String::from_utf8(self_signed(&key, "李四").to_pem().unwrap()).unwrap();
        let cert = UkeyCertificate::from_pem(&pem).unwrap();
        assert!(cert.verifies(b"nonce", &sign(&key, b"nonce")).unwrap());
        assert!(!cert.verifies(b"nonce", b"garbage").unwrap());
    }

    #[test]
    fn sm2_signatures_with_the_standard_id_verify() {
        let group = EcGroup::from_curve_name(Nid::SM2).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let key = PKey::from_ec_key(ec.clone()).unwrap();
        let pem = String::from_utf8(
            self_signed_with(&key, "王五", MessageDigest::sm3())
                .to_pem()
                .unwrap(),
        )
        .unwrap();
        let cert = UkeyCertificate::from_pem(&pem).unwrap();

        // Signed by the RustCrypto sm2 crate, an independent implementation.
        let secret =
            ::sm2::SecretKey::from_slice(&ec.private_key().to_vec_padded(32).unwrap()).unwrap();
        let signing = ::sm2::dsa::SigningKey::new("1234567812345678", &secret).unwrap();
        use ::sm2::dsa::signature::Signer as _;
        let signature: ::sm2::dsa::Signature = signing.sign(b"nonce");
        let raw = signature.to_bytes();
        assert!(cert.verifies(b"nonce", &raw).unwrap());
        assert!(!cert.verifies(b"other", &raw).unwrap());
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(matches!(
            UkeyCertificate::from_pem(
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
            ),
            Err(UkeyError::NotACertificate)
        ));
    }
}
