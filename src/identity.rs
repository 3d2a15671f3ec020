//! Identity-verification providers (face, bank card 4 factors, carrier 3
//! factors) behind one trait. Leaf module: no database, no domain rules.
//!
//! The local provider decides by documented test identities (see README):
//! a name containing 假 fails every check, a bank card ending in 0000 fails the
//! bank-card check; everything else that is well formed passes.
//!
//! The http provider speaks to a verification gateway (the platform's
//! integration with its real-name vendor):
//! `POST {url}/carrier-3` `{name, idNumber, phone}` and
//! `POST {url}/bank-card-4` `{name, idNumber, phone, bankCard}` answer
//! `{"match": bool, "reason": string?}`; `POST {url}/face`
//! `{name, idNumber, callbackUrl}` answers `{"reference", "url"}` and later
//! POSTs the result to the callback (`/webhooks/identity/http`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, thiserror::Error)]
#[error("identity provider: {0}")]
pub struct ProviderError(pub String);

/// The facts a check compares with the authorities' records.
pub struct PersonFacts<'a> {
    pub name: &'a str,
    pub id_number: &'a str,
    pub phone: &'a str,
    pub bank_card: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Match,
    Mismatch(String),
}

pub struct FaceSession {
    pub reference: String,
    pub url: String,
}

#[async_trait::async_trait]
pub trait IdentityProvider: Send + Sync {
    fn name(&self) -> &'static str;
    async fn check_bank_card_4(&self, person: &PersonFacts<'_>) -> Result<Verdict, ProviderError>;
    async fn check_carrier_3(&self, person: &PersonFacts<'_>) -> Result<Verdict, ProviderError>;
    /// Starts a face check; the result arrives later on the provider's webhook.
    async fn start_face(&self, person: &PersonFacts<'_>) -> Result<FaceSession, ProviderError>;
}

pub struct LocalIdentityProvider {
    pub public_base_url: String,
}

impl LocalIdentityProvider {
    /// What a face check of this person concludes (the local face page asks this).
    pub fn face_verdict(name: &str) -> Verdict {
        name_verdict(name)
    }

    /// The reference format of local face sessions.
    pub fn new_reference(now: DateTime<Utc>) -> String {
        format!(
            "local-{}-{}",
            now.timestamp(),
            uuid::Uuid::new_v4().simple()
        )
    }
}

fn name_verdict(name: &str) -> Verdict {
    if name.contains('假') {
        Verdict::Mismatch("姓名与证件号码不一致".to_owned())
    } else {
        Verdict::Match
    }
}

#[async_trait::async_trait]
impl IdentityProvider for LocalIdentityProvider {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn check_bank_card_4(&self, person: &PersonFacts<'_>) -> Result<Verdict, ProviderError> {
        if person.bank_card.is_some_and(|card| card.ends_with("0000")) {
            return Ok(Verdict::Mismatch("银行卡信息与身份信息不一致".to_owned()));
        }
        Ok(name_verdict(person.name))
    }

    async fn check_carrier_3(&self, person: &PersonFacts<'_>) -> Result<Verdict, ProviderError> {
        Ok(name_verdict(person.name))
    }

    async fn start_face(&self, _person: &PersonFacts<'_>) -> Result<FaceSession, ProviderError> {
        let reference = Self::new_reference(Utc::now());
        let url = format!("{}/identity/local/face/{reference}", self.public_base_url);
        Ok(FaceSession { reference, url })
    }
}

pub struct HttpIdentityProvider {
    client: reqwest::Client,
    url: String,
    token: Option<SecretString>,
    callback_url: String,
}

#[derive(serde::Deserialize)]
struct FactorAnswer {
    #[serde(rename = "match")]
    matches: bool,
    reason: Option<String>,
}

#[derive(serde::Deserialize)]
struct FaceAnswer {
    reference: String,
    url: String,
}

impl HttpIdentityProvider {
    pub fn new(
        url: &str,
        token: Option<SecretString>,
        public_base_url: &str,
    ) -> Result<Self, ProviderError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| ProviderError(format!("client: {e}")))?;
        Ok(Self {
            client,
            url: url.trim_end_matches('/').to_owned(),
            token,
            callback_url: format!("{public_base_url}/webhooks/identity/http"),
        })
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<T, ProviderError> {
        let mut request = self.client.post(format!("{}/{path}", self.url)).json(&body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose_secret());
        }
        let response = request
            .send()
            .await
            .map_err(|e| ProviderError(format!("{path}: unreachable: {e}")))?;
        if !response.status().is_success() {
            return Err(ProviderError(format!(
                "{path}: answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| ProviderError(format!("{path}: unreadable answer: {e}")))
    }

    fn verdict(answer: FactorAnswer) -> Verdict {
        if answer.matches {
            Verdict::Match
        } else {
            Verdict::Mismatch(
                answer
                    .reason
                    .unwrap_or_else(|| "身份信息核验未通过".to_owned()),
            )
        }
    }
}

#[async_trait::async_trait]
impl IdentityProvider for HttpIdentityProvider {
    fn name(&self) -> &'static str {
        "http"
    }

    async fn check_bank_card_4(&self, person: &PersonFacts<'_>) -> Result<Verdict, ProviderError> {
        let body = serde_json::json!({
            "name": person.name, "idNumber": person.id_number,
            "phone": person.phone, "bankCard": person.bank_card,
        });
        Ok(Self::verdict(self.post("bank-card-4", body).await?))
    }

    async fn check_carrier_3(&self, person: &PersonFacts<'_>) -> Result<Verdict, ProviderError> {
        let body = serde_json::json!({
            "name": person.name, "idNumber": person.id_number, "phone": person.phone,
        });
        Ok(Self::verdict(self.post("carrier-3", body).await?))
    }

    async fn start_face(&self, person: &PersonFacts<'_>) -> Result<FaceSession, ProviderError> {
        let body = serde_json::json!({
            "name": person.name, "idNumber": person.id_number, "callbackUrl": self.callback_url,
        });
        let answer: FaceAnswer = self.post("face", body).await?;
        Ok(FaceSession {
            reference: answer.reference,
            url: answer.url,
        })
    }
}
