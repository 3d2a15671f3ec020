//! A remote timestamping authority over RFC 3161 HTTP (`POST` of an
//! `application/timestamp-query`, answered with an
//! `application/timestamp-reply`). Leaf module: no database, no domain
//! rules. Without one configured, the platform's own TSA stamps.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::pki::algorithms::Digest;
use crate::pki::tsa;

#[derive(Debug, thiserror::Error)]
#[error("timestamp authority: {0}")]
pub struct TsaError(pub String);

pub struct HttpTsa {
    client: reqwest::Client,
    url: String,
    token: Option<SecretString>,
}

impl HttpTsa {
    pub fn new(url: &str, token: Option<SecretString>) -> Result<Self, TsaError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| TsaError(format!("client: {e}")))?;
        Ok(Self {
            client,
            url: url.to_owned(),
            token,
        })
    }

    /// A token over `imprint` (made with `algorithm`), checked to answer
    /// this request.
    pub async fn stamp(&self, algorithm: Digest, imprint: &[u8]) -> Result<Vec<u8>, TsaError> {
        let mut nonce = [0u8; 8];
        openssl::rand::rand_bytes(&mut nonce).map_err(|e| TsaError(e.to_string()))?;
        let request =
            tsa::request(algorithm, imprint, &nonce).map_err(|e| TsaError(e.to_string()))?;
        let mut call = self
            .client
            .post(&self.url)
            .header("content-type", "application/timestamp-query")
            .body(request.clone());
        if let Some(token) = &self.token {
            call = call.bearer_auth(token.expose_secret());
        }
        let response = call
            .send()
            .await
            .map_err(|e| TsaError(format!("unreachable: {e}")))?;
        if !response.status().is_success() {
            return Err(TsaError(format!("answered {}", response.status())));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| TsaError(format!("unreadable answer: {e}")))?;
        tsa::token_from_response(&body, imprint, &request).map_err(|e| TsaError(e.to_string()))
    }
}
