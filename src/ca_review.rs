//! The certificate authority's review of certification orders, behind one
//! trait. Leaf module: no database, no domain rules.
//!
//! The local CA is the platform's own: its OPERATORs decide with
//! `reviewCertificateOrder`, which applies the decision at once, so the
//! local adapter never holds a decision the order does not show yet.
//!
//! The http adapter asks a remote CA's review desk:
//! `GET {url}/orders/{orderId}` answers
//! `{"status": "PENDING" | "APPROVED" | "REJECTED", "reason": string?}`.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
#[error("CA review desk: {0}")]
pub struct CaError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaVerdict {
    Pending,
    Approved,
    Rejected(String),
}

#[async_trait::async_trait]
pub trait CaReview: Send + Sync {
    fn name(&self) -> &'static str;
    /// What the CA decided on an order under review.
    async fn verdict(&self, order: Uuid) -> Result<CaVerdict, CaError>;
}

pub struct LocalCaReview;

#[async_trait::async_trait]
impl CaReview for LocalCaReview {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn verdict(&self, _order: Uuid) -> Result<CaVerdict, CaError> {
        // The operators' decisions are applied when they are made.
        Ok(CaVerdict::Pending)
    }
}

pub struct HttpCaReview {
    client: reqwest::Client,
    url: String,
    token: Option<SecretString>,
}

#[derive(serde::Deserialize)]
struct Answer {
    status: String,
    reason: Option<String>,
}

impl HttpCaReview {
    pub fn new(url: &str, token: Option<SecretString>) -> Result<Self, CaError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| CaError(format!("client: {e}")))?;
        Ok(Self {
            client,
            url: url.trim_end_matches('/').to_owned(),
            token,
        })
    }
}

#[async_trait::async_trait]
impl CaReview for HttpCaReview {
    fn name(&self) -> &'static str {
        "http"
    }

    async fn verdict(&self, order: Uuid) -> Result<CaVerdict, CaError> {
        let mut request = self.client.get(format!("{}/orders/{order}", self.url));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose_secret());
        }
        let response = request
            .send()
            .await
            .map_err(|e| CaError(format!("unreachable: {e}")))?;
        if !response.status().is_success() {
            return Err(CaError(format!("answered {}", response.status())));
        }
        let answer: Answer = response
            .json()
            .await
            .map_err(|e| CaError(format!("unreadable answer: {e}")))?;
        match answer.status.as_str() {
            "PENDING" => Ok(CaVerdict::Pending),
            "APPROVED" => Ok(CaVerdict::Approved),
            "REJECTED" => Ok(CaVerdict::Rejected(
                answer
                    .reason
                    .filter(|r| !r.trim().is_empty())
                    .unwrap_or_else(|| "CA 审核未通过".to_owned()),
            )),
            other => Err(CaError(format!("unknown status {other:?}"))),
        }
    }
}
