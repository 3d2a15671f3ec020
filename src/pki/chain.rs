//! SM2 certificate paths, walked here: OpenSSL 3.0 checks SM2 certificate
//! signatures under an empty signer ID, while certificates carry signatures
//! under the standard one (GM/T 0015, and `ca` signs so), and rust-openssl
//! cannot set the ID on a certificate. ECDSA paths go through OpenSSL.

use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};

use crate::pki::sm2;

/// Root, issuing CA, end entity: longer paths are not the platform's.
const MAX_DEPTH: usize = 4;

const BASIC_CONSTRAINTS: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("2.5.29.19");
const KEY_USAGE: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.29.15");
const EXTENDED_KEY_USAGE: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("2.5.29.37");

fn valid_at(cert: &Certificate, at_unix: u64) -> bool {
    let validity = &cert.tbs_certificate.validity;
    validity.not_before.to_unix_duration().as_secs() <= at_unix
        && at_unix <= validity.not_after.to_unix_duration().as_secs()
}

/// No critical extension this walk does not understand (RFC 5280 4.2).
fn understood(cert: &Certificate) -> bool {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.critical)
        .all(|e| [BASIC_CONSTRAINTS, KEY_USAGE, EXTENDED_KEY_USAGE].contains(&e.extn_id))
}

fn extension<T: for<'a> Decode<'a>>(
    cert: &Certificate,
    oid: der::oid::ObjectIdentifier,
) -> Option<T> {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == oid)
        .and_then(|e| T::from_der(e.extn_value.as_bytes()).ok())
}

/// A CA that may sign certificates: basicConstraints cA, and keyCertSign
/// when it states its key usage.
fn may_issue(cert: &Certificate) -> bool {
    let ca = extension::<BasicConstraints>(cert, BASIC_CONSTRAINTS).is_some_and(|b| b.ca);
    let has_usage = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .any(|e| e.extn_id == KEY_USAGE);
    let cert_sign = extension::<KeyUsage>(cert, KEY_USAGE)
        .is_some_and(|u| u.0.contains(KeyUsages::KeyCertSign));
    ca && (!has_usage || cert_sign)
}

/// Whether `cert` carries an SM2-with-SM3 signature of `issuer`'s key.
fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    if cert.signature_algorithm.oid != sm2::SM2_WITH_SM3
        || cert.tbs_certificate.signature.oid != sm2::SM2_WITH_SM3
        || cert.tbs_certificate.issuer != issuer.tbs_certificate.subject
    {
        return false;
    }
    let (Ok(tbs), Ok(spki), Some(signature)) = (
        cert.tbs_certificate.to_der(),
        issuer.tbs_certificate.subject_public_key_info.to_der(),
        cert.signature.as_bytes(),
    ) else {
        return false;
    };
    sm2::verify(&spki, &tbs, signature).unwrap_or(false)
}

/// Whether the SM2 certificate `leaf` (DER) chains to `root` through
/// `others`, every certificate on the path valid at `at_unix` (seconds).
pub fn sm2_trusted(root: &[u8], leaf: &[u8], others: &[Vec<u8>], at_unix: u64) -> bool {
    let Ok(anchor) = Certificate::from_der(root) else {
        return false;
    };
    let candidates: Vec<Certificate> = others
        .iter()
        .filter(|der| der.as_slice() != root)
        .filter_map(|der| Certificate::from_der(der).ok())
        .collect();
    let Ok(mut current) = Certificate::from_der(leaf) else {
        return false;
    };
    if leaf == root {
        return valid_at(&anchor, at_unix);
    }
    for _ in 0..MAX_DEPTH {
        if !valid_at(&current, at_unix) || !understood(&current) {
            return false;
        }
        if may_issue(&anchor) && signed_by(&current, &anchor) {
            return valid_at(&anchor, at_unix);
        }
        let Some(issuer) = candidates
            .iter()
            .find(|c| may_issue(c) && signed_by(&current, c))
        else {
            return false;
        };
        current = issuer.clone();
    }
    false
}
