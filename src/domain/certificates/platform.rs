//! The platform's own keys (root, issuing CA, TSA): stored encrypted, and
//! kept decrypted and parsed per server process, since every signature
//! needs the TSA's and the issuing CA's. Rows of `platform_keys` are only
//! ever inserted, so a key found stays right for the life of the process.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use diesel_async::AsyncPgConnection;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::db::certificates::PlatformKey;
use crate::db::enums::{KeyAlgorithm, KeyPurpose};
use crate::domain::Services;
use crate::error::{AppError, AppResult};
use crate::pki::algorithms::{Digest, SignatureAlgorithm};
use crate::pki::ca::CaMaterial;
use crate::pki::cms::Cert;

use super::algorithms;

const PLATFORM_KEY_CONTEXT: &[u8] = b"platform_keys.private_key";
/// Verified records remembered; past it the memory starts over.
const VERIFIED_KEPT: usize = 4096;

/// The platform TSA's key and certificates, parsed, ready to stamp.
pub(crate) struct Stamping {
    pub cert: Cert,
    /// The issuing CA's certificate: the chain above the TSA's.
    pub chain: Vec<Cert>,
    pub key: PKey<Private>,
    /// The digest of the TSA's suite, for document timestamps' imprints.
    pub digest: Digest,
}

#[derive(Default)]
pub struct PlatformKeys {
    keys: Mutex<HashMap<(KeyPurpose, KeyAlgorithm), CaMaterial>>,
    stamping: Mutex<HashMap<KeyAlgorithm, Arc<Stamping>>>,
    /// Digests of (record, signature) pairs found to be the issuing CA's:
    /// the same bytes verify the same way under a key that never changes.
    verified: Mutex<HashSet<[u8; 32]>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PlatformKeys {
    fn get(&self, purpose: KeyPurpose, algorithm: KeyAlgorithm) -> Option<CaMaterial> {
        lock(&self.keys)
            .get(&(purpose, algorithm))
            .map(|m| CaMaterial {
                cert: m.cert.clone(),
                key: m.key.clone(),
            })
    }

    fn put(&self, purpose: KeyPurpose, algorithm: KeyAlgorithm, material: &CaMaterial) {
        lock(&self.keys).insert(
            (purpose, algorithm),
            CaMaterial {
                cert: material.cert.clone(),
                key: material.key.clone(),
            },
        );
    }
}

pub(super) async fn store(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    purpose: KeyPurpose,
    algorithm: KeyAlgorithm,
    material: &CaMaterial,
) -> AppResult<()> {
    let der = material.cert.to_der().map_err(AppError::internal)?;
    let pkcs8 = material
        .key
        .private_key_to_pkcs8()
        .map_err(AppError::internal)?;
    let sealed = svc
        .keys
        .seal(&pkcs8, PLATFORM_KEY_CONTEXT)
        .map_err(AppError::internal)?;
    PlatformKey::insert(conn, purpose, algorithm, &der, &sealed).await?;
    Ok(())
}

pub(super) async fn load(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    purpose: KeyPurpose,
    algorithm: KeyAlgorithm,
) -> AppResult<Option<CaMaterial>> {
    if let Some(found) = svc.platform_keys.get(purpose, algorithm) {
        return Ok(Some(found));
    }
    let Some(row) = PlatformKey::find(conn, purpose, algorithm).await? else {
        return Ok(None);
    };
    let cert = X509::from_der(&row.certificate_der).map_err(AppError::internal)?;
    let pkcs8 = svc
        .keys
        .open(&row.private_key_enc, PLATFORM_KEY_CONTEXT)
        .map_err(AppError::internal)?;
    let key = PKey::private_key_from_pkcs8(&pkcs8).map_err(AppError::internal)?;
    let material = CaMaterial { cert, key };
    svc.platform_keys.put(purpose, algorithm, &material);
    Ok(Some(material))
}

pub(crate) async fn require(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    purpose: KeyPurpose,
) -> AppResult<CaMaterial> {
    let (_, stored) = algorithms(svc);
    load(conn, svc, purpose, stored).await?.ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "the platform CA ({}) is not initialised",
            purpose.as_str()
        ))
    })
}

fn parsed(cert: &X509) -> AppResult<Cert> {
    let der = cert.to_der().map_err(AppError::internal)?;
    Cert::from_der(&der).map_err(AppError::internal)
}

/// The platform TSA, parsed once per process: parsing its certificates
/// costs a signature as much as its own ECDSA operations.
pub(crate) async fn stamping(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
) -> AppResult<Arc<Stamping>> {
    let (_, stored) = algorithms(svc);
    if let Some(found) = lock(&svc.platform_keys.stamping).get(&stored) {
        return Ok(found.clone());
    }
    let issuing = require(conn, svc, KeyPurpose::Issuing).await?;
    let tsa = require(conn, svc, KeyPurpose::Tsa).await?;
    let digest = SignatureAlgorithm::of_key(&tsa.key)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the TSA key has no known suite")))?
        .digest();
    let parts = Arc::new(Stamping {
        cert: parsed(&tsa.cert)?,
        chain: vec![parsed(&issuing.cert)?],
        key: tsa.key,
        digest,
    });
    lock(&svc.platform_keys.stamping).insert(stored, parts.clone());
    Ok(parts)
}

/// The platform's signature (issuing CA key) over `data`, for records it
/// vouches for, such as seals.
pub async fn platform_sign(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    data: &[u8],
) -> AppResult<Vec<u8>> {
    let (algorithm, _) = algorithms(svc);
    let issuing = require(conn, svc, KeyPurpose::Issuing).await?;
    algorithm
        .suite()
        .sign(&issuing.key, data)
        .map_err(AppError::internal)
}

/// Whether `signature` is the platform's over `data`. A pair verified once
/// is remembered (a seal's record is checked at every signature it makes).
pub async fn platform_verify(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    data: &[u8],
    signature: &[u8],
) -> AppResult<bool> {
    let (algorithm, stored) = algorithms(svc);
    let mut pair = openssl::sha::Sha256::new();
    pair.update(stored.as_str().as_bytes());
    pair.update(&u64::try_from(data.len()).unwrap_or(u64::MAX).to_be_bytes());
    pair.update(data);
    pair.update(signature);
    let pair = pair.finish();
    if lock(&svc.platform_keys.verified).contains(&pair) {
        return Ok(true);
    }
    let issuing = require(conn, svc, KeyPurpose::Issuing).await?;
    let key = issuing.cert.public_key().map_err(AppError::internal)?;
    let valid = algorithm.suite().verify(&key, data, signature);
    if valid {
        let mut verified = lock(&svc.platform_keys.verified);
        if verified.len() >= VERIFIED_KEPT {
            verified.clear();
        }
        verified.insert(pair);
    }
    Ok(valid)
}
