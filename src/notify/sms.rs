//! SMS adapters: `local` (the outbox table is the inbox; nothing leaves the
//! machine) and `http` (JSON POST to a gateway).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::SendError;

#[async_trait::async_trait]
pub trait SmsSender: Send + Sync {
    /// Short name for logs and metrics.
    fn name(&self) -> &'static str;
    /// Whether the stored body can be blanked after delivery (a real gateway
    /// took it; nothing local needs to read it again).
    fn redacts_after_delivery(&self) -> bool;
    async fn send(&self, phone: &str, body: &str) -> Result<(), SendError>;
}

/// Leaves the message in `sms_outbox`, where `yuyunqian outbox` reads it.
pub struct LocalSms;

#[async_trait::async_trait]
impl SmsSender for LocalSms {
    fn name(&self) -> &'static str {
        "local"
    }

    fn redacts_after_delivery(&self) -> bool {
        false
    }

    async fn send(&self, phone: &str, _body: &str) -> Result<(), SendError> {
        // The body may carry a code: only the masked number reaches the log.
        tracing::info!(
            sms.to = %crate::notify::texts::mask_phone(phone),
            "sms kept in the local outbox (read it with `yuyunqian outbox --phone ...`)"
        );
        Ok(())
    }
}

/// POSTs `{"phone": ..., "content": ...}` to the gateway; non-2xx is retried.
pub struct HttpSms {
    client: reqwest::Client,
    url: String,
    token: Option<SecretString>,
}

impl HttpSms {
    pub fn new(url: String, token: Option<SecretString>) -> Result<Self, SendError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SendError::permanent(format!("sms client: {e}")))?;
        Ok(Self { client, url, token })
    }
}

#[async_trait::async_trait]
impl SmsSender for HttpSms {
    fn name(&self) -> &'static str {
        "http"
    }

    fn redacts_after_delivery(&self) -> bool {
        true
    }

    async fn send(&self, phone: &str, body: &str) -> Result<(), SendError> {
        let mut request = self
            .client
            .post(&self.url)
            .json(&serde_json::json!({ "phone": phone, "content": body }));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose_secret());
        }
        let response = request
            .send()
            .await
            .map_err(|e| SendError::retryable(format!("sms gateway unreachable: {e}")))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SendError::retryable(format!(
                "sms gateway answered {status}"
            )))
        }
    }
}
