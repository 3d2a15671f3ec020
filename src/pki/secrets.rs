//! The master key and what derives from it: AES-256-GCM encryption at rest and
//! keyed hashes for looking up encrypted values.

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the master key must be 32 bytes written as 64 hex digits")]
    BadMasterKey,
    #[error("encrypted value is damaged or was sealed under another key")]
    Undecryptable,
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
}

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Keys derived from the configured master key, one per purpose, so that a
/// hash published in one place never helps to attack another.
pub struct MasterKey {
    encryption: [u8; 32],
    /// HMAC keys, made once: OpenSSL 3.0 makes a key object through its
    /// provider machinery, which costs more than the MAC of a short value.
    lookup: PKey<Private>,
    signing: PKey<Private>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

impl MasterKey {
    pub fn from_hex(hex_key: &str) -> Result<Self, SecretsError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| SecretsError::BadMasterKey)?;
        let root: [u8; 32] = bytes.try_into().map_err(|_| SecretsError::BadMasterKey)?;
        Ok(Self {
            encryption: derive(&root, b"yuyunqian/encryption/v1")?,
            lookup: PKey::hmac(&derive(&root, b"yuyunqian/lookup/v1")?)?,
            signing: PKey::hmac(&derive(&root, b"yuyunqian/signing/v1")?)?,
        })
    }

    /// A fresh random master key as hex, for the first start of a local server.
    pub fn generate_hex() -> Result<String, SecretsError> {
        let mut bytes = [0u8; 32];
        openssl::rand::rand_bytes(&mut bytes)?;
        Ok(hex::encode(bytes))
    }

    /// Encrypts `plaintext`, bound to `context` (what the value is, e.g. a column name).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let mut nonce = [0u8; NONCE_LEN];
        openssl::rand::rand_bytes(&mut nonce)?;
        let mut tag = [0u8; TAG_LEN];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.encryption,
            Some(&nonce),
            context,
            plaintext,
            &mut tag,
        )?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len() + TAG_LEN);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SecretsError> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != VERSION {
            return Err(SecretsError::Undecryptable);
        }
        let (nonce, rest) = sealed[1..].split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.encryption,
            Some(nonce),
            context,
            ciphertext,
            tag,
        )
        .map_err(|_| SecretsError::Undecryptable)
    }

    /// A deterministic keyed hash for finding rows by an encrypted value.
    pub fn lookup_hash(&self, context: &[u8], value: &[u8]) -> Result<Vec<u8>, SecretsError> {
        hmac_with(&self.lookup, &[context, b"\0", value])
    }

    /// A MAC for values the server hands out and later takes back (links, codes).
    pub fn mac(&self, context: &[u8], value: &[u8]) -> Result<Vec<u8>, SecretsError> {
        hmac_with(&self.signing, &[context, b"\0", value])
    }
}

fn derive(root: &[u8; 32], label: &[u8]) -> Result<[u8; 32], SecretsError> {
    let out = hmac_sha256(root, &[label])?;
    out.try_into().map_err(|_| SecretsError::BadMasterKey)
}

pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>, SecretsError> {
    hmac_with(&PKey::hmac(key)?, parts)
}

fn hmac_with(key: &PKey<Private>, parts: &[&[u8]]) -> Result<Vec<u8>, SecretsError> {
    let mut signer = Signer::new(MessageDigest::sha256(), key)?;
    for part in parts {
        signer.update(part)?;
    }
    Ok(signer.sign_to_vec()?)
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    openssl::sha::sha256(data).to_vec()
}

/// Constant-time equality of two byte strings (false when lengths differ).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_hex(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn sealed_value_opens_with_same_context_only() {
        let key = key();
        let sealed = key.seal(b"410105199001011234", b"users.id_number").unwrap();
        assert_ne!(&sealed[13..31], b"410105199001011234");
        assert_eq!(
            key.open(&sealed, b"users.id_number").unwrap(),
            b"410105199001011234"
        );
        assert!(key.open(&sealed, b"other").is_err());
    }

    #[test]
    fn tampered_ciphertext_is_refused() {
        let key = key();
        let mut sealed = key.seal(b"secret", b"ctx").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(matches!(
            key.open(&sealed, b"ctx"),
            Err(SecretsError::Undecryptable)
        ));
    }

    #[test]
    fn another_master_key_cannot_open() {
        let sealed = key().seal(b"secret", b"ctx").unwrap();
        let other = MasterKey::from_hex(&"cd".repeat(32)).unwrap();
        assert!(other.open(&sealed, b"ctx").is_err());
    }

    #[test]
    fn lookup_hash_is_deterministic_and_keyed() {
        let a = key().lookup_hash(b"id", b"x").unwrap();
        assert_eq!(a, key().lookup_hash(b"id", b"x").unwrap());
        let other = MasterKey::from_hex(&"cd".repeat(32)).unwrap();
        assert_ne!(a, other.lookup_hash(b"id", b"x").unwrap());
    }

    #[test]
    fn short_or_non_hex_master_keys_are_refused() {
        assert!(MasterKey::from_hex("abcd").is_err());
        assert!(MasterKey::from_hex(&"zz".repeat(32)).is_err());
    }
}
