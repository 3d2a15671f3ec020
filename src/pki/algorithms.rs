//! The two algorithm suites of the platform's signatures: ECDSA P-256 with
//! SHA-256, and SM2 with SM3 (国密). The key decides which one signs; a
//! verifier takes what the signed structure declares.

use const_oid::ObjectIdentifier;
use openssl::hash::{Hasher, MessageDigest};
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKeyRef, Private};
use openssl::sign::{Signer, Verifier};

use crate::pki::sm2;

pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub const ID_SM3: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.401");
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const P256_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Sha256,
    Sm3,
}

impl Digest {
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha256 => ID_SHA256,
            Self::Sm3 => ID_SM3,
        }
    }

    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        [Self::Sha256, Self::Sm3]
            .into_iter()
            .find(|d| d.oid() == *oid)
    }

    pub fn message_digest(self) -> MessageDigest {
        match self {
            Self::Sha256 => MessageDigest::sha256(),
            Self::Sm3 => MessageDigest::sm3(),
        }
    }

    /// The digest of the concatenated `parts`.
    pub fn hash(self, parts: &[&[u8]]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut hasher = Hasher::new(self.message_digest())?;
        for part in parts {
            hasher.update(part)?;
        }
        Ok(hasher.finish()?.to_vec())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    EcdsaSha256,
    Sm2Sm3,
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("only ECDSA P-256 and SM2 keys sign here")]
    UnsupportedKey,
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
    #[error("{0}")]
    Sm2(#[from] sm2::Sm2Error),
}

impl SignatureAlgorithm {
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::EcdsaSha256 => ECDSA_WITH_SHA256,
            Self::Sm2Sm3 => sm2::SM2_WITH_SM3,
        }
    }

    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        [Self::EcdsaSha256, Self::Sm2Sm3]
            .into_iter()
            .find(|a| a.oid() == *oid)
    }

    /// The digest the suite hashes with.
    pub fn digest(self) -> Digest {
        match self {
            Self::EcdsaSha256 => Digest::Sha256,
            Self::Sm2Sm3 => Digest::Sm3,
        }
    }

    /// The suite a key signs with, by its curve.
    pub fn of_key<T: HasPublic>(key: &PKeyRef<T>) -> Option<Self> {
        // OpenSSL 3.0 types keys built on the SM2 curve as SM2, and an EC
        // key names its curve. Keys it decoded into its SM2 provider have
        // no type: their encoded public key names the curve, but encoding
        // costs more than the signature, so it is the last resort.
        match key.id() {
            Id::SM2 => return Some(Self::Sm2Sm3),
            Id::EC => {
                if let Ok(ec) = key.ec_key() {
                    return match ec.group().curve_name() {
                        Some(Nid::X9_62_PRIME256V1) => Some(Self::EcdsaSha256),
                        Some(Nid::SM2) => Some(Self::Sm2Sm3),
                        _ => None,
                    };
                }
            }
            Id::RSA | Id::DSA | Id::ED25519 | Id::ED448 => return None,
            _ => {}
        }
        let der = key.public_key_to_der().ok()?;
        let info = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice()).ok()?;
        let curve = info.algorithm.parameters_oid().ok()?;
        if curve == P256_CURVE {
            Some(Self::EcdsaSha256)
        } else if curve == sm2::SM2_CURVE {
            Some(Self::Sm2Sm3)
        } else {
            None
        }
    }

    /// The signature (DER) of `data` by `key`, which must be of this suite.
    pub fn sign(self, key: &PKeyRef<Private>, data: &[u8]) -> Result<Vec<u8>, SignError> {
        if Self::of_key(key) != Some(self) {
            return Err(SignError::UnsupportedKey);
        }
        match self {
            Self::EcdsaSha256 => {
                let mut signer = Signer::new(MessageDigest::sha256(), key)?;
                signer.update(data)?;
                Ok(signer.sign_to_vec()?)
            }
            Self::Sm2Sm3 => Ok(sm2::sign(key, data)?),
        }
    }

    /// Whether `signature` is this suite's signature of `data` by the key
    /// of `public_key`; false for a key of the other suite.
    pub fn verify<T: HasPublic>(
        self,
        public_key: &PKeyRef<T>,
        data: &[u8],
        signature: &[u8],
    ) -> bool {
        if Self::of_key(public_key) != Some(self) {
            return false;
        }
        match self {
            Self::EcdsaSha256 => (|| {
                let mut verifier = Verifier::new(MessageDigest::sha256(), public_key).ok()?;
                verifier.update(data).ok()?;
                verifier.verify(signature).ok()
            })()
            .unwrap_or(false),
            Self::Sm2Sm3 => public_key
                .public_key_to_der()
                .ok()
                .and_then(|spki| sm2::verify(&spki, data, signature).ok())
                .unwrap_or(false),
        }
    }
}
