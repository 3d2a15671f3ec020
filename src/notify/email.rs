//! Email adapters: SMTP through lettre, and a file transport for local mode.

use std::path::PathBuf;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use super::SendError;
use crate::config::SmtpTls;

#[async_trait::async_trait]
pub trait EmailSender: Send + Sync {
    fn name(&self) -> &'static str;
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), SendError>;
}

fn build_message(
    from: &Mailbox,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<Message, SendError> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| SendError::permanent(format!("bad recipient address: {e}")))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())
        .map_err(|e| SendError::permanent(format!("building email: {e}")))
}

fn parse_from(from: &str) -> Result<Mailbox, SendError> {
    from.parse()
        .map_err(|e| SendError::permanent(format!("bad sender address {from:?}: {e}")))
}

/// Writes each message as an .eml file into a directory.
pub struct FileEmail {
    from: Mailbox,
    transport: AsyncFileTransport<Tokio1Executor>,
    dir: PathBuf,
}

impl FileEmail {
    pub fn new(from: &str, dir: PathBuf) -> Result<Self, SendError> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| SendError::permanent(format!("creating {}: {e}", dir.display())))?;
        Ok(Self {
            from: parse_from(from)?,
            transport: AsyncFileTransport::new(&dir),
            dir,
        })
    }
}

#[async_trait::async_trait]
impl EmailSender for FileEmail {
    fn name(&self) -> &'static str {
        "file"
    }

    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), SendError> {
        let message = build_message(&self.from, to, subject, body)?;
        let id = self
            .transport
            .send(message)
            .await
            .map_err(|e| SendError::retryable(format!("writing email file: {e}")))?;
        tracing::info!(email.file = %self.dir.join(format!("{id}.eml")).display(), "email written");
        Ok(())
    }
}

pub struct SmtpEmail {
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

pub struct SmtpSettings<'a> {
    pub from: &'a str,
    pub host: &'a str,
    pub port: Option<u16>,
    pub tls: SmtpTls,
    pub username: Option<&'a str>,
    pub password: Option<&'a SecretString>,
}

impl SmtpEmail {
    pub fn new(settings: &SmtpSettings<'_>) -> Result<Self, SendError> {
        let builder = match settings.tls {
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(settings.host),
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(settings.host)
            }
            SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                settings.host,
            )),
        }
        .map_err(|e| SendError::permanent(format!("smtp relay: {e}")))?;
        let mut builder = builder;
        if let Some(port) = settings.port {
            builder = builder.port(port);
        }
        if let (Some(user), Some(password)) = (settings.username, settings.password) {
            builder = builder.credentials(Credentials::new(
                user.to_owned(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            from: parse_from(settings.from)?,
            transport: builder.build(),
        })
    }
}

#[async_trait::async_trait]
impl EmailSender for SmtpEmail {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), SendError> {
        let message = build_message(&self.from, to, subject, body)?;
        self.transport.send(message).await.map_err(|e| {
            if e.is_permanent() {
                SendError::permanent(format!("smtp refused: {e}"))
            } else {
                SendError::retryable(format!("smtp: {e}"))
            }
        })?;
        Ok(())
    }
}
