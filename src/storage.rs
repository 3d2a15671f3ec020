//! Content-addressed blob store: bytes are kept once under their SHA-256 and
//! never overwritten. Leaf module: no database.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Blobs up to this size are kept in memory once read or written.
const CACHED_BLOB_MAX: usize = 1 << 20;
/// The memory all kept blobs may take, per process.
const CACHE_BUDGET: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("blob {0} is missing")]
    Missing(String),
    #[error("blob {0} does not match its hash")]
    Corrupt(String),
    #[error("storage i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
    recent: Arc<Mutex<Recent>>,
    /// Fan-out directories whose entry in the root this process synced.
    synced: Arc<Mutex<HashSet<PathBuf>>>,
}

/// Small blobs read or written lately, oldest first out. Bytes are kept
/// only once checked against their hash, and a hash names one content
/// forever, so a blob found here needs no check.
#[derive(Debug, Default)]
struct Recent {
    blobs: HashMap<String, Arc<[u8]>>,
    order: VecDeque<String>,
    bytes: usize,
}

impl Recent {
    fn get(&self, sha256: &str) -> Option<Arc<[u8]>> {
        self.blobs.get(sha256).cloned()
    }

    fn keep(&mut self, sha256: &str, bytes: &[u8]) {
        if bytes.len() > CACHED_BLOB_MAX || self.blobs.contains_key(sha256) {
            return;
        }
        while self.bytes + bytes.len() > CACHE_BUDGET {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.blobs.remove(&oldest) {
                self.bytes -= gone.len();
            }
        }
        self.bytes += bytes.len();
        self.order.push_back(sha256.to_owned());
        self.blobs.insert(sha256.to_owned(), Arc::from(bytes));
    }
}

impl BlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            recent: Arc::default(),
            synced: Arc::default(),
        }
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        valid.then(|| self.root.join(&sha256[..2]).join(sha256))
    }

    /// Stores `bytes` (written to a temporary file, synced, renamed into
    /// place, the directory synced) and returns their SHA-256 in lowercase
    /// hex. Once it returns, the blob survives a crash.
    pub fn put(&self, bytes: &[u8]) -> Result<String, StorageError> {
        let sha256 = hex::encode(openssl::sha::sha256(bytes));
        let Some(path) = self.path_of(&sha256) else {
            return Err(StorageError::Corrupt(sha256));
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        if path.exists() {
            // Another put may have renamed it without syncing yet.
            sync_dir(dir)?;
            return Ok(sha256);
        }
        let synced = self
            .synced
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(dir);
        if !synced {
            std::fs::create_dir_all(dir)?;
            // The directory's own entry, whoever made it.
            sync_dir(&self.root)?;
            self.synced
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(dir.to_path_buf());
        }
        let tmp = dir.join(format!(".{sha256}.{}.tmp", uuid::Uuid::new_v4().simple()));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        // Without this a crash may lose the rename, and with it a blob the
        // database already names.
        sync_dir(dir)?;
        self.recent().keep(&sha256, bytes);
        Ok(sha256)
    }

    /// [`get`](Self::get) for async code: a blob kept in memory comes back
    /// at once, any other is read on a blocking thread. Handing work to
    /// that thread and back wakes two threads, which costs more than
    /// copying a kept blob.
    pub async fn fetch(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        if let Some(kept) = self.recent().get(sha256) {
            return Ok(kept.to_vec());
        }
        let store = self.clone();
        let sha256 = sha256.to_owned();
        tokio::task::spawn_blocking(move || store.get(&sha256)).await?
    }

    /// [`put`](Self::put) on a blocking thread, for async code: it waits
    /// for the disk.
    pub async fn save(&self, bytes: Vec<u8>) -> Result<String, StorageError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.put(&bytes)).await?
    }

    /// The bytes stored under `sha256`, checked against it.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        if let Some(kept) = self.recent().get(sha256) {
            return Ok(kept.to_vec());
        }
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
        self.recent().keep(sha256, &bytes);
        Ok(bytes)
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
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
        // A store that kept the blob still has the right bytes; one that
        // reads the file finds it damaged.
        assert_eq!(store.get(&a).unwrap(), b"%PDF-1.7 hello");
        let fresh = BlobStore::new(&dir);
        assert!(matches!(fresh.get(&a), Err(StorageError::Corrupt(_))));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn async_callers_get_kept_blobs_and_checked_files() {
        let dir = std::env::temp_dir().join(format!("yyq-blobs-{}", uuid::Uuid::new_v4()));
        let store = BlobStore::new(&dir);
        let a = store.save(b"%PDF-1.7 kept".to_vec()).await.unwrap();
        assert!(dir.join(&a[..2]).join(&a).exists(), "saved to disk");
        std::fs::write(dir.join(&a[..2]).join(&a), b"tampered").unwrap();
        // Kept in memory by the save, so the file is not read again.
        assert_eq!(store.fetch(&a).await.unwrap(), b"%PDF-1.7 kept");
        // A store that has not seen it reads the file and checks it.
        let fresh = BlobStore::new(&dir);
        assert!(matches!(
            fresh.fetch(&a).await,
            Err(StorageError::Corrupt(_))
        ));
        assert!(matches!(
            fresh.fetch(&"0".repeat(64)).await,
            Err(StorageError::Missing(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
