//! PAdES signatures made with keys the platform holds: the signer's cloud
//! certificate signs, the platform TSA stamps the signature (B-T). If the
//! timestamp cannot be had, nothing is signed. ECDSA P-256 certificates
//! sign with SHA-256, SM2 ones with SM3 throughout (ranges, attributes,
//! certificate binding, timestamp imprint).

use std::collections::HashMap;
use std::sync::Arc;

use diesel_async::AsyncPgConnection;
use openssl::pkey::{PKey, Private};

use crate::db::certificates::Certificate;
use crate::db::enums::{KeyAlgorithm, KeyPurpose};
use crate::db::ids::CertificateId;
use crate::domain::Services;
use crate::domain::certificates::{CERTIFICATE_KEY_CONTEXT, Stamping, require, stamping};
use crate::error::{AppError, AppResult};
use crate::pdf::PdfError;
use crate::pdf::fill::OwnedFieldText;
use crate::pdf::input::{self, Limits};
use crate::pdf::sign::{self, Appearance, DEFAULT_RESERVED, FieldSpec, SignatureKind};
use crate::pdf::{ltv, signatures};
use crate::pki::algorithms::{Digest, SignatureAlgorithm};
use crate::pki::cms::{self, Cert, ID_DATA, SignerParts};
use crate::pki::tsa::{self, Tsa};

/// Where the signature goes and what it shows.
pub struct Placement {
    pub field_name: String,
    /// 0-based page.
    pub page: usize,
    pub appearance: Option<Appearance>,
    /// Stamps on other pages in the same revision (a cross-page seal).
    pub stamps: Vec<(usize, Appearance)>,
    /// Values the signer completed, drawn in the same revision.
    pub texts: Vec<OwnedFieldText>,
}

fn pdf_error(error: PdfError) -> AppError {
    match error {
        PdfError::Unreadable(_) | PdfError::Structure(_) | PdfError::SignatureTooLarge { .. } => {
            AppError::internal(anyhow::anyhow!("signing: {error}"))
        }
        refused => AppError::bad_input("file", refused),
    }
}

/// Completes a signed contract (PAdES B-LT): a revision with the DSS (every
/// certificate of its signatures and timestamps, the root, and the current
/// CRL), then a document timestamp over everything.
pub async fn complete(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    pdf: Vec<u8>,
) -> AppResult<Vec<u8>> {
    let tsa = stamping(conn, svc).await?;
    let root = require(conn, svc, KeyPurpose::Root).await?;
    let root_der = root.cert.to_der().map_err(AppError::internal)?;
    let crls = vec![
        crate::domain::certificates::current_crl(conn, svc).await?,
        crate::domain::certificates::current_root_crl(conn, svc).await?,
    ];
    let now = svc.clock.now();
    let prepared = tokio::task::spawn_blocking(move || {
        let document = input::load(&pdf, &Limits::default()).map_err(pdf_error)?;
        let mut certificates = vec![root_der, tsa.cert.der.clone()];
        certificates.extend(tsa.chain.iter().map(|c| c.der.clone()));
        for found in signatures::find(&document).map_err(pdf_error)? {
            let embedded = cms::embedded_certificates(&found.cms).map_err(AppError::internal)?;
            certificates.extend(embedded);
        }
        let mut unique = Vec::new();
        for der in certificates {
            if !unique.contains(&der) {
                unique.push(der);
            }
        }
        let with_dss = ltv::add_dss(&pdf, &document, &unique, &crls).map_err(pdf_error)?;
        drop(document);
        let document = input::load(&with_dss, &Limits::default()).map_err(pdf_error)?;
        let spec = FieldSpec {
            name: "DocumentTimestamp",
            page: 0,
            kind: SignatureKind::DocumentTimestamp,
            appearance: None,
            stamps: Vec::new(),
            texts: Vec::new(),
        };
        let prepared =
            sign::prepare(&with_dss, &document, &spec, DEFAULT_RESERVED).map_err(pdf_error)?;
        let digest = prepared.digest(tsa.digest).map_err(pdf_error)?;
        Ok::<_, AppError>((prepared, digest, tsa))
    })
    .await??;
    let (prepared, digest, tsa) = prepared;
    let token = timestamp(svc, &tsa, tsa.digest, &digest, now).await?;
    tokio::task::spawn_blocking(move || prepared.embed(&token).map_err(pdf_error)).await?
}

/// A timestamp token over `imprint` (made with `algorithm`): from the
/// configured RFC 3161 service, or the platform TSA. Without one, nothing
/// gets signed.
async fn timestamp(
    svc: &Services<'_>,
    tsa: &Stamping,
    algorithm: Digest,
    imprint: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<Vec<u8>> {
    match svc.remote_tsa {
        Some(remote) => remote
            .stamp(algorithm, imprint)
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("{e}; nothing was signed"))),
        None => local_timestamp(tsa, algorithm, imprint, now),
    }
}

/// A token of the platform TSA, made in process.
fn local_timestamp(
    tsa: &Stamping,
    algorithm: Digest,
    imprint: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<Vec<u8>> {
    let stamp = Tsa {
        cert: &tsa.cert,
        chain: &tsa.chain,
        key: &tsa.key,
    };
    tsa::issue_token(&stamp, algorithm, imprint, now, None).map_err(AppError::internal)
}

/// A cloud certificate's key, opened and decoded, and the certificate
/// parsed: decoding a PKCS#8 key through OpenSSL 3.0's decoders costs more
/// than signing with it, and parsing the certificate about as much.
#[derive(Clone)]
struct SignerMaterial {
    key: PKey<Private>,
    cert: Arc<Cert>,
}

/// Signers' material by certificate. A certificate's key and DER never
/// change (the DER is compared anyway); its revocation and expiry are
/// checked on every use.
type SignerCache = std::sync::Mutex<HashMap<CertificateId, SignerMaterial>>;

static SIGNERS: std::sync::OnceLock<SignerCache> = std::sync::OnceLock::new();

/// Signers kept; past it the cache starts over.
const SIGNERS_KEPT: usize = 1024;

fn signer_material(
    svc: &Services<'_>,
    certificate: &Certificate,
    sealed: &[u8],
) -> AppResult<SignerMaterial> {
    let cache = SIGNERS.get_or_init(SignerCache::default);
    let lock = || {
        cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some(found) = lock().get(&certificate.id)
        && found.cert.der == certificate.certificate_der
    {
        return Ok(found.clone());
    }
    let pkcs8 = svc
        .keys
        .open(sealed, CERTIFICATE_KEY_CONTEXT)
        .map_err(AppError::internal)?;
    let material = SignerMaterial {
        key: PKey::private_key_from_pkcs8(&pkcs8).map_err(AppError::internal)?,
        cert: Arc::new(Cert::from_der(&certificate.certificate_der).map_err(AppError::internal)?),
    };
    let mut signers = lock();
    if signers.len() >= SIGNERS_KEPT {
        signers.clear();
    }
    signers.insert(certificate.id, material.clone());
    Ok(material)
}

/// Signs `pdf` in a new revision with the cloud certificate `certificate`,
/// with a signature timestamp (the configured TSA, else the platform's).
pub async fn sign(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    pdf: Vec<u8>,
    certificate: CertificateId,
    placement: Placement,
) -> AppResult<Vec<u8>> {
    let certificate = Certificate::find(conn, certificate).await?;
    sign_then(conn, svc, pdf, &certificate, placement, Ok).await
}

/// A signed revision kept in the blob store.
pub struct StoredRevision {
    pub sha256: String,
    pub size: i64,
}

/// [`sign`] with the certificate's row read already; the signed revision
/// goes to the blob store (synced) on the thread that made it.
pub async fn sign_and_store(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    pdf: Vec<u8>,
    certificate: &Certificate,
    placement: Placement,
) -> AppResult<StoredRevision> {
    let store = svc.storage.clone();
    sign_then(conn, svc, pdf, certificate, placement, move |signed| {
        Ok(StoredRevision {
            size: i64::try_from(signed.len()).map_err(AppError::internal)?,
            sha256: store.put(&signed).map_err(AppError::internal)?,
        })
    })
    .await
}

/// Signs, then hands the signed revision to `then` on the blocking thread
/// that made it: every trip to that thread and back wakes two threads.
async fn sign_then<T: Send + 'static>(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    pdf: Vec<u8>,
    certificate: &Certificate,
    placement: Placement,
    then: impl FnOnce(Vec<u8>) -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    if certificate.revoked_at.is_some() || certificate.not_after <= svc.clock.now() {
        return Err(AppError::Conflict(
            "the signer's certificate is revoked or expired".into(),
        ));
    }
    let sealed = certificate.private_key_enc.as_deref().ok_or_else(|| {
        AppError::Conflict("a UKey certificate signs on its key, not here".into())
    })?;
    let SignerMaterial { key, cert: signer } = signer_material(svc, certificate, sealed)?;
    let algorithm = SignatureAlgorithm::of_key(&key).ok_or_else(|| {
        AppError::internal(anyhow::anyhow!("a cloud certificate key of no known suite"))
    })?;
    let expected = match certificate.algorithm {
        KeyAlgorithm::EcdsaP256 => SignatureAlgorithm::EcdsaSha256,
        KeyAlgorithm::Sm2 => SignatureAlgorithm::Sm2Sm3,
    };
    if algorithm != expected {
        return Err(AppError::internal(anyhow::anyhow!(
            "a cloud certificate's key is not of its recorded algorithm"
        )));
    }
    let tsa = stamping(conn, svc).await?;
    let now = svc.clock.now();
    let Some(remote) = svc.remote_tsa else {
        // The platform TSA stamps in process: the whole revision is made
        // in one trip to a blocking thread.
        return tokio::task::spawn_blocking(move || {
            let unsealed = sign_revision(&pdf, placement, now, &key, &signer, algorithm)?;
            let imprint = unsealed.timestamp_imprint(algorithm)?;
            let token = local_timestamp(&tsa, algorithm.digest(), &imprint, now)?;
            then(seal_revision(
                unsealed, &signer, &tsa.chain, algorithm, token,
            )?)
        })
        .await?;
    };
    let (unsealed, signer) = tokio::task::spawn_blocking(move || {
        let unsealed = sign_revision(&pdf, placement, now, &key, &signer, algorithm)?;
        Ok::<_, AppError>((unsealed, signer))
    })
    .await??;
    let imprint = unsealed.timestamp_imprint(algorithm)?;
    let token = remote
        .stamp(algorithm.digest(), &imprint)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}; nothing was signed")))?;
    // The issuing CA issued both the signer's and the TSA's certificate.
    tokio::task::spawn_blocking(move || {
        then(seal_revision(
            unsealed, &signer, &tsa.chain, algorithm, token,
        )?)
    })
    .await?
}

/// A revision prepared and signed, waiting for its signature timestamp.
struct Unsealed {
    prepared: sign::Prepared,
    attributes: cms::SignedAttributes,
    signature: Vec<u8>,
}

impl Unsealed {
    /// What the signature timestamp is taken over: the signature value.
    fn timestamp_imprint(&self, algorithm: SignatureAlgorithm) -> AppResult<Vec<u8>> {
        algorithm
            .digest()
            .hash(&[&self.signature])
            .map_err(AppError::internal)
    }
}

fn sign_revision(
    pdf: &[u8],
    placement: Placement,
    now: chrono::DateTime<chrono::Utc>,
    key: &PKey<Private>,
    signer: &Cert,
    algorithm: SignatureAlgorithm,
) -> AppResult<Unsealed> {
    let document = input::load(pdf, &Limits::default()).map_err(pdf_error)?;
    let spec = FieldSpec {
        name: &placement.field_name,
        page: placement.page,
        kind: SignatureKind::Cades { signing_time: now },
        appearance: placement.appearance,
        stamps: placement.stamps,
        texts: placement.texts,
    };
    let prepared = sign::prepare(pdf, &document, &spec, DEFAULT_RESERVED).map_err(pdf_error)?;
    drop(document);
    let digest = prepared.digest(algorithm.digest()).map_err(pdf_error)?;
    let attributes = cms::signed_attributes(ID_DATA, &digest, signer, algorithm.digest())
        .map_err(AppError::internal)?;
    let to_sign = cms::to_be_signed(&attributes).map_err(AppError::internal)?;
    let signature = algorithm.sign(key, &to_sign).map_err(AppError::internal)?;
    Ok(Unsealed {
        prepared,
        attributes,
        signature,
    })
}

/// The CMS with its timestamp, embedded: the signed revision.
fn seal_revision(
    unsealed: Unsealed,
    signer: &Cert,
    chain: &[Cert],
    algorithm: SignatureAlgorithm,
    token: Vec<u8>,
) -> AppResult<Vec<u8>> {
    let cms = cms::signed_data(
        ID_DATA,
        None,
        SignerParts {
            signer,
            chain,
            signed_attributes: unsealed.attributes,
            algorithm,
            signature: unsealed.signature,
            timestamp_token: Some(token),
        },
    )
    .map_err(AppError::internal)?;
    unsealed.prepared.embed(&cms).map_err(pdf_error)
}
