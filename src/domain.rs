//! The rules of the platform, one module per domain. Functions take a
//! connection first, decide, and open the transactions. No axum or
//! async-graphql here.

pub mod accounts;
pub mod audit;
pub mod certificate_reminders;
pub mod certificates;
pub mod certification;
pub mod contacts;
pub mod fields;
pub mod files;
pub mod identity_numbers;
pub mod membership;
pub mod page_codes;
pub mod pdf_signatures;
pub mod platform_roles;
pub mod quota;
pub mod real_name;
pub mod seals;
pub mod tasks;
pub mod templates;
pub mod verification;

use chrono::{DateTime, Utc};

use crate::ca_review::CaReview;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::ids::{SessionId, UserId};
use crate::events::EventBus;
use crate::identity::IdentityProvider;
use crate::jobs::{OutboxWaker, Waker};
use crate::pki::secrets::MasterKey;
use crate::storage::BlobStore;

/// The services domain functions use beside the connection.
pub struct Services<'a> {
    pub config: &'a Config,
    pub keys: &'a MasterKey,
    pub clock: &'a Clock,
    pub events: &'a EventBus,
    pub storage: &'a BlobStore,
    pub identity: &'a dyn IdentityProvider,
    pub ca_review: &'a dyn CaReview,
    pub remote_tsa: Option<&'a crate::tsa_client::HttpTsa>,
    pub verifications: &'a tokio::sync::Semaphore,
    pub outbox: &'a OutboxWaker,
    /// Wakes the fill job after a batch commits.
    pub documents: &'a Waker,
    pub platform_keys: &'a crate::domain::certificates::PlatformKeys,
}

/// Who is asking, as far as the network tells.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub client_ip: String,
    pub user_agent: Option<String>,
}

/// A logged-in person: the session's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: UserId,
    pub session_id: SessionId,
    /// When the session ends at the latest (its absolute lifetime).
    pub session_expires_at: DateTime<Utc>,
    /// When the session logged in; sensitive changes need a recent login.
    pub session_created_at: DateTime<Utc>,
}
