//! `App`: the shared state of one server process (pool, config, keys,
//! adapters, event bus, clock) and its start-up.

use std::io::Write;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ca_review::{CaReview, HttpCaReview, LocalCaReview};
use crate::clock::Clock;
use crate::config::{
    CaReviewAdapterKind, Config, EmailAdapterKind, EventTransport, IdentityAdapterKind, Profile,
    SmsAdapterKind,
};
use crate::db::DbPool;
use crate::domain::Services;
use crate::error::AppError;
use crate::events::{EventBus, Transport};
use crate::identity::{HttpIdentityProvider, IdentityProvider, LocalIdentityProvider};
use crate::jobs::outbox::Senders;
use crate::jobs::{OutboxWaker, Waker};
use crate::notify::email::{FileEmail, SmtpEmail, SmtpSettings};
use crate::notify::sms::{HttpSms, LocalSms};
use crate::pki::secrets::MasterKey;
use crate::storage::BlobStore;
use crate::tsa_client::HttpTsa;

/// Cheap to clone: every clone shares one `AppState`.
#[derive(Clone)]
pub struct App(Arc<AppState>);

pub struct AppState {
    pub config: Config,
    pub pool: DbPool,
    pub keys: MasterKey,
    pub clock: Clock,
    pub events: EventBus,
    pub storage: BlobStore,
    pub identity: Arc<dyn IdentityProvider>,
    pub ca_review: Arc<dyn CaReview>,
    /// A remote RFC 3161 TSA; None: the platform TSA stamps.
    pub remote_tsa: Option<Arc<HttpTsa>>,
    /// Anonymous document verification is CPU-bound: at most this many at
    /// once per server, the rest are told to retry.
    pub verifications: Arc<tokio::sync::Semaphore>,
    pub outbox: OutboxWaker,
    pub documents: Waker,
    /// The platform's CA and TSA keys, decrypted once.
    pub platform_keys: crate::domain::certificates::PlatformKeys,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
    /// Open WebSocket connections, awaited on shutdown.
    pub sockets: TaskTracker,
}

impl Deref for App {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.0
    }
}

impl App {
    pub fn new(config: Config, pool: DbPool, keys: MasterKey) -> anyhow::Result<Self> {
        let identity = build_identity_provider(&config)?;
        let ca_review: Arc<dyn CaReview> = match config.ca.review_adapter {
            CaReviewAdapterKind::Local => Arc::new(LocalCaReview),
            CaReviewAdapterKind::Http => Arc::new(HttpCaReview::new(
                config
                    .ca
                    .review_url
                    .as_deref()
                    .context("YYQ_CA_REVIEW_URL is required with YYQ_CA_REVIEW_ADAPTER=http")?,
                config.ca.review_token.clone(),
            )?),
        };
        let remote_tsa = match &config.tsa.tsa_url {
            Some(url) => Some(Arc::new(HttpTsa::new(url, config.tsa.tsa_token.clone())?)),
            None => None,
        };
        let storage = BlobStore::new(config.data_dir.join("blobs"));
        let events = match config.event_transport {
            EventTransport::Postgres => EventBus::new(Transport::Postgres, None),
            EventTransport::InProcess => EventBus::new(Transport::InProcess, Some(pool.clone())),
        };
        Ok(Self(Arc::new(AppState {
            config,
            pool,
            keys,
            clock: Clock::default(),
            storage,
            events,
            identity,
            ca_review,
            remote_tsa,
            verifications: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
            )),
            outbox: OutboxWaker::default(),
            documents: Waker::default(),
            platform_keys: Default::default(),
            shutdown: CancellationToken::new(),
            sockets: TaskTracker::new(),
        })))
    }

    /// What domain functions need beside a connection.
    pub fn services(&self) -> Services<'_> {
        Services {
            config: &self.config,
            keys: &self.keys,
            clock: &self.clock,
            events: &self.events,
            storage: &self.storage,
            identity: self.identity.as_ref(),
            ca_review: self.ca_review.as_ref(),
            remote_tsa: self.remote_tsa.as_deref(),
            verifications: &self.verifications,
            platform_keys: &self.platform_keys,
            outbox: &self.outbox,
            documents: &self.documents,
        }
    }

    /// Starts the LISTEN connection of the Postgres event transport (nothing
    /// with the in-process one); the receiver fires once it listens.
    pub fn spawn_event_listener(&self, database_url: &str) -> tokio::sync::oneshot::Receiver<()> {
        let (ready, listening) = tokio::sync::oneshot::channel();
        if self.events.transport() == Transport::Postgres {
            tokio::spawn(crate::events::run_listener(
                database_url.to_owned(),
                self.events.clone(),
                self.shutdown.clone(),
                Some(ready),
            ));
        } else {
            let _ = ready.send(());
        }
        listening
    }

    /// Starts the outbox worker and the clean-up job; they stop on shutdown.
    pub fn spawn_background_jobs(&self) -> anyhow::Result<()> {
        let senders = build_senders(&self.config)?;
        tokio::spawn(crate::jobs::outbox::run(
            self.pool.clone(),
            senders,
            self.clock.clone(),
            self.outbox.clone(),
            self.shutdown.clone(),
        ));
        tokio::spawn(crate::jobs::cleanup::run(
            self.pool.clone(),
            self.clock.clone(),
            self.shutdown.clone(),
        ));
        let app = self.clone();
        let period = Duration::from_secs(self.config.ca.refresh_secs.max(1));
        tokio::spawn(crate::jobs::every(
            "ca-refresh",
            period,
            self.shutdown.clone(),
            move || {
                let app = app.clone();
                async move {
                    let mut conn = app.pool.get().await?;
                    crate::domain::certification::refresh::refresh_reviewing(
                        &mut conn,
                        &app.services(),
                    )
                    .await
                    .map_err(AppError::into_anyhow)
                }
            },
        ));
        // One filler per core: filling is CPU work on the blocking pool.
        let fillers = std::thread::available_parallelism().map_or(2, usize::from);
        for _ in 0..fillers {
            let app = self.clone();
            tokio::spawn(crate::jobs::worker(
                "document-fill",
                self.documents.clone(),
                Duration::from_secs(5),
                self.shutdown.clone(),
                move || {
                    let app = app.clone();
                    async move {
                        let mut conn = app.pool.get().await?;
                        crate::domain::tasks::fill::fill_pass(&mut conn, &app.services())
                            .await
                            .map_err(AppError::into_anyhow)
                    }
                },
            ));
        }
        let app = self.clone();
        // Tasks past their deadline are voided within a minute.
        tokio::spawn(crate::jobs::every(
            "task-expiry",
            Duration::from_secs(30),
            self.shutdown.clone(),
            move || {
                let app = app.clone();
                async move {
                    let mut conn = app.pool.get().await?;
                    crate::domain::tasks::lifecycle::expire_pass(&mut conn, &app.services())
                        .await
                        .map_err(AppError::into_anyhow)
                }
            },
        ));
        let app = self.clone();
        // Signing attempts and completions a crash interrupted.
        tokio::spawn(crate::jobs::every(
            "signing-recovery",
            Duration::from_secs(60),
            self.shutdown.clone(),
            move || {
                let app = app.clone();
                async move {
                    let mut conn = app.pool.get().await?;
                    crate::domain::tasks::signing::recover_pass(&mut conn, &app.services())
                        .await
                        .map_err(AppError::into_anyhow)
                }
            },
        ));
        let app = self.clone();
        let period = Duration::from_secs(6 * 3600);
        tokio::spawn(crate::jobs::every(
            "certificate-reminders",
            period,
            self.shutdown.clone(),
            move || {
                let app = app.clone();
                async move {
                    let mut conn = app.pool.get().await?;
                    crate::domain::certificate_reminders::remind_expiring(
                        &mut conn,
                        &app.services(),
                    )
                    .await
                    .map_err(AppError::into_anyhow)
                }
            },
        ));
        Ok(())
    }
}

fn build_identity_provider(config: &Config) -> anyhow::Result<Arc<dyn IdentityProvider>> {
    Ok(match config.identity.identity_adapter {
        IdentityAdapterKind::Local => Arc::new(LocalIdentityProvider {
            public_base_url: config.public_base_url(),
        }),
        IdentityAdapterKind::Http => Arc::new(HttpIdentityProvider::new(
            config
                .identity
                .url
                .as_deref()
                .context("YYQ_IDENTITY_URL is required with YYQ_IDENTITY_ADAPTER=http")?,
            config.identity.token.clone(),
            &config.public_base_url(),
        )?),
    })
}

pub fn build_senders(config: &Config) -> anyhow::Result<Senders> {
    let sms: Arc<dyn crate::notify::sms::SmsSender> = match config.sms.sms_adapter {
        SmsAdapterKind::Local => Arc::new(LocalSms),
        SmsAdapterKind::Http => {
            let url = config
                .sms
                .gateway_url
                .clone()
                .context("YYQ_SMS_GATEWAY_URL is required with YYQ_SMS_ADAPTER=http")?;
            Arc::new(HttpSms::new(url, config.sms.gateway_token.clone())?)
        }
    };
    let email: Arc<dyn crate::notify::email::EmailSender> = match config.email.email_adapter {
        EmailAdapterKind::File => Arc::new(FileEmail::new(
            &config.email.from,
            config.data_dir.join("mail"),
        )?),
        EmailAdapterKind::Smtp => Arc::new(SmtpEmail::new(&SmtpSettings {
            from: &config.email.from,
            host: config
                .email
                .smtp_host
                .as_deref()
                .context("YYQ_SMTP_HOST is required with YYQ_EMAIL_ADAPTER=smtp")?,
            port: config.email.smtp_port,
            tls: config.email.smtp_tls,
            username: config.email.smtp_username.as_deref(),
            password: config.email.smtp_password.as_ref(),
        })?),
    };
    Ok(Senders { sms, email })
}

/// The master key from the environment, its file, or (local profile, first
/// start) a new one written to `<data dir>/master.key` with mode 0600.
pub fn load_master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(key) = &config.master_key {
        return Ok(MasterKey::from_hex(key.expose_secret())?);
    }
    if let Some(path) = &config.master_key_file {
        return read_key_file(path);
    }
    anyhow::ensure!(
        config.profile == Profile::Local,
        "set YYQ_MASTER_KEY or YYQ_MASTER_KEY_FILE"
    );
    let path = config.data_dir.join("master.key");
    if path.exists() {
        return read_key_file(&path);
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let hex_key = MasterKey::generate_hex()?;
    write_private_file(&path, hex_key.as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "generated a new master key for local mode; keep this file, it decrypts stored identities"
    );
    Ok(MasterKey::from_hex(&hex_key)?)
}

fn read_key_file(path: &Path) -> anyhow::Result<MasterKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the master key file {}", path.display()))?;
    MasterKey::from_hex(&text).with_context(|| format!("master key file {}", path.display()))
}

fn write_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_profile_generates_a_private_master_key_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("yyq-key-{}", uuid::Uuid::new_v4()));
        let mut config = Config::for_tests();
        config.master_key = None;
        config.data_dir = dir.clone();
        let first = load_master_key(&config).unwrap();
        let path = dir.join("master.key");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = first.seal(b"x", b"ctx").unwrap();
        let second = load_master_key(&config).unwrap();
        assert_eq!(second.open(&sealed, b"ctx").unwrap(), b"x");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn production_without_a_key_is_refused() {
        let mut config = Config::for_tests();
        config.master_key = None;
        config.profile = Profile::Production;
        assert!(load_master_key(&config).is_err());
    }
}
