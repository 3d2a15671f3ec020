//! Certificates in GraphQL.

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, TimeDelta, Utc};

use crate::db::{certificates, enums};
use crate::graphql::context::ContextExt;

/// Where a certificate's private key lives.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CertificateKind {
    /// Held by the platform, encrypted; used when its owner signs on the platform.
    Cloud,
    /// In the owner's USB key; the platform never sees it.
    Ukey,
}

/// A certificate the platform CA issued.
pub struct Certificate(pub certificates::Certificate);

/// Certificates expiring within this window are `expiringSoon`.
const EXPIRING_SOON: TimeDelta = TimeDelta::days(30);

#[Object]
impl Certificate {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn kind(&self) -> CertificateKind {
        match self.0.kind {
            enums::CertificateKind::Cloud => CertificateKind::Cloud,
            enums::CertificateKind::Ukey => CertificateKind::Ukey,
        }
    }

    /// The subject as `C=CN, O=..., serialNumber=..., CN=...`.
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    async fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// Uppercase hex, as CRLs and validators show it.
    async fn serial_number(&self) -> &str {
        &self.0.serial_hex
    }

    async fn not_before(&self) -> DateTime<Utc> {
        self.0.not_before
    }

    async fn not_after(&self) -> DateTime<Utc> {
        self.0.not_after
    }

    /// VALID, REVOKED or EXPIRED.
    async fn status(&self, ctx: &Context<'_>) -> &'static str {
        if self.0.revoked_at.is_some() {
            "REVOKED"
        } else if self.0.not_after <= ctx.app().clock.now() {
            "EXPIRED"
        } else {
            "VALID"
        }
    }

    /// Valid, but ending within 30 days: time to renew.
    async fn expiring_soon(&self, ctx: &Context<'_>) -> bool {
        let now = ctx.app().clock.now();
        self.0.revoked_at.is_none()
            && self.0.not_after > now
            && self.0.not_after - now <= EXPIRING_SOON
    }

    /// The certificate in PEM.
    async fn pem(&self) -> String {
        openssl::x509::X509::from_der(&self.0.certificate_der)
            .and_then(|cert| cert.to_pem())
            .map(|pem| String::from_utf8_lossy(&pem).into_owned())
            .unwrap_or_default()
    }
}
