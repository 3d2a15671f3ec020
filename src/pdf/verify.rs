//! The report on every signature of a document, in the verdicts of ETSI EN
//! 319 102-1: each ByteRange is checked to be four integers from 0 whose gap
//! is exactly the /Contents string, each digest is recomputed, the CMS
//! signature and the ESS certificate binding are checked, the chain must
//! reach the platform root (at the timestamp's time, against the given
//! CRLs), and the timestamp token must stamp the signature. Bytes after the
//! last signature fail the document, unless they only add validation data
//! (a DSS), which leaves it indeterminate.

use chrono::{DateTime, TimeZone, Utc};
use der::asn1::OctetString;
use der::{Decode, Encode};
use lopdf::{Document, Object};
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{PKey, Public};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509, X509Crl, X509StoreContext};
use x509_cert::Certificate;

use cms::cert::CertificateChoices;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};

use crate::pdf::PdfError;
use crate::pdf::input::{self, Limits};
use crate::pdf::signatures::{self, FoundSignature, SubFilter};
use crate::pki::algorithms::{Digest, SignatureAlgorithm};
use crate::pki::chain;
use crate::pki::cms::{
    ID_MESSAGE_DIGEST, ID_SIGNATURE_TIME_STAMP, ID_SIGNING_CERTIFICATE_V2, SigningCertificateV2,
    attribute_value, parse_signed_data,
};
use crate::pki::tsa::token_info;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    TotalPassed,
    Indeterminate,
    TotalFailed,
}

/// What validation trusts: the platform root and current CRLs (DER).
pub struct Trust<'a> {
    pub root: &'a [u8],
    pub crls: &'a [Vec<u8>],
}

#[derive(Debug, Clone)]
pub struct SignatureReport {
    pub field: String,
    pub document_timestamp: bool,
    pub verdict: Verdict,
    pub sub_indication: Option<&'static str>,
    pub signer_name: String,
    pub organization: Option<String>,
    pub certificate_subject: String,
    pub serial_hex: String,
    pub claimed_time: Option<DateTime<Utc>>,
    pub timestamped_at: Option<DateTime<Utc>>,
    pub digest_valid: bool,
    pub signature_valid: bool,
    pub chain_trusted: bool,
    pub certificate_valid_at_signing: bool,
    pub covers_whole_revision: bool,
    /// Where the signed revision ends.
    pub revision_end: usize,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub verdict: Verdict,
    pub sub_indication: Option<&'static str>,
    pub platform_document: bool,
    pub modified_after_last_signature: bool,
    pub signatures: Vec<SignatureReport>,
}

/// A certificate with its public key.
type Parsed = (X509, Option<PKey<Public>>);

thread_local! {
    /// Parsed certificates by the SHA-256 of their DER: OpenSSL 3 decodes
    /// slowly, and the platform's chain repeats in every document.
    static PARSED: std::cell::RefCell<std::collections::HashMap<Vec<u8>, Parsed>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// The certificate and its public key, parsed once per thread.
fn parsed(der: &[u8]) -> Option<Parsed> {
    let key = hash(MessageDigest::sha256(), der).ok()?.to_vec();
    if let Some(hit) = PARSED.with(|cache| cache.borrow().get(&key).cloned()) {
        return Some(hit);
    }
    let cert = X509::from_der(der).ok()?;
    let public = cert.public_key().ok();
    PARSED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(key, (cert.clone(), public.clone()));
    });
    Some((cert, public))
}

/// The two signed ranges when the ByteRange is well formed: four integers
/// starting at 0, the gap exactly a hex string in `<...>`.
fn checked_ranges(bytes: &[u8], range: &[i64]) -> Option<(usize, usize, usize)> {
    let [0, b, c, d] = range else { return None };
    let (b, c, d) = (
        usize::try_from(*b).ok()?,
        usize::try_from(*c).ok()?,
        usize::try_from(*d).ok()?,
    );
    let end = c.checked_add(d)?;
    if b + 2 > c || end > bytes.len() || bytes[b] != b'<' || bytes[c - 1] != b'>' {
        return None;
    }
    if !bytes[b + 1..c - 1].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    Some((b, c, end))
}

/// Whether `end` is where a revision ends (after `%%EOF` and its EOL).
fn is_revision_end(bytes: &[u8], end: usize) -> bool {
    let head = &bytes[..end];
    let trimmed = head
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    head[..trimmed].ends_with(b"%%EOF") && end - trimmed <= 2
}

/// The digest algorithm a SignerInfo declares, if the platform knows it.
fn digest_of(info: &SignerInfo) -> Option<Digest> {
    Digest::from_oid(&info.digest_alg.oid)
}

fn certificates_of(data: &SignedData) -> Vec<Vec<u8>> {
    data.certificates
        .as_ref()
        .map(|set| {
            set.0
                .iter()
                .filter_map(|choice| match choice {
                    CertificateChoices::Certificate(cert) => cert.to_der().ok(),
                    CertificateChoices::Other(_) => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The signer's certificate (DER) among `certificates`.
fn signer_certificate(info: &SignerInfo, certificates: &[Vec<u8>]) -> Option<Vec<u8>> {
    let SignerIdentifier::IssuerAndSerialNumber(id) = &info.sid else {
        return None;
    };
    certificates
        .iter()
        .find(|der| {
            Certificate::from_der(der).is_ok_and(|c| {
                c.tbs_certificate.issuer == id.issuer
                    && c.tbs_certificate.serial_number == id.serial_number
            })
        })
        .cloned()
}

/// The signer's signature over the signed attributes (in the algorithm the
/// SignerInfo names, which must fit the key), the ESS binding to the
/// signer's certificate, and the messageDigest; (signature and binding
/// valid, digest matches).
fn check_signer(info: &SignerInfo, signer_der: &[u8], digest: &[u8]) -> (bool, bool) {
    let Some(attributes) = &info.signed_attrs else {
        return (false, false);
    };
    let digest_valid = attribute_value(attributes, ID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .is_some_and(|d| d.as_bytes() == digest);
    let binding = attribute_value(attributes, ID_SIGNING_CERTIFICATE_V2)
        .and_then(|v| v.decode_as::<SigningCertificateV2>().ok())
        .and_then(|s| s.certs.first().cloned())
        .is_some_and(|id| {
            // Absent means the DEFAULT, SHA-256.
            let algorithm = match &id.hash_algorithm {
                None => Some(Digest::Sha256),
                Some(a) => Digest::from_oid(&a.oid),
            };
            algorithm
                .and_then(|a| a.hash(&[signer_der]).ok())
                .is_some_and(|h| id.cert_hash.as_bytes() == &h[..])
        });
    let signature_valid = (|| {
        let algorithm = SignatureAlgorithm::from_oid(&info.signature_algorithm.oid)?;
        if digest_of(info) != Some(algorithm.digest()) {
            return None;
        }
        let key = parsed(signer_der)?.1?;
        let signed = attributes.to_der().ok()?;
        Some(algorithm.verify(&key, &signed, info.signature.as_bytes()))
    })()
    .unwrap_or(false);
    (signature_valid && binding, digest_valid)
}

/// Whether `leaf` chains to the root through `others`, at `at`.
fn chain_trusted(trust: &Trust<'_>, leaf: &[u8], others: &[Vec<u8>], at: DateTime<Utc>) -> bool {
    let sm2 = Certificate::from_der(leaf)
        .is_ok_and(|c| c.signature_algorithm.oid == SignatureAlgorithm::Sm2Sm3.oid());
    if sm2 {
        let at = u64::try_from(at.timestamp()).unwrap_or(0);
        return chain::sm2_trusted(trust.root, leaf, others, at);
    }
    (|| {
        let root = parsed(trust.root)?.0;
        let leaf = parsed(leaf)?.0;
        let mut store = X509StoreBuilder::new().ok()?;
        store.add_cert(root).ok()?;
        let mut param = openssl::x509::verify::X509VerifyParam::new().ok()?;
        param.set_time(at.timestamp());
        store.set_param(&param).ok()?;
        let store = store.build();
        let mut chain = Stack::new().ok()?;
        for der in others {
            chain.push(parsed(der)?.0).ok()?;
        }
        let mut context = X509StoreContext::new().ok()?;
        context
            .init(&store, &leaf, &chain, |c| c.verify_cert())
            .ok()
    })()
    .unwrap_or(false)
}

/// Valid at `at` and not revoked by then according to `crls`.
fn valid_at(trust: &Trust<'_>, der: &[u8], at: DateTime<Utc>) -> bool {
    let Some((cert, _)) = parsed(der) else {
        return false;
    };
    let Ok(parsed) = Certificate::from_der(der) else {
        return false;
    };
    let validity = &parsed.tbs_certificate.validity;
    let (from, to) = (
        validity.not_before.to_unix_duration().as_secs(),
        validity.not_after.to_unix_duration().as_secs(),
    );
    let at_secs = u64::try_from(at.timestamp()).unwrap_or(0);
    if at_secs < from || at_secs > to {
        return false;
    }
    for crl in trust.crls {
        let Ok(crl) = X509Crl::from_der(crl) else {
            continue;
        };
        if let openssl::x509::CrlStatus::Revoked(entry) = crl.get_by_cert(&cert) {
            let revoked_at = openssl::asn1::Asn1Time::from_unix(at.timestamp())
                .ok()
                .and_then(|t| entry.revocation_date().compare(&t).ok());
            // Revoked at or before the signing time.
            if revoked_at != Some(std::cmp::Ordering::Greater) {
                return false;
            }
        }
    }
    true
}

fn subject_parts(der: &[u8]) -> (String, Option<String>, String, String) {
    let Some((cert, _)) = parsed(der) else {
        return Default::default();
    };
    let entry = |nid| {
        cert.subject_name()
            .entries_by_nid(nid)
            .next()
            .and_then(|e| e.data().to_string().ok())
    };
    let subject = cert
        .subject_name()
        .entries()
        .filter_map(|e| {
            Some(format!(
                "{}={}",
                e.object().nid().short_name().ok()?,
                e.data().to_string().ok()?
            ))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let serial = cert
        .serial_number()
        .to_bn()
        .ok()
        .and_then(|bn| bn.to_hex_str().ok().map(|s| s.to_string()))
        .unwrap_or_default();
    (
        entry(openssl::nid::Nid::COMMONNAME).unwrap_or_default(),
        entry(openssl::nid::Nid::ORGANIZATIONNAME),
        subject,
        serial,
    )
}

/// A verified timestamp token: its time, if it is sound, stamps the
/// concatenated `stamped` parts (hashed as its imprint says) and comes from
/// a TSA that chains to the root.
fn check_token(trust: &Trust<'_>, token: &[u8], stamped: &[&[u8]]) -> Option<DateTime<Utc>> {
    let data = parse_signed_data(token).ok()?;
    let info = token_info(token).ok()?;
    let imprint = Digest::from_oid(&info.message_imprint.hash_algorithm.oid)?
        .hash(stamped)
        .ok()?;
    if info.message_imprint.hashed_message.as_bytes() != imprint.as_slice() {
        return None;
    }
    let signer = data.signer_infos.0.iter().next()?;
    let certificates = certificates_of(&data);
    let tsa = signer_certificate(signer, &certificates)?;
    let econtent = data.encap_content_info.econtent.as_ref()?;
    let tst = econtent.decode_as::<OctetString>().ok()?;
    let digest = digest_of(signer)?.hash(&[tst.as_bytes()]).ok()?;
    let (signature_valid, digest_valid) = check_signer(signer, &tsa, &digest);
    let at = Utc
        .timestamp_opt(
            i64::try_from(info.gen_time.to_unix_duration().as_secs()).ok()?,
            0,
        )
        .single()?;
    let tsa_is_tsa = has_time_stamping_eku(&tsa);
    (signature_valid && digest_valid && tsa_is_tsa && chain_trusted(trust, &tsa, &certificates, at))
        .then_some(at)
}

/// The extended key usage id-kp-timeStamping, which makes a TSA certificate.
fn has_time_stamping_eku(der: &[u8]) -> bool {
    const EKU: const_oid::ObjectIdentifier = const_oid::ObjectIdentifier::new_unwrap("2.5.29.37");
    const TIME_STAMPING: const_oid::ObjectIdentifier =
        const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
    let Ok(cert) = Certificate::from_der(der) else {
        return false;
    };
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == EKU)
        .filter_map(|e| {
            x509_cert::ext::pkix::ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok()
        })
        .any(|eku| eku.0.contains(&TIME_STAMPING))
}

fn pdf_time(raw: &str) -> Option<DateTime<Utc>> {
    let digits = raw.strip_prefix("D:")?.get(..14)?;
    chrono::NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

fn check_signature(bytes: &[u8], trust: &Trust<'_>, found: &FoundSignature) -> SignatureReport {
    let mut report = SignatureReport {
        field: found.field.clone(),
        document_timestamp: found.sub_filter == SubFilter::DocumentTimestamp,
        verdict: Verdict::TotalFailed,
        sub_indication: None,
        signer_name: String::new(),
        organization: None,
        certificate_subject: String::new(),
        serial_hex: String::new(),
        claimed_time: found.claimed_time.as_deref().and_then(pdf_time),
        timestamped_at: None,
        digest_valid: false,
        signature_valid: false,
        chain_trusted: false,
        certificate_valid_at_signing: false,
        covers_whole_revision: false,
        revision_end: 0,
    };
    let Some((b, c, end)) = checked_ranges(bytes, &found.byte_range) else {
        report.sub_indication = Some("FORMAT_FAILURE");
        return report;
    };
    report.revision_end = end;
    report.covers_whole_revision = is_revision_end(bytes, end);
    let Ok(data) = parse_signed_data(&found.cms) else {
        report.sub_indication = Some("FORMAT_FAILURE");
        return report;
    };
    let Some(signer) = data.signer_infos.0.iter().next() else {
        report.sub_indication = Some("FORMAT_FAILURE");
        return report;
    };
    let signed_ranges: [&[u8]; 2] = [&bytes[..b], &bytes[c..end]];
    let certificates = certificates_of(&data);
    if report.document_timestamp {
        // The token itself is the signature: over the revision.
        report.timestamped_at = check_token(trust, &found.cms, &signed_ranges);
        let ok = report.timestamped_at.is_some();
        report.digest_valid = ok;
        report.signature_valid = ok;
        report.chain_trusted = ok;
        report.certificate_valid_at_signing = ok;
        if let Some(tsa) = signer_certificate(signer, &certificates) {
            let (name, org, subject, serial) = subject_parts(&tsa);
            (report.signer_name, report.organization) = (name, org);
            (report.certificate_subject, report.serial_hex) = (subject, serial);
        }
    } else {
        let Some(signer_der) = signer_certificate(signer, &certificates) else {
            report.sub_indication = Some("NO_SIGNING_CERTIFICATE_FOUND");
            return report;
        };
        let (name, org, subject, serial) = subject_parts(&signer_der);
        (report.signer_name, report.organization) = (name, org);
        (report.certificate_subject, report.serial_hex) = (subject, serial);
        let Some(digest) = digest_of(signer).and_then(|d| d.hash(&signed_ranges).ok()) else {
            report.sub_indication = Some("FORMAT_FAILURE");
            return report;
        };
        (report.signature_valid, report.digest_valid) = check_signer(signer, &signer_der, &digest);
        let token = signer
            .unsigned_attrs
            .as_ref()
            .and_then(|u| attribute_value(u, ID_SIGNATURE_TIME_STAMP))
            .and_then(|t| t.to_der().ok());
        if let Some(token) = token {
            report.timestamped_at = check_token(trust, &token, &[signer.signature.as_bytes()]);
        }
        let at = report.timestamped_at.unwrap_or_else(Utc::now);
        report.chain_trusted = chain_trusted(trust, &signer_der, &certificates, at);
        report.certificate_valid_at_signing = valid_at(trust, &signer_der, at);
    }
    (report.verdict, report.sub_indication) = if !report.digest_valid {
        (Verdict::TotalFailed, Some("HASH_FAILURE"))
    } else if !report.signature_valid {
        (Verdict::TotalFailed, Some("SIG_CRYPTO_FAILURE"))
    } else if !report.chain_trusted {
        (Verdict::Indeterminate, Some("NO_CERTIFICATE_CHAIN_FOUND"))
    } else if !report.certificate_valid_at_signing {
        (Verdict::TotalFailed, Some("REVOKED_OR_EXPIRED"))
    } else if report.timestamped_at.is_none() {
        (Verdict::Indeterminate, Some("NO_POE"))
    } else if !report.covers_whole_revision {
        (Verdict::TotalFailed, Some("FORMAT_FAILURE"))
    } else {
        (Verdict::TotalPassed, None)
    };
    report
}

/// Whether the bytes after `end` only add validation data: new objects,
/// and the catalog changed in /DSS alone.
fn only_validation_data(bytes: &[u8], end: usize) -> bool {
    let limits = Limits::default();
    let (Ok(before), Ok(after)) = (
        input::load(&bytes[..end], &limits),
        input::load(bytes, &limits),
    ) else {
        return false;
    };
    let root = before
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .ok();
    after.objects.iter().all(|(id, object)| match before.objects.get(id) {
        None => !matches!(object, Object::Dictionary(d) if d.has(b"Type") && !d.has(b"Certs") && !d.has(b"CRLs")),
        Some(previous) if previous == object => true,
        Some(Object::Dictionary(previous)) if Some(*id) == root => {
            let Object::Dictionary(now) = object else { return false };
            let strip = |d: &lopdf::Dictionary| {
                let mut d = d.clone();
                d.remove(b"DSS");
                d
            };
            strip(previous) == strip(now)
        }
        Some(_) => false,
    })
}

/// Whether the later revisions after `end` (the end of a signed revision)
/// only did what signing does: add signature fields with their widgets,
/// validation data and document timestamps. New objects count only through
/// the changed objects that refer to them, and those may change only so:
/// the catalog in /AcroForm and /DSS, a page in /Annots (growing by
/// signature widgets), the form in /Fields and /SigFlags, and arrays by
/// appending.
fn only_signing_after(bytes: &[u8], end: usize, after: &Document) -> bool {
    let Ok(before) = input::load(&bytes[..end], &Limits::default()) else {
        return false;
    };
    let is_signature_widget = |object: &Object| {
        let Object::Dictionary(d) = object else {
            return false;
        };
        let own = matches!(d.get(b"FT"), Ok(Object::Name(n)) if n == b"Sig");
        let parent = d
            .get(b"Parent")
            .and_then(Object::as_reference)
            .and_then(|p| after.get_dictionary(p))
            .is_ok_and(|p| matches!(p.get(b"FT"), Ok(Object::Name(n)) if n == b"Sig"));
        matches!(d.get(b"Subtype"), Ok(Object::Name(n)) if n == b"Widget") && (own || parent)
    };
    let without = |d: &lopdf::Dictionary, keys: &[&[u8]]| {
        let mut d = d.clone();
        for key in keys {
            d.remove(key);
        }
        d
    };
    after.objects.iter().all(|(id, object)| {
        let Some(previous) = before.objects.get(id) else {
            return true;
        };
        if previous == object {
            return true;
        }
        match (previous, object) {
            (Object::Array(old), Object::Array(new)) => {
                new.starts_with(old)
                    && new[old.len()..].iter().all(|item| {
                        item.as_reference()
                            .ok()
                            .and_then(|r| after.get_object(r).ok())
                            .is_some_and(|o| is_signature_widget(o) || matches!(o, Object::Dictionary(d) if d.has(b"Kids") || d.has(b"V")))
                    })
            }
            (Object::Dictionary(old), Object::Dictionary(new)) => {
                let kind = |d: &lopdf::Dictionary| {
                    d.get(b"Type").and_then(Object::as_name).map(<[u8]>::to_vec).unwrap_or_default()
                };
                match kind(old).as_slice() {
                    b"Catalog" => without(old, &[b"AcroForm", b"DSS"]) == without(new, &[b"AcroForm", b"DSS"]),
                    b"Page" => {
                        without(old, &[b"Annots"]) == without(new, &[b"Annots"])
                            && match (old.get(b"Annots"), new.get(b"Annots")) {
                                (_, Ok(Object::Reference(_))) => true,
                                (Ok(Object::Array(a)), Ok(Object::Array(b))) => {
                                    b.starts_with(a)
                                        && b[a.len()..].iter().all(|i| {
                                            i.as_reference().ok().and_then(|r| after.get_object(r).ok()).is_some_and(is_signature_widget)
                                        })
                                }
                                (Err(_), Ok(Object::Array(b))) => b.iter().all(|i| {
                                    i.as_reference().ok().and_then(|r| after.get_object(r).ok()).is_some_and(is_signature_widget)
                                }),
                                _ => false,
                            }
                    }
                    _ => {
                        // The interactive form dictionary (it has no /Type).
                        old.has(b"Fields")
                            && without(old, &[b"Fields", b"SigFlags"]) == without(new, &[b"Fields", b"SigFlags"])
                    }
                }
            }
            _ => false,
        }
    })
}

pub fn verify(bytes: &[u8], trust: &Trust<'_>) -> Result<Report, PdfError> {
    let document: Document = input::load(bytes, &Limits::default())?;
    let found = signatures::find(&document)?;
    let mut reports: Vec<SignatureReport> = found
        .iter()
        .map(|f| check_signature(bytes, trust, f))
        .collect();
    let last_end = reports.iter().map(|r| r.revision_end).max().unwrap_or(0);
    // An earlier signature holds only if what came after it was signing.
    let signed_part = if 0 < last_end && last_end < bytes.len() {
        Some(input::load(&bytes[..last_end], &Limits::default())?)
    } else {
        None
    };
    let signed_document = signed_part.as_ref().unwrap_or(&document);
    for report in reports.iter_mut() {
        if report.verdict == Verdict::TotalPassed
            && report.revision_end < last_end
            && !only_signing_after(&bytes[..last_end], report.revision_end, signed_document)
        {
            report.verdict = Verdict::TotalFailed;
            report.sub_indication = Some("MODIFIED_AFTER_SIGNING");
        }
    }
    let trailing = bytes
        .get(last_end..)
        .is_some_and(|rest| rest.iter().any(|b| !b.is_ascii_whitespace()));
    let platform_document = !reports.is_empty()
        && reports
            .iter()
            .any(|r| r.chain_trusted && !r.document_timestamp);
    let worst = reports.iter().map(|r| r.verdict).max();
    let (verdict, sub_indication) = match worst {
        None => (Verdict::TotalFailed, Some("NO_SIGNATURE")),
        Some(_) if !platform_document => (Verdict::TotalFailed, Some("NOT_SIGNED_ON_PLATFORM")),
        Some(worst) if worst != Verdict::TotalPassed => (
            worst,
            reports
                .iter()
                .find(|r| r.verdict == worst)
                .and_then(|r| r.sub_indication),
        ),
        Some(_) if trailing && only_validation_data(bytes, last_end) => {
            (Verdict::Indeterminate, Some("UNSIGNED_VALIDATION_DATA"))
        }
        Some(_) if trailing => (Verdict::TotalFailed, Some("MODIFIED_AFTER_SIGNING")),
        Some(_) => (Verdict::TotalPassed, None),
    };
    Ok(Report {
        verdict,
        sub_indication,
        platform_document,
        modified_after_last_signature: trailing,
        signatures: reports,
    })
}
