//! The platform's certificate authority: root, issuing CA and timestamping
//! certificate, end-entity certificates for people and enterprises (from a
//! key the platform generates or from a PKCS#10 request), and CRLs.

use chrono::{DateTime, Utc};
use der::asn1::{BitString, Ia5String};
use der::{Decode, Encode};
use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, PKey, PKeyRef, Private, Public};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, CrlNumber, ExtendedKeyUsage, KeyUsage,
    SubjectKeyIdentifier,
};
use openssl::x509::{
    X509, X509Builder, X509CrlBuilder, X509Extension, X509Name, X509NameBuilder, X509NameRef,
    X509Req, X509RevokedBuilder,
};
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::crl::CrlDistributionPoints;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("certificate request is not a valid PEM PKCS#10 request")]
    BadRequest,
    #[error("certificate request signature does not verify")]
    RequestSignature,
    #[error("certificate request key does not match the configured algorithm")]
    RequestAlgorithm,
    #[error("encoding: {0}")]
    Encoding(String),
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
}

use crate::pki::algorithms::SignatureAlgorithm;
use crate::pki::sm2;

/// The signature algorithm of the platform's certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256,
    /// SM2 with SM3 (GM/T 0003, 0004).
    Sm2,
}

impl KeyAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ECDSA_P256",
            Self::Sm2 => "SM2",
        }
    }

    /// The suite its keys sign with.
    pub fn suite(self) -> SignatureAlgorithm {
        match self {
            Self::EcdsaP256 => SignatureAlgorithm::EcdsaSha256,
            Self::Sm2 => SignatureAlgorithm::Sm2Sm3,
        }
    }

    pub fn digest(self) -> MessageDigest {
        match self {
            Self::EcdsaP256 => MessageDigest::sha256(),
            Self::Sm2 => MessageDigest::sm3(),
        }
    }

    fn curve(self) -> Nid {
        match self {
            Self::EcdsaP256 => Nid::X9_62_PRIME256V1,
            // An EC key on this curve becomes an SM2 key (not `PKey::ec_gen`).
            Self::Sm2 => Nid::SM2,
        }
    }

    pub fn generate_key(self) -> Result<PKey<Private>, CaError> {
        let group = EcGroup::from_curve_name(self.curve())?;
        Ok(PKey::from_ec_key(EcKey::generate(&group)?)?)
    }

    /// Whether `key` is a key of this algorithm.
    pub fn accepts<T: HasPublic>(self, key: &PKeyRef<T>) -> bool {
        // SM2 keys decoded by OpenSSL 3.0 do not expose an EC_KEY; their
        // SubjectPublicKeyInfo names the curve either way.
        let Ok(der) = key.public_key_to_der() else {
            return false;
        };
        let Ok(info) = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice()) else {
            return false;
        };
        let curve = info
            .algorithm
            .parameters_oid()
            .ok()
            .map(|oid| oid.to_string());
        let expected = match self {
            Self::EcdsaP256 => "1.2.840.10045.3.1.7",
            Self::Sm2 => "1.2.156.10197.1.301",
        };
        curve.as_deref() == Some(expected)
    }
}

/// A CA certificate with its private key.
pub struct CaMaterial {
    pub cert: X509,
    pub key: PKey<Private>,
}

/// Who a certificate is for.
pub struct SubjectInfo<'a> {
    pub common_name: &'a str,
    pub organization: &'a str,
    /// USCC for enterprises; a pseudonymous identifier for people.
    pub serial_number: &'a str,
}

const ROOT_YEARS: i64 = 20;
const ISSUING_YEARS: i64 = 10;
const END_ENTITY_DAYS: i64 = 365;
const PLATFORM_ORGANIZATION: &str = "豫云签电子劳动合同服务平台";

fn time(at: DateTime<Utc>) -> Result<Asn1Time, CaError> {
    Ok(Asn1Time::from_unix(at.timestamp())?)
}

/// A random positive 128-bit serial number.
fn random_serial() -> Result<Asn1Integer, CaError> {
    let mut serial = BigNum::new()?;
    // 127 random bits with the top bit clear keep the DER INTEGER positive.
    serial.rand(127, MsbOption::ONE, false)?;
    Ok(serial.to_asn1_integer()?)
}

fn name(
    common_name: &str,
    organization: &str,
    serial_number: Option<&str>,
) -> Result<X509Name, CaError> {
    let mut builder = X509NameBuilder::new()?;
    builder.append_entry_by_nid(Nid::COUNTRYNAME, "CN")?;
    builder.append_entry_by_nid(Nid::ORGANIZATIONNAME, organization)?;
    if let Some(serial) = serial_number {
        builder.append_entry_by_nid(Nid::SERIALNUMBER, serial)?;
    }
    builder.append_entry_by_nid(Nid::COMMONNAME, common_name)?;
    Ok(builder.build())
}

/// The CRL distribution point extension pointing at `url`.
fn crl_distribution_point(url: &str) -> Result<X509Extension, CaError> {
    let uri = Ia5String::new(url).map_err(|e| CaError::Encoding(e.to_string()))?;
    let points = CrlDistributionPoints(vec![DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![
            GeneralName::UniformResourceIdentifier(uri),
        ])),
        reasons: None,
        crl_issuer: None,
    }]);
    let der = points
        .to_der()
        .map_err(|e| CaError::Encoding(e.to_string()))?;
    let oid = Asn1Object::from_str("2.5.29.31")?;
    let contents = Asn1OctetString::new_from_bytes(&der)?;
    Ok(X509Extension::new_from_der(&oid, false, &contents)?)
}

struct Validity {
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

fn builder(
    subject: &X509NameRef,
    issuer: &X509NameRef,
    public_key: &PKeyRef<impl HasPublic>,
    validity: &Validity,
) -> Result<X509Builder, CaError> {
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let serial = random_serial()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(subject)?;
    builder.set_issuer_name(issuer)?;
    builder.set_pubkey(public_key)?;
    let (not_before, not_after) = (time(validity.not_before)?, time(validity.not_after)?);
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    Ok(builder)
}

fn encoding(error: der::Error) -> CaError {
    CaError::Encoding(error.to_string())
}

fn sm2_signature(key: &PKeyRef<Private>, tbs: &[u8]) -> Result<BitString, CaError> {
    let signature = sm2::sign(key, tbs).map_err(|e| CaError::Encoding(e.to_string()))?;
    BitString::from_bytes(&signature).map_err(encoding)
}

/// The certificate signed by `key`. OpenSSL 3.0 signs SM2 under an empty
/// signer ID; SM2 certificates get their signature made again under the
/// standard ID (GM/T 0015), which SM2 software checks (`chain` does here).
fn signed(
    mut b: X509Builder,
    key: &PKeyRef<Private>,
    algorithm: KeyAlgorithm,
) -> Result<X509, CaError> {
    b.sign(key, algorithm.digest())?;
    let cert = b.build();
    match algorithm {
        KeyAlgorithm::EcdsaP256 => Ok(cert),
        KeyAlgorithm::Sm2 => {
            let mut parsed = x509_cert::Certificate::from_der(&cert.to_der()?).map_err(encoding)?;
            let tbs = parsed.tbs_certificate.to_der().map_err(encoding)?;
            parsed.signature = sm2_signature(key, &tbs)?;
            Ok(X509::from_der(&parsed.to_der().map_err(encoding)?)?)
        }
    }
}

fn years(now: DateTime<Utc>, years: i64) -> DateTime<Utc> {
    now + chrono::TimeDelta::days(365 * years + years / 4)
}

/// A self-signed root CA valid 20 years.
pub fn new_root(algorithm: KeyAlgorithm, now: DateTime<Utc>) -> Result<CaMaterial, CaError> {
    let key = algorithm.generate_key()?;
    let subject = name("豫云签根证书", PLATFORM_ORGANIZATION, None)?;
    let validity = Validity {
        not_before: now - chrono::TimeDelta::minutes(5),
        not_after: years(now, ROOT_YEARS),
    };
    let mut b = builder(&subject, &subject, &key, &validity)?;
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    let cert = signed(b, &key, algorithm)?;
    Ok(CaMaterial { cert, key })
}

/// An issuing CA under `root`, valid 10 years, that may not issue CAs.
/// The issuing CA, under the root; its revocation status is in the root's
/// CRL at `root_crl_url` (validators need it for long-term validation).
pub fn new_issuing(
    root: &CaMaterial,
    algorithm: KeyAlgorithm,
    root_crl_url: &str,
    now: DateTime<Utc>,
) -> Result<CaMaterial, CaError> {
    let key = algorithm.generate_key()?;
    let subject = name("豫云签签发证书", PLATFORM_ORGANIZATION, None)?;
    let validity = Validity {
        not_before: now - chrono::TimeDelta::minutes(5),
        not_after: years(now, ISSUING_YEARS),
    };
    let mut b = builder(&subject, root.cert.subject_name(), &key, &validity)?;
    b.append_extension(BasicConstraints::new().critical().ca().pathlen(0).build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&root.cert), None))?;
    b.append_extension(ski)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&b.x509v3_context(Some(&root.cert), None))?;
    b.append_extension(aki)?;
    b.append_extension(crl_distribution_point(root_crl_url)?)?;
    let cert = signed(b, &root.key, algorithm)?;
    Ok(CaMaterial { cert, key })
}

/// The timestamping authority's certificate (critical EKU timeStamping),
/// valid as long as the issuing CA.
pub fn new_tsa(
    issuing: &CaMaterial,
    algorithm: KeyAlgorithm,
    crl_url: &str,
    now: DateTime<Utc>,
) -> Result<CaMaterial, CaError> {
    let key = algorithm.generate_key()?;
    let subject = name("豫云签时间戳服务", PLATFORM_ORGANIZATION, None)?;
    let not_after = asn1_to_utc(issuing.cert.not_after())?;
    let validity = Validity {
        not_before: now - chrono::TimeDelta::minutes(5),
        not_after,
    };
    let mut b = builder(&subject, issuing.cert.subject_name(), &key, &validity)?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .non_repudiation()
            .build()?,
    )?;
    b.append_extension(ExtendedKeyUsage::new().critical().time_stamping().build()?)?;
    append_end_entity_ids(&mut b, issuing, crl_url)?;
    let cert = signed(b, &issuing.key, algorithm)?;
    Ok(CaMaterial { cert, key })
}

fn append_end_entity_ids(
    b: &mut X509Builder,
    issuing: &CaMaterial,
    crl_url: &str,
) -> Result<(), CaError> {
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&issuing.cert), None))?;
    b.append_extension(ski)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&b.x509v3_context(Some(&issuing.cert), None))?;
    b.append_extension(aki)?;
    b.append_extension(crl_distribution_point(crl_url)?)?;
    Ok(())
}

/// A one-year signing certificate for `public_key`: keyUsage
/// digitalSignature + nonRepudiation, CRL distribution point `crl_url`.
pub fn issue_end_entity(
    issuing: &CaMaterial,
    algorithm: KeyAlgorithm,
    subject: &SubjectInfo<'_>,
    public_key: &PKeyRef<impl HasPublic>,
    crl_url: &str,
    now: DateTime<Utc>,
) -> Result<X509, CaError> {
    if !algorithm.accepts(public_key) {
        return Err(CaError::RequestAlgorithm);
    }
    let subject_name = name(
        subject.common_name,
        subject.organization,
        Some(subject.serial_number),
    )?;
    let issuer_end = asn1_to_utc(issuing.cert.not_after())?;
    let validity = Validity {
        not_before: now - chrono::TimeDelta::minutes(5),
        not_after: (now + chrono::TimeDelta::days(END_ENTITY_DAYS)).min(issuer_end),
    };
    let mut b = builder(
        &subject_name,
        issuing.cert.subject_name(),
        public_key,
        &validity,
    )?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .non_repudiation()
            .build()?,
    )?;
    append_end_entity_ids(&mut b, issuing, crl_url)?;
    signed(b, &issuing.key, algorithm)
}

/// The public key of a PKCS#10 request whose self-signature verifies. An
/// SM2 request may be signed under the standard signer ID (UKeys, SM2
/// software) or the empty one (OpenSSL 3.0's default): either proves the
/// key is held.
pub fn request_public_key(csr_pem: &str) -> Result<PKey<Public>, CaError> {
    let request = X509Req::from_pem(csr_pem.as_bytes()).map_err(|_| CaError::BadRequest)?;
    let key = request.public_key().map_err(|_| CaError::BadRequest)?;
    if request.verify(&key).unwrap_or(false) || standard_sm2_request(&request, &key) {
        return Ok(key);
    }
    Err(CaError::RequestSignature)
}

fn standard_sm2_request(request: &X509Req, key: &PKeyRef<Public>) -> bool {
    (|| {
        let spki = key.public_key_to_der().ok()?;
        if !sm2::is_sm2(&spki) {
            return None;
        }
        let parsed = x509_cert::request::CertReq::from_der(&request.to_der().ok()?).ok()?;
        let info = parsed.info.to_der().ok()?;
        sm2::verify(&spki, &info, parsed.signature.as_bytes()?).ok()
    })()
    .unwrap_or(false)
}

/// A revoked certificate as the CRL lists it.
pub struct RevokedEntry {
    pub serial_hex: String,
    pub revoked_at: DateTime<Utc>,
}

/// A CRL (DER) signed by `issuing` (the issuing CA, or the root for the
/// CRL of CA certificates), valid until `next_update`.
pub fn build_crl(
    issuing: &CaMaterial,
    algorithm: KeyAlgorithm,
    revoked: &[RevokedEntry],
    now: DateTime<Utc>,
    next_update: DateTime<Utc>,
) -> Result<Vec<u8>, CaError> {
    // A v2 CRL with the issuer's key identifier and a CRL number (RFC 5280
    // 5.2.1, 5.2.3); the number is the issue time, so it only grows.
    let mut crl = X509CrlBuilder::new()?;
    crl.set_issuer_name(issuing.cert.subject_name())?;
    let (last_update, next_update) = (time(now)?, time(next_update)?);
    crl.set_last_update(&last_update)?;
    crl.set_next_update(&next_update)?;
    for entry in revoked {
        let mut item = X509RevokedBuilder::new()?;
        let serial = BigNum::from_hex_str(&entry.serial_hex)?.to_asn1_integer()?;
        item.set_serial_number(&serial)?;
        let revoked_at = time(entry.revoked_at)?;
        item.set_revocation_date(&revoked_at)?;
        crl.add_revoked(item.build())?;
    }
    let context_only = X509Builder::new()?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&context_only.x509v3_context(Some(&issuing.cert), None))?;
    crl.append_extension(aki)?;
    let number = BigNum::from_dec_str(&now.timestamp().max(0).to_string())?;
    crl.append_extension(CrlNumber::new(number)?.build()?)?;
    crl.sort()?;
    crl.sign(&issuing.key, algorithm.digest())?;
    let der = crl.build()?.to_der()?;
    match algorithm {
        KeyAlgorithm::EcdsaP256 => Ok(der),
        KeyAlgorithm::Sm2 => {
            let mut list = CertificateList::from_der(&der).map_err(encoding)?;
            let tbs = list.tbs_cert_list.to_der().map_err(encoding)?;
            list.signature = sm2_signature(&issuing.key, &tbs)?;
            list.to_der().map_err(encoding)
        }
    }
}

/// The serial number of `cert` as uppercase hex (how CRLs and the API show it).
pub fn serial_hex(cert: &X509) -> Result<String, CaError> {
    Ok(cert.serial_number().to_bn()?.to_hex_str()?.to_string())
}

pub fn asn1_to_utc(time: &openssl::asn1::Asn1TimeRef) -> Result<DateTime<Utc>, CaError> {
    let epoch = Asn1Time::from_unix(0)?;
    let diff = epoch.diff(time)?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    DateTime::<Utc>::from_timestamp(secs, 0).ok_or(CaError::Encoding("time out of range".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::stack::Stack;
    use openssl::x509::X509Crl;
    use openssl::x509::X509StoreContext;
    use openssl::x509::store::X509StoreBuilder;

    fn chain_verifies(root: &X509, issuing: &X509, leaf: &X509) -> bool {
        let mut store = X509StoreBuilder::new().unwrap();
        store.add_cert(root.clone()).unwrap();
        let store = store.build();
        let mut untrusted = Stack::new().unwrap();
        untrusted.push(issuing.clone()).unwrap();
        let mut ctx = X509StoreContext::new().unwrap();
        ctx.init(&store, leaf, &untrusted, |c| c.verify_cert())
            .unwrap()
    }

    /// Whether the RustCrypto sm2 crate, an implementation independent of
    /// OpenSSL, accepts the signature of a certificate or CRL (DER) by
    /// `issuer`'s key under the standard signer ID.
    fn sm2_crate_verifies(der: &[u8], issuer: &X509) -> bool {
        use ::sm2::dsa::signature::Verifier as _;
        let spki = issuer.public_key().unwrap().public_key_to_der().unwrap();
        let info = spki::SubjectPublicKeyInfoRef::try_from(spki.as_slice()).unwrap();
        let point = info.subject_public_key.as_bytes().unwrap();
        let key = ::sm2::dsa::VerifyingKey::from_sec1_bytes("1234567812345678", point).unwrap();
        let (tbs, signature) = match x509_cert::Certificate::from_der(der) {
            Ok(cert) => (cert.tbs_certificate.to_der().unwrap(), cert.signature),
            Err(_) => {
                let list = CertificateList::from_der(der).unwrap();
                (list.tbs_cert_list.to_der().unwrap(), list.signature)
            }
        };
        let sig = openssl::ecdsa::EcdsaSig::from_der(signature.as_bytes().unwrap()).unwrap();
        let mut raw = sig.r().to_vec_padded(32).unwrap();
        raw.extend(sig.s().to_vec_padded(32).unwrap());
        key.verify(&tbs, &::sm2::dsa::Signature::from_slice(&raw).unwrap())
            .is_ok()
    }

    #[test]
    fn sm2_crls_carry_standard_signatures() {
        let now = Utc::now();
        let root = new_root(KeyAlgorithm::Sm2, now).unwrap();
        let der = build_crl(&root, KeyAlgorithm::Sm2, &[], now, now).unwrap();
        assert!(sm2_crate_verifies(&der, &root.cert));
        let other = new_root(KeyAlgorithm::Sm2, now).unwrap();
        assert!(!sm2_crate_verifies(&der, &other.cert));
    }

    /// A certificate request for 某公司, signed by its own key as OpenSSL
    /// signs (an SM2 key under the empty ID).
    fn self_signed_request(key: &PKey<Private>, digest: MessageDigest) -> X509Req {
        let mut req = openssl::x509::X509ReqBuilder::new().unwrap();
        req.set_pubkey(key).unwrap();
        req.set_subject_name(&name("某公司", "某公司", None).unwrap())
            .unwrap();
        req.sign(key, digest).unwrap();
        req.build()
    }

    #[test]
    fn sm2_requests_signed_under_the_standard_id_are_taken() {
        let key = KeyAlgorithm::Sm2.generate_key().unwrap();
        let openssl_signed = self_signed_request(&key, MessageDigest::sm3());
        // OpenSSL's own (empty ID) request.
        let pem = String::from_utf8(openssl_signed.to_pem().unwrap()).unwrap();
        assert!(request_public_key(&pem).unwrap().public_eq(&key));
        // The same request signed under the standard ID, as a UKey signs.
        let mut parsed =
            x509_cert::request::CertReq::from_der(&openssl_signed.to_der().unwrap()).unwrap();
        let info = parsed.info.to_der().unwrap();
        parsed.signature = BitString::from_bytes(&sm2::sign(&key, &info).unwrap()).unwrap();
        let standard = X509Req::from_der(&parsed.to_der().unwrap()).unwrap();
        let pem = String::from_utf8(standard.to_pem().unwrap()).unwrap();
        assert!(request_public_key(&pem).unwrap().public_eq(&key));
        // A signature over something else is not taken.
        parsed.signature = BitString::from_bytes(&sm2::sign(&key, b"other").unwrap()).unwrap();
        let forged = X509Req::from_der(&parsed.to_der().unwrap()).unwrap();
        let pem = String::from_utf8(forged.to_pem().unwrap()).unwrap();
        assert!(matches!(
            request_public_key(&pem),
            Err(CaError::RequestSignature)
        ));
    }

    fn person<'a>() -> SubjectInfo<'a> {
        SubjectInfo {
            common_name: "张三",
            organization: "个人用户",
            serial_number: "P0123456789abcdef",
        }
    }

    #[test]
    fn issued_certificates_chain_to_the_root_for_both_algorithms() {
        for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Sm2] {
            let now = Utc::now();
            let root = new_root(algorithm, now).unwrap();
            let issuing =
                new_issuing(&root, algorithm, "http://127.0.0.1/pki/root.crl", now).unwrap();
            let key = algorithm.generate_key().unwrap();
            let leaf = issue_end_entity(
                &issuing,
                algorithm,
                &person(),
                &key,
                "http://x/pki/crl",
                now,
            )
            .unwrap();
            let tsa = new_tsa(&issuing, algorithm, "http://x/pki/crl", now).unwrap();
            match algorithm {
                KeyAlgorithm::EcdsaP256 => {
                    assert!(chain_verifies(&root.cert, &issuing.cert, &leaf));
                    assert!(chain_verifies(&root.cert, &issuing.cert, &tsa.cert));
                }
                KeyAlgorithm::Sm2 => {
                    let (root_der, issuing_der) =
                        (root.cert.to_der().unwrap(), issuing.cert.to_der().unwrap());
                    let at = u64::try_from(now.timestamp()).unwrap();
                    for cert in [&leaf, &tsa.cert] {
                        let der = cert.to_der().unwrap();
                        assert!(crate::pki::chain::sm2_trusted(
                            &root_der,
                            &der,
                            std::slice::from_ref(&issuing_der),
                            at
                        ));
                        assert!(sm2_crate_verifies(&der, &issuing.cert));
                        // Not without the issuing CA, not before it is valid.
                        assert!(!crate::pki::chain::sm2_trusted(&root_der, &der, &[], at));
                        assert!(!crate::pki::chain::sm2_trusted(
                            &root_der,
                            &der,
                            std::slice::from_ref(&issuing_der),
                            at - 3600
                        ));
                    }
                    assert!(sm2_crate_verifies(&issuing_der, &root.cert));
                    assert!(sm2_crate_verifies(&root_der, &root.cert));
                    // Another root does not anchor it.
                    let other = new_root(algorithm, now).unwrap().cert.to_der().unwrap();
                    assert!(!crate::pki::chain::sm2_trusted(
                        &other,
                        &leaf.to_der().unwrap(),
                        std::slice::from_ref(&issuing_der),
                        at
                    ));
                }
            }
            let text = String::from_utf8(leaf.to_text().unwrap()).unwrap();
            assert!(
                text.contains("Digital Signature, Non Repudiation"),
                "{text}"
            );
            assert!(text.contains("URI:http://x/pki/crl"), "{text}");
        }
    }

    #[test]
    fn serials_are_random_and_positive() {
        let now = Utc::now();
        let root = new_root(KeyAlgorithm::EcdsaP256, now).unwrap();
        let issuing = new_issuing(
            &root,
            KeyAlgorithm::EcdsaP256,
            "http://127.0.0.1/pki/root.crl",
            now,
        )
        .unwrap();
        assert_ne!(
            serial_hex(&root.cert).unwrap(),
            serial_hex(&issuing.cert).unwrap()
        );
        let serial = issuing.cert.serial_number().to_bn().unwrap();
        assert!(serial.num_bits() > 100 && serial.num_bits() <= 128);
        assert!(!serial.is_negative());
    }

    #[test]
    fn a_request_for_the_other_algorithm_is_refused() {
        let now = Utc::now();
        let root = new_root(KeyAlgorithm::EcdsaP256, now).unwrap();
        let issuing = new_issuing(
            &root,
            KeyAlgorithm::EcdsaP256,
            "http://127.0.0.1/pki/root.crl",
            now,
        )
        .unwrap();
        let sm2 = KeyAlgorithm::Sm2.generate_key().unwrap();
        assert!(matches!(
            issue_end_entity(
                &issuing,
                KeyAlgorithm::EcdsaP256,
                &person(),
                &sm2,
                "http://x",
                now
            ),
            Err(CaError::RequestAlgorithm)
        ));
    }

    #[test]
    fn csr_keys_are_taken_only_with_a_valid_self_signature() {
        let key = KeyAlgorithm::EcdsaP256.generate_key().unwrap();
        let req = self_signed_request(&key, MessageDigest::sha256());
        let pem = String::from_utf8(req.to_pem().unwrap()).unwrap();
        let public = request_public_key(&pem).unwrap();
        assert!(public.public_eq(&key));
        assert!(matches!(
            request_public_key("junk"),
            Err(CaError::BadRequest)
        ));
    }

    #[test]
    fn crl_lists_revoked_serials_and_verifies_with_the_issuing_key() {
        let now = Utc::now();
        let root = new_root(KeyAlgorithm::EcdsaP256, now).unwrap();
        let issuing = new_issuing(
            &root,
            KeyAlgorithm::EcdsaP256,
            "http://127.0.0.1/pki/root.crl",
            now,
        )
        .unwrap();
        let key = KeyAlgorithm::EcdsaP256.generate_key().unwrap();
        let leaf = issue_end_entity(
            &issuing,
            KeyAlgorithm::EcdsaP256,
            &person(),
            &key,
            "http://x",
            now,
        )
        .unwrap();
        let revoked = [RevokedEntry {
            serial_hex: serial_hex(&leaf).unwrap(),
            revoked_at: now,
        }];
        let der = build_crl(
            &issuing,
            KeyAlgorithm::EcdsaP256,
            &revoked,
            now,
            now + chrono::TimeDelta::days(1),
        )
        .unwrap();
        let crl = X509Crl::from_der(&der).unwrap();
        assert!(crl.verify(&issuing.key).unwrap());
        assert!(matches!(
            crl.get_by_cert(&leaf),
            openssl::x509::CrlStatus::Revoked(_)
        ));
    }
}
