//! USB-key certificates: challenges, binding a personal certificate, and
//! logging in with it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::ids::ChallengeId;
use crate::db::outbox::SmsMessage;
use crate::db::throttles::CertificateChallenge;
use crate::db::users::User;
use crate::domain::accounts::sessions::{self, IssuedSession};
use crate::domain::identity_numbers::uscc_valid;
use crate::domain::{RequestMeta, Services, Viewer, audit};
use crate::error::{AppError, AppResult};
use crate::events::Event;
use crate::notify::texts;
use crate::pki::ukey::{UkeyCertificate, UkeyError};

pub const CHALLENGE_TTL: TimeDelta = TimeDelta::minutes(2);

pub struct IssuedChallenge {
    pub id: ChallengeId,
    pub nonce: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

pub async fn create_challenge(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
) -> AppResult<IssuedChallenge> {
    let mut nonce = vec![0u8; 32];
    openssl::rand::rand_bytes(&mut nonce).map_err(AppError::internal)?;
    let id = ChallengeId::new();
    let expires_at = svc.clock.now() + CHALLENGE_TTL;
    CertificateChallenge::insert(conn, id, &nonce, expires_at).await?;
    Ok(IssuedChallenge {
        id,
        nonce,
        expires_at,
    })
}

/// What the client proves: it holds the key of this certificate right now.
pub struct Proof<'a> {
    pub challenge_id: ChallengeId,
    pub certificate_pem: &'a str,
    /// Base64 of the key's SHA-256 signature over the raw nonce bytes.
    pub signature: &'a str,
}

/// Uses the challenge up and checks the certificate and the signature.
async fn verify_proof(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    proof: &Proof<'_>,
) -> AppResult<UkeyCertificate> {
    let now = svc.clock.now();
    let Some(nonce) = CertificateChallenge::take(conn, proof.challenge_id, now).await? else {
        return Err(AppError::bad_input(
            "challengeId",
            "challenge is unknown, used or expired",
        ));
    };
    let cert = UkeyCertificate::from_pem(proof.certificate_pem).map_err(|_| {
        AppError::bad_input(
            "certificatePem",
            "certificate is not a PEM X.509 certificate",
        )
    })?;
    if !cert.valid_at(now) {
        return Err(AppError::bad_input(
            "certificatePem",
            "certificate is expired or not yet valid",
        ));
    }
    let is_enterprise = cert.has_organization_identifier
        || cert
            .subject_serial_number
            .as_deref()
            .is_some_and(uscc_valid);
    if is_enterprise {
        return Err(AppError::bad_input(
            "certificatePem",
            "enterprise certificates cannot be bound to a person; use a personal certificate",
        ));
    }
    let signature = STANDARD
        .decode(proof.signature.trim())
        .map_err(|_| AppError::bad_input("signature", "signature must be base64"))?;
    match cert.verifies(&nonce, &signature) {
        Ok(true) => Ok(cert),
        Ok(false) => Err(AppError::bad_input(
            "signature",
            "signature does not verify with the certificate",
        )),
        Err(UkeyError::UnsupportedKey) => Err(AppError::bad_input(
            "certificatePem",
            "certificate key algorithm is not supported (RSA or ECDSA P-256)",
        )),
        Err(other) => Err(AppError::internal(other)),
    }
}

pub async fn bind(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    proof: Proof<'_>,
) -> AppResult<User> {
    sessions::require_recent_login(svc, viewer)?;
    let cert = verify_proof(conn, svc, &proof).await?;
    let pem = cert.to_pem().map_err(AppError::internal)?;
    let user = conn
        .transaction(async |conn| {
            let user = User::bind_ukey(conn, viewer.user_id, &cert.fingerprint, &pem).await?;
            SmsMessage::enqueue(conn, &user.phone, &texts::ukey_bound(), false, None).await?;
            tracing::info!(user.id = %user.id, "ukey bound");
            let entry = audit::Entry {
                enterprise: None,
                actor: Some(user.id),
                action: "ukey.bind",
                target_type: "user",
                target_id: Some(user.id.to_string()),
                details: serde_json::json!({ "fingerprint": cert.fingerprint }),
                client_ip: Some(&meta.client_ip),
            };
            audit::record(conn, svc, entry).await?;
            svc.events
                .publish(conn, Event::UserUpdated { user: user.id })
                .await?;
            Ok::<_, AppError>(user)
        })
        .await?;
    svc.outbox.wake();
    Ok(user)
}

pub async fn login(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    proof: Proof<'_>,
) -> AppResult<IssuedSession> {
    let cert = verify_proof(conn, svc, &proof).await?;
    let Some(user) = User::find_by_ukey(conn, &cert.fingerprint).await? else {
        return Err(AppError::Unauthenticated(
            "this certificate is not bound to any account",
        ));
    };
    conn.transaction(async |conn| sessions::issue(conn, svc, meta, user).await)
        .await
}
