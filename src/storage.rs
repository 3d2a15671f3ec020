//! Content-addressed blob store: bytes are kept once under their SHA-256 and
//! never overwritten. Leaf module: no database.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("blob {0} is missing")]
    Missing(String),
    #[error("blob {0} does not match its hash")]
    Corrupt(String),
    #[error("storage i/o: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        valid.then(|| self.root.join(&sha256[..2]).join(sha256))
    }

    /// Stores `bytes` (written to a temporary file, synced, then renamed into
    /// place) and returns their SHA-256 in lowercase hex.
    pub fn put(&self, bytes: &[u8]) -> Result<String, StorageError> {
        let sha256 = hex::encode(openssl::sha::sha256(bytes));
        let Some(path) = self.path_of(&sha256) else {
            return Err(StorageError::Corrupt(sha256));
        };
        if path.exists() {
            return Ok(sha256);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{sha256}.{}.tmp", uuid::Uuid::new_v4().simple()));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(sha256)
    }

    /// The bytes stored under `sha256`, checked against it.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        let path = self
            .path_of(sha256)
            .ok_or_else(|| StorageError::Missing(sha256.to_owned()))?;
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StorageError::Missing(sha256.to_owned()),
            _ => StorageError::Io(e),
        })?;
        if hex::encode(openssl::sha::sha256(&bytes)) != sha256 {
            return Err(StorageError::Corrupt(sha256.to_owned()));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_and_are_stored_once() {
        let dir = std::env::temp_dir().join(format!("yyq-blobs-{}", uuid::Uuid::new_v4()));
        let store = BlobStore::new(&dir);
        let a = store.put(b"%PDF-1.7 hello").unwrap();
        assert_eq!(store.put(b"%PDF-1.7 hello").unwrap(), a);
        assert_eq!(store.get(&a).unwrap(), b"%PDF-1.7 hello");
        assert!(matches!(
            store.get(&"0".repeat(64)),
            Err(StorageError::Missing(_))
        ));
        assert!(matches!(
            store.get("../etc/passwd"),
            Err(StorageError::Missing(_))
        ));
        std::fs::write(dir.join(&a[..2]).join(&a), b"tampered").unwrap();
        assert!(matches!(store.get(&a), Err(StorageError::Corrupt(_))));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
