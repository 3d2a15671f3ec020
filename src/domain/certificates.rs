//! The platform CA at work: created on first start, keys encrypted at rest,
//! certificates issued to people (on real-name verification) and later to
//! enterprises, revocation and the CRL.

use chrono::TimeDelta;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use openssl::x509::X509;

use crate::config::CertAlgorithm;
use crate::db::certificates::{Certificate, NewCertificate, PlatformKey};
use crate::db::enums::{CertificateKind, KeyAlgorithm, KeyPurpose};
use crate::db::ids::{CertificateId, EnterpriseId, UserId};
use crate::db::locks::lock_key;
use crate::domain::{Services, audit};
use crate::error::{AppError, AppResult};
use crate::pki::ca::{self, CaError, RevokedEntry, SubjectInfo};

mod platform;

pub use platform::{PlatformKeys, platform_sign, platform_verify};
pub(crate) use platform::{Stamping, require, stamping};
use platform::{load, store};

pub(crate) const CERTIFICATE_KEY_CONTEXT: &[u8] = b"certificates.private_key";
/// How long a CRL stays current; clients fetch a new one after that.
const CRL_VALIDITY: TimeDelta = TimeDelta::hours(24);

fn algorithms(svc: &Services<'_>) -> (ca::KeyAlgorithm, KeyAlgorithm) {
    match svc.config.cert_algorithm {
        CertAlgorithm::EcdsaP256 => (ca::KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP256),
        CertAlgorithm::Sm2 => (ca::KeyAlgorithm::Sm2, KeyAlgorithm::Sm2),
    }
}

fn ca_error(e: CaError) -> AppError {
    AppError::internal(e)
}

/// The algorithm the platform CA signs with.
pub fn ca_algorithm(svc: &Services<'_>) -> ca::KeyAlgorithm {
    algorithms(svc).0
}

pub fn crl_url(svc: &Services<'_>) -> String {
    format!("{}/pki/crl", svc.config.public_base_url())
}

/// Where the root's CRL (of CA certificates) is served.
pub fn root_crl_url(svc: &Services<'_>) -> String {
    format!("{}/pki/root.crl", svc.config.public_base_url())
}

/// Creates the root CA, the issuing CA and the timestamping certificate of
/// the configured algorithm when they do not exist yet. Safe to run from
/// several processes at once.
pub async fn ensure_platform_ca(conn: &mut AsyncPgConnection, svc: &Services<'_>) -> AppResult<()> {
    let (algorithm, stored) = algorithms(svc);
    let now = svc.clock.now();
    let crl = crl_url(svc);
    conn.transaction(async |conn| {
        lock_key(conn, "platform-ca", stored.as_str()).await?;
        let root = match load(conn, svc, KeyPurpose::Root, stored).await? {
            Some(root) => root,
            None => {
                let root = ca::new_root(algorithm, now).map_err(ca_error)?;
                store(conn, svc, KeyPurpose::Root, stored, &root).await?;
                tracing::info!(algorithm = stored.as_str(), "platform root CA created");
                root
            }
        };
        let issuing = match load(conn, svc, KeyPurpose::Issuing, stored).await? {
            Some(issuing) => issuing,
            None => {
                let issuing =
                    ca::new_issuing(&root, algorithm, &root_crl_url(svc), now).map_err(ca_error)?;
                store(conn, svc, KeyPurpose::Issuing, stored, &issuing).await?;
                tracing::info!(algorithm = stored.as_str(), "platform issuing CA created");
                issuing
            }
        };
        if load(conn, svc, KeyPurpose::Tsa, stored).await?.is_none() {
            let tsa = ca::new_tsa(&issuing, algorithm, &crl, now).map_err(ca_error)?;
            store(conn, svc, KeyPurpose::Tsa, stored, &tsa).await?;
            tracing::info!(
                algorithm = stored.as_str(),
                "timestamping certificate created"
            );
        }
        Ok(())
    })
    .await
}

/// PEM of one of the platform's certificates (root, issuing CA, TSA).
pub async fn platform_certificate_pem(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    purpose: KeyPurpose,
) -> AppResult<String> {
    let (_, stored) = algorithms(svc);
    let row = PlatformKey::find(conn, purpose, stored)
        .await?
        .ok_or(AppError::NotFound("platform certificate"))?;
    let cert = X509::from_der(&row.certificate_der).map_err(AppError::internal)?;
    let pem = cert.to_pem().map_err(AppError::internal)?;
    Ok(String::from_utf8_lossy(&pem).into_owned())
}

/// A fresh CRL (DER) listing every revoked, unexpired certificate.
pub async fn current_crl(conn: &mut AsyncPgConnection, svc: &Services<'_>) -> AppResult<Vec<u8>> {
    let (algorithm, stored) = algorithms(svc);
    let issuing = require(conn, svc, KeyPurpose::Issuing).await?;
    let now = svc.clock.now();
    let revoked: Vec<RevokedEntry> = Certificate::revoked(conn, stored, now)
        .await?
        .into_iter()
        .map(|(serial_hex, revoked_at)| RevokedEntry {
            serial_hex,
            revoked_at,
        })
        .collect();
    ca::build_crl(&issuing, algorithm, &revoked, now, now + CRL_VALIDITY).map_err(ca_error)
}

/// The root's CRL: the CA certificates it revoked (the platform never
/// revokes its issuing CA in operation, so it lists none).
pub async fn current_root_crl(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
) -> AppResult<Vec<u8>> {
    let (algorithm, _) = algorithms(svc);
    let root = require(conn, svc, KeyPurpose::Root).await?;
    let now = svc.clock.now();
    ca::build_crl(&root, algorithm, &[], now, now + CRL_VALIDITY).map_err(ca_error)
}

/// The key a certificate certifies: generated and kept by the platform
/// (cloud certificate), or the holder's own from a PKCS#10 request (UKey).
pub enum KeySource<'a> {
    Cloud,
    Request {
        csr_pem: &'a str,
    },
    /// A UKey certificate renewed or reissued for the key it certifies.
    SameKeyAs {
        certificate_der: &'a [u8],
    },
}

/// Whose certificate it is.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    Person(UserId),
    Enterprise(EnterpriseId),
}

/// Issues a certificate inside the caller's transaction.
pub async fn issue(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    owner: Owner,
    subject: &SubjectInfo<'_>,
    source: KeySource<'_>,
) -> AppResult<Certificate> {
    let (algorithm, stored) = algorithms(svc);
    let issuing = require(conn, svc, KeyPurpose::Issuing).await?;
    let now = svc.clock.now();
    let crl = crl_url(svc);
    let (cert, sealed_key, kind) = match source {
        KeySource::Cloud => {
            let key = algorithm.generate_key().map_err(ca_error)?;
            let cert = ca::issue_end_entity(&issuing, algorithm, subject, &key, &crl, now)
                .map_err(ca_error)?;
            let pkcs8 = key.private_key_to_pkcs8().map_err(AppError::internal)?;
            let sealed = svc
                .keys
                .seal(&pkcs8, CERTIFICATE_KEY_CONTEXT)
                .map_err(AppError::internal)?;
            (cert, Some(sealed), CertificateKind::Cloud)
        }
        KeySource::Request { csr_pem } => {
            let key = ca::request_public_key(csr_pem).map_err(|e| match e {
                CaError::Openssl(_) | CaError::Encoding(_) => AppError::internal(e),
                refused => AppError::bad_input("csrPem", refused.to_string()),
            })?;
            let cert = ca::issue_end_entity(&issuing, algorithm, subject, &key, &crl, now)
                .map_err(|e| match e {
                    CaError::RequestAlgorithm => AppError::bad_input("csrPem", e.to_string()),
                    other => ca_error(other),
                })?;
            (cert, None, CertificateKind::Ukey)
        }
        KeySource::SameKeyAs { certificate_der } => {
            let key = openssl::x509::X509::from_der(certificate_der)
                .and_then(|old| old.public_key())
                .map_err(AppError::internal)?;
            let cert = ca::issue_end_entity(&issuing, algorithm, subject, &key, &crl, now)
                .map_err(ca_error)?;
            (cert, None, CertificateKind::Ukey)
        }
    };
    let der = cert.to_der().map_err(AppError::internal)?;
    let serial = ca::serial_hex(&cert).map_err(ca_error)?;
    let text = |name: &openssl::x509::X509NameRef| {
        name.entries()
            .filter_map(|e| {
                let key = e.object().nid().short_name().ok()?;
                Some(format!("{key}={}", e.data().to_string().ok()?))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let record = Certificate::insert(
        conn,
        &NewCertificate {
            id: CertificateId::new(),
            serial_hex: &serial,
            kind,
            algorithm: stored,
            user_id: match owner {
                Owner::Person(user) => Some(user),
                Owner::Enterprise(_) => None,
            },
            enterprise_id: match owner {
                Owner::Enterprise(enterprise) => Some(enterprise),
                Owner::Person(_) => None,
            },
            subject: &text(cert.subject_name()),
            issuer: &text(cert.issuer_name()),
            certificate_der: &der,
            private_key_enc: sealed_key.as_deref(),
            not_before: ca::asn1_to_utc(cert.not_before()).map_err(ca_error)?,
            not_after: ca::asn1_to_utc(cert.not_after()).map_err(ca_error)?,
        },
    )
    .await?;
    tracing::info!(certificate.serial = %serial, kind = kind.as_str(), "certificate issued");
    Ok(record)
}

/// A person's cloud certificate, issued when real-name verification passes.
/// The subject's serialNumber is a keyed hash of the ID number: it binds the
/// certificate to the identity without putting the number in it.
pub async fn issue_person_certificate(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    user_id: UserId,
    name: &str,
    id_number_hash: &[u8],
) -> AppResult<Certificate> {
    let pseudonym = format!("P{}", &hex::encode(id_number_hash)[..32]);
    let subject = SubjectInfo {
        common_name: name,
        organization: "个人用户",
        serial_number: &pseudonym,
    };
    issue(
        conn,
        svc,
        Owner::Person(user_id),
        &subject,
        KeySource::Cloud,
    )
    .await
}

/// Revokes a certificate (it appears in the next CRL) and audits who did it.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    actor: Option<UserId>,
    id: CertificateId,
    reason: &str,
) -> AppResult<Certificate> {
    conn.transaction(async |conn| {
        let revoked = Certificate::revoke(conn, id, reason, svc.clock.now())
            .await?
            .ok_or(AppError::Conflict(
                "certificate is unknown or already revoked".into(),
            ))?;
        let entry = audit::Entry {
            enterprise: None,
            actor,
            action: "certificate.revoke",
            target_type: "certificate",
            target_id: Some(revoked.id.to_string()),
            details: serde_json::json!({ "serial": revoked.serial_hex, "reason": reason }),
            client_ip: None,
        };
        audit::record(conn, svc, entry).await?;
        Ok(revoked)
    })
    .await
}

pub async fn of_user(conn: &mut AsyncPgConnection, user_id: UserId) -> AppResult<Vec<Certificate>> {
    Ok(Certificate::of_user(conn, user_id).await?)
}
