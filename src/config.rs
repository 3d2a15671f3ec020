//! The one typed configuration, read from flags and `YYQ_*` environment variables.
//!
//! Every variable the server reads is declared here; the README repeats the
//! table. The one exception is `YYQ_LOG`, the log filter, which is read before
//! anything else so that configuration errors are logged.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use secrecy::SecretString;

/// Which defaults apply and how strict start-up is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// Local adapters, a generated master key, introspection on.
    Local,
    /// Real SMS and email adapters, a master key and a public URL are required.
    Production,
}

/// Which certificate enterprises get on certification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnterpriseCertKind {
    /// The platform generates and keeps the key.
    Cloud,
    /// The enterprise sends a PKCS#10 request; the key stays in its USB key.
    Ukey,
}

/// How events reach subscriptions (see `events.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventTransport {
    /// NOTIFY on commit; every process on the database delivers every event.
    Postgres,
    /// This process only, at once; for a single node.
    InProcess,
}

/// The signature algorithm of the platform CA and the certificates it issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertAlgorithm {
    /// ECDSA P-256 with SHA-256: accepted by every PDF validator.
    EcdsaP256,
    /// SM2 with SM3 (国密).
    Sm2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmsAdapterKind {
    /// Messages land in the `sms_outbox` table; read them with `yuyunqian outbox`.
    Local,
    /// Messages are POSTed as JSON to `YYQ_SMS_GATEWAY_URL`.
    Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmailAdapterKind {
    /// Messages are written as .eml files under `<data dir>/mail`.
    File,
    /// Messages go out through an SMTP relay.
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdentityAdapterKind {
    /// Decides by documented test identities; for local use only.
    Local,
    /// Calls a verification gateway over HTTP (see `identity.rs`).
    Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// local | production
    #[arg(
        long,
        env = "YYQ_PROFILE",
        value_enum,
        default_value = "local",
        global = true
    )]
    pub profile: Profile,

    /// Address the HTTP server listens on.
    #[arg(
        long,
        env = "YYQ_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,

    /// PostgreSQL URL; when unset, the local server (or a private cluster) is used.
    #[arg(long, env = "YYQ_DATABASE_URL", value_parser = secret, global = true)]
    pub database_url: Option<SecretString>,

    /// Directory for generated keys, mail files and a private database cluster.
    #[arg(long, env = "YYQ_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// URL under which clients reach this server (links in SMS, QR codes, files).
    #[arg(long, env = "YYQ_PUBLIC_BASE_URL", global = true)]
    pub public_base_url: Option<String>,

    /// 32-byte master key, hex; encrypts ID numbers and private keys at rest.
    #[arg(long, env = "YYQ_MASTER_KEY", value_parser = secret, global = true)]
    pub master_key: Option<SecretString>,

    /// File holding the hex master key (used when YYQ_MASTER_KEY is unset).
    #[arg(long, env = "YYQ_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,

    /// ecdsa-p256 | sm2: the algorithm of the platform CA and issued certificates.
    #[arg(
        long,
        env = "YYQ_CERT_ALGORITHM",
        value_enum,
        default_value = "ecdsa-p256",
        global = true
    )]
    pub cert_algorithm: CertAlgorithm,

    /// cloud | ukey: the certificate kind of enterprise certification.
    #[arg(
        long,
        env = "YYQ_ENTERPRISE_CERT_KIND",
        value_enum,
        default_value = "cloud",
        global = true
    )]
    pub enterprise_cert_kind: EnterpriseCertKind,

    /// postgres | in-process: how events reach subscriptions.
    #[arg(
        long,
        env = "YYQ_EVENT_TRANSPORT",
        value_enum,
        default_value = "postgres",
        global = true
    )]
    pub event_transport: EventTransport,

    /// Serve the introspection schema and "did you mean" hints (default: on in local).
    #[arg(long, env = "YYQ_INTROSPECTION", global = true)]
    pub introspection: Option<bool>,

    /// Browser origins allowed to open WebSockets and make CORS requests (comma separated).
    #[arg(
        long,
        env = "YYQ_ALLOWED_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub allowed_origins: Vec<String>,

    /// Reverse proxies whose X-Forwarded-For is believed (comma separated IPs).
    #[arg(
        long,
        env = "YYQ_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<IpAddr>,

    #[command(flatten)]
    pub sms: SmsConfig,

    #[command(flatten)]
    pub email: EmailConfig,

    #[command(flatten)]
    pub identity: IdentityConfig,

    #[command(flatten)]
    pub ca: CaConfig,

    #[command(flatten)]
    pub tsa: TsaConfig,

    #[command(flatten)]
    pub sessions: SessionConfig,

    #[command(flatten)]
    pub limits: Limits,
    /// Tests only, never read from the environment: a named point of a
    /// multi-phase operation fails as if the process died there.
    #[arg(skip)]
    pub failpoint: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SmsConfig {
    /// local | http
    #[arg(
        long = "sms-adapter",
        env = "YYQ_SMS_ADAPTER",
        value_enum,
        default_value = "local",
        global = true
    )]
    pub sms_adapter: SmsAdapterKind,
    /// Gateway endpoint for the http adapter.
    #[arg(long = "sms-gateway-url", env = "YYQ_SMS_GATEWAY_URL", global = true)]
    pub gateway_url: Option<String>,
    /// Bearer token sent to the gateway.
    #[arg(long = "sms-gateway-token", env = "YYQ_SMS_GATEWAY_TOKEN", value_parser = secret, global = true)]
    pub gateway_token: Option<SecretString>,
}

#[derive(Debug, Clone, Args)]
pub struct EmailConfig {
    /// file | smtp
    #[arg(
        long = "email-adapter",
        env = "YYQ_EMAIL_ADAPTER",
        value_enum,
        default_value = "file",
        global = true
    )]
    pub email_adapter: EmailAdapterKind,
    /// Sender address of every email.
    #[arg(
        long = "email-from",
        env = "YYQ_EMAIL_FROM",
        default_value = "豫云签 <noreply@yuyunqian.local>",
        global = true
    )]
    pub from: String,
    #[arg(long = "smtp-host", env = "YYQ_SMTP_HOST", global = true)]
    pub smtp_host: Option<String>,
    #[arg(long = "smtp-port", env = "YYQ_SMTP_PORT", global = true)]
    pub smtp_port: Option<u16>,
    /// none | starttls | tls
    #[arg(
        long = "smtp-tls",
        env = "YYQ_SMTP_TLS",
        value_enum,
        default_value = "starttls",
        global = true
    )]
    pub smtp_tls: SmtpTls,
    #[arg(long = "smtp-username", env = "YYQ_SMTP_USERNAME", global = true)]
    pub smtp_username: Option<String>,
    #[arg(long = "smtp-password", env = "YYQ_SMTP_PASSWORD", value_parser = secret, global = true)]
    pub smtp_password: Option<SecretString>,
}

#[derive(Debug, Clone, Args)]
pub struct IdentityConfig {
    /// local | http
    #[arg(
        long = "identity-adapter",
        env = "YYQ_IDENTITY_ADAPTER",
        value_enum,
        default_value = "local",
        global = true
    )]
    pub identity_adapter: IdentityAdapterKind,
    /// Base URL of the identity-verification gateway (http adapter).
    #[arg(long = "identity-url", env = "YYQ_IDENTITY_URL", global = true)]
    pub url: Option<String>,
    /// Bearer token sent to the identity gateway.
    #[arg(long = "identity-token", env = "YYQ_IDENTITY_TOKEN", value_parser = secret, global = true)]
    pub token: Option<SecretString>,
    /// HMAC-SHA256 secret that identity providers sign their webhooks with.
    #[arg(long = "identity-webhook-secret", env = "YYQ_IDENTITY_WEBHOOK_SECRET", value_parser = secret, global = true)]
    pub webhook_secret: Option<SecretString>,
}

#[derive(Debug, Clone, Args)]
pub struct CaConfig {
    /// local | http: who reviews certification orders (see `ca_review.rs`).
    #[arg(
        long = "ca-review-adapter",
        env = "YYQ_CA_REVIEW_ADAPTER",
        value_enum,
        default_value = "local",
        global = true
    )]
    pub review_adapter: CaReviewAdapterKind,
    /// Base URL of the remote CA's review desk (http adapter).
    #[arg(long = "ca-review-url", env = "YYQ_CA_REVIEW_URL", global = true)]
    pub review_url: Option<String>,
    /// Bearer token sent to the remote CA.
    #[arg(long = "ca-review-token", env = "YYQ_CA_REVIEW_TOKEN", value_parser = secret, global = true)]
    pub review_token: Option<SecretString>,
    /// How often reviewing orders are refreshed from the CA (seconds).
    #[arg(
        long = "ca-refresh-secs",
        env = "YYQ_CA_REFRESH_SECS",
        default_value_t = 300,
        global = true
    )]
    pub refresh_secs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct TsaConfig {
    /// An RFC 3161 timestamping service (http) for signature and document
    /// timestamps; unset: the platform's own TSA stamps.
    #[arg(long = "tsa-url", env = "YYQ_TSA_URL", global = true)]
    pub tsa_url: Option<String>,
    /// Bearer token sent to the timestamping service.
    #[arg(long = "tsa-token", env = "YYQ_TSA_TOKEN", value_parser = secret, global = true)]
    pub tsa_token: Option<SecretString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CaReviewAdapterKind {
    /// The platform's own CA: OPERATORs decide in the API.
    Local,
    /// A remote CA's review desk over HTTP.
    Http,
}

#[derive(Debug, Clone, Args)]
pub struct SessionConfig {
    /// A session unused this long ends (minutes).
    #[arg(
        long = "session-idle-minutes",
        env = "YYQ_SESSION_IDLE_MINUTES",
        default_value_t = 120,
        global = true
    )]
    pub idle_minutes: u32,
    /// A session ends this long after login whatever its use (hours).
    #[arg(
        long = "session-lifetime-hours",
        env = "YYQ_SESSION_LIFETIME_HOURS",
        default_value_t = 168,
        global = true
    )]
    pub lifetime_hours: u32,
}

#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Deepest selection nesting a query may have.
    #[arg(
        long = "max-query-depth",
        env = "YYQ_MAX_QUERY_DEPTH",
        default_value_t = 10,
        global = true
    )]
    pub max_depth: usize,
    /// Highest complexity (fields weighted by their cost) a query may have.
    #[arg(
        long = "max-query-complexity",
        env = "YYQ_MAX_QUERY_COMPLEXITY",
        default_value_t = 500,
        global = true
    )]
    pub max_complexity: usize,
    /// Most aliases a document may use.
    #[arg(
        long = "max-query-aliases",
        env = "YYQ_MAX_QUERY_ALIASES",
        default_value_t = 15,
        global = true
    )]
    pub max_aliases: usize,
    /// Most directives a document may use.
    #[arg(
        long = "max-query-directives",
        env = "YYQ_MAX_QUERY_DIRECTIVES",
        default_value_t = 10,
        global = true
    )]
    pub max_directives: usize,
    /// Largest query document in bytes.
    #[arg(
        long = "max-query-bytes",
        env = "YYQ_MAX_QUERY_BYTES",
        default_value_t = 15_000,
        global = true
    )]
    pub max_document_bytes: usize,
    /// Most lexical tokens a query document may have.
    #[arg(
        long = "max-query-tokens",
        env = "YYQ_MAX_QUERY_TOKENS",
        default_value_t = 2_000,
        global = true
    )]
    pub max_tokens: usize,
    /// Largest request body in bytes (uploads included).
    #[arg(long = "max-body-bytes", env = "YYQ_MAX_BODY_BYTES", default_value_t = 48 * 1024 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// Largest single uploaded file in bytes.
    #[arg(long = "max-upload-bytes", env = "YYQ_MAX_UPLOAD_BYTES", default_value_t = 20 * 1024 * 1024, global = true)]
    pub max_upload_bytes: usize,
    /// Most files one request may upload.
    #[arg(
        long = "max-uploads",
        env = "YYQ_MAX_UPLOADS",
        default_value_t = 8,
        global = true
    )]
    pub max_uploads: usize,
    /// Most live subscriptions on one WebSocket.
    #[arg(
        long = "max-ws-subscriptions",
        env = "YYQ_MAX_WS_SUBSCRIPTIONS",
        default_value_t = 20,
        global = true
    )]
    pub max_ws_subscriptions: usize,
    /// Seconds a WebSocket may stay open without `connection_init`.
    #[arg(
        long = "ws-init-timeout-secs",
        env = "YYQ_WS_INIT_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub ws_init_timeout_secs: u64,
    /// SMS codes one client IP may request per hour.
    #[arg(
        long = "sms-codes-per-ip-hour",
        env = "YYQ_SMS_CODES_PER_IP_HOUR",
        default_value_t = 30,
        global = true
    )]
    pub sms_codes_per_ip_hour: u32,
    /// Seconds before another code may be sent to the same phone.
    #[arg(
        long = "sms-resend-secs",
        env = "YYQ_SMS_RESEND_SECS",
        default_value_t = 60,
        global = true
    )]
    pub sms_resend_secs: u32,
    /// SMS codes one phone may receive per day.
    #[arg(
        long = "sms-codes-per-phone-day",
        env = "YYQ_SMS_CODES_PER_PHONE_DAY",
        default_value_t = 10,
        global = true
    )]
    pub sms_codes_per_phone_day: u32,
}

fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

impl Config {
    /// A complete local configuration that reads nothing from the environment.
    pub fn for_tests() -> Self {
        Self {
            profile: Profile::Local,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: None,
            data_dir: std::env::temp_dir().join("yuyunqian-tests"),
            public_base_url: Some("http://127.0.0.1:8080".into()),
            master_key: Some(SecretString::from(
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            )),
            master_key_file: None,
            cert_algorithm: CertAlgorithm::EcdsaP256,
            event_transport: EventTransport::Postgres,
            enterprise_cert_kind: EnterpriseCertKind::Cloud,
            introspection: Some(true),
            allowed_origins: vec!["http://localhost:3000".into()],
            trusted_proxies: Vec::new(),
            sms: SmsConfig {
                sms_adapter: SmsAdapterKind::Local,
                gateway_url: None,
                gateway_token: None,
            },
            email: EmailConfig {
                email_adapter: EmailAdapterKind::File,
                from: "豫云签 <noreply@yuyunqian.local>".into(),
                smtp_host: None,
                smtp_port: None,
                smtp_tls: SmtpTls::Starttls,
                smtp_username: None,
                smtp_password: None,
            },
            identity: IdentityConfig {
                identity_adapter: IdentityAdapterKind::Local,
                url: None,
                token: None,
                webhook_secret: Some(SecretString::from("test-webhook-secret")),
            },
            ca: CaConfig {
                review_adapter: CaReviewAdapterKind::Local,
                review_url: None,
                review_token: None,
                refresh_secs: 300,
            },
            tsa: TsaConfig {
                tsa_url: None,
                tsa_token: None,
            },
            sessions: SessionConfig {
                idle_minutes: 120,
                lifetime_hours: 168,
            },
            limits: Limits {
                max_depth: 10,
                max_complexity: 500,
                max_aliases: 15,
                max_directives: 10,
                max_document_bytes: 15_000,
                max_tokens: 2_000,
                max_body_bytes: 48 * 1024 * 1024,
                max_upload_bytes: 20 * 1024 * 1024,
                max_uploads: 8,
                max_ws_subscriptions: 20,
                ws_init_timeout_secs: 10,
                sms_codes_per_ip_hour: 30,
                sms_codes_per_phone_day: 10,
                sms_resend_secs: 60,
            },
            failpoint: None,
        }
    }

    pub fn introspection_enabled(&self) -> bool {
        self.introspection.unwrap_or(self.profile == Profile::Local)
    }

    /// The base URL clients use, without a trailing slash.
    pub fn public_base_url(&self) -> String {
        match &self.public_base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn ws_init_timeout(&self) -> Duration {
        Duration::from_secs(self.limits.ws_init_timeout_secs)
    }

    /// Refuses a production profile that would fall back to local stand-ins.
    pub fn check(&self) -> Result<(), String> {
        if self.profile != Profile::Production {
            return Ok(());
        }
        let mut missing = Vec::new();
        if self.sms.sms_adapter != SmsAdapterKind::Http || self.sms.gateway_url.is_none() {
            missing.push("YYQ_SMS_ADAPTER=http with YYQ_SMS_GATEWAY_URL");
        }
        if self.email.email_adapter != EmailAdapterKind::Smtp || self.email.smtp_host.is_none() {
            missing.push("YYQ_EMAIL_ADAPTER=smtp with YYQ_SMTP_HOST");
        }
        if self.master_key.is_none() && self.master_key_file.is_none() {
            missing.push("YYQ_MASTER_KEY or YYQ_MASTER_KEY_FILE");
        }
        if self.public_base_url.is_none() {
            missing.push("YYQ_PUBLIC_BASE_URL");
        }
        if self.identity.identity_adapter != IdentityAdapterKind::Http
            || self.identity.url.is_none()
        {
            missing.push("YYQ_IDENTITY_ADAPTER=http with YYQ_IDENTITY_URL");
        }
        if self.identity.webhook_secret.is_none() {
            missing.push("YYQ_IDENTITY_WEBHOOK_SECRET");
        }
        if self.ca.review_adapter == CaReviewAdapterKind::Http && self.ca.review_url.is_none() {
            missing.push("YYQ_CA_REVIEW_URL with YYQ_CA_REVIEW_ADAPTER=http");
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the production profile needs {}",
                missing.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_profile_refuses_local_adapters() {
        let mut config = Config::for_tests();
        config.profile = Profile::Production;
        let err = config.check().unwrap_err();
        assert!(err.contains("YYQ_SMS_ADAPTER=http"));
        assert!(err.contains("YYQ_EMAIL_ADAPTER=smtp"));
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn every_setting_has_a_unique_flag_and_variable() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_parse_without_environment() {
        use clap::Parser;
        let cli = Cli::try_parse_from(["yuyunqian", "--listen", "127.0.0.1:9000"]).unwrap();
        assert_eq!(cli.config.listen.port(), 9000);
        assert_eq!(cli.config.profile, Profile::Local);
        assert!(cli.config.introspection_enabled());
    }

    #[test]
    fn secrets_do_not_print_in_debug() {
        let config = Config::for_tests();
        let printed = format!("{config:?}");
        assert!(!printed.contains("0001020304"));
        assert!(!printed.contains("test-webhook-secret"));
    }
}
