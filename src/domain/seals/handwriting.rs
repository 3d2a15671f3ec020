//! Handwritten signatures (手写签名): captured on a phone through a one-time
//! link that the desktop shows as a QR code, or uploaded by the signed-in
//! person. Each becomes the person's HANDWRITTEN seal, signed for their
//! certificate; a new one voids the previous one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::certificates::Certificate;
use crate::db::enums::{RealNameStatus, SealKind, SealStatus};
use crate::db::ids::{CaptureId, UserId};
use crate::db::seals::Seal;
use crate::db::signature_captures::SignatureCapture;
use crate::db::users::User;
use crate::domain::seals::images::normalize;
use crate::domain::seals::{SealOwner, create_from_png, default_name};
use crate::domain::{RequestMeta, Services, Viewer, audit};
use crate::error::{AppError, AppResult};
use crate::events::Event;
use crate::pki::secrets::{constant_time_eq, sha256};

/// How long a capture link works.
pub const CAPTURE_TTL: TimeDelta = TimeDelta::minutes(10);
const MAX_CAPTURES_PER_HOUR: i64 = 20;

pub struct StartedCapture {
    pub id: CaptureId,
    /// Carries the token in its fragment, which browsers never send to a
    /// server, so it stays out of access logs.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

async fn verified(conn: &mut AsyncPgConnection, user: UserId) -> AppResult<User> {
    let user = User::find(conn, user).await?;
    if user.real_name_status != RealNameStatus::Verified {
        return Err(AppError::Forbidden(
            "complete real-name verification before adding a handwritten signature",
        ));
    }
    Ok(user)
}

pub async fn start_capture(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
) -> AppResult<StartedCapture> {
    verified(conn, viewer.user_id).await?;
    let now = svc.clock.now();
    let recent =
        SignatureCapture::count_since(conn, viewer.user_id, now - TimeDelta::hours(1)).await?;
    if recent >= MAX_CAPTURES_PER_HOUR {
        return Err(AppError::RateLimited {
            message: "too many signature captures in the last hour, try later",
            retry_after_seconds: Some(3600),
        });
    }
    let mut raw = [0u8; 32];
    openssl::rand::rand_bytes(&mut raw).map_err(AppError::internal)?;
    let token = URL_SAFE_NO_PAD.encode(raw);
    let capture = SignatureCapture::insert(
        conn,
        &SignatureCapture {
            id: CaptureId::new(),
            user_id: viewer.user_id,
            token_hash: sha256(token.as_bytes()),
            expires_at: now + CAPTURE_TTL,
            used_at: None,
            seal_id: None,
            created_at: now,
        },
    )
    .await?;
    Ok(StartedCapture {
        id: capture.id,
        url: format!(
            "{}/capture/{}#token={token}",
            svc.config.public_base_url(),
            capture.id
        ),
        expires_at: capture.expires_at,
    })
}

/// The phone's upload: bound to the link's token, no login.
pub async fn submit_capture(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    id: CaptureId,
    token: &str,
    upload: Vec<u8>,
) -> AppResult<Seal> {
    let png = normalize("image", upload).await?;
    let seal = conn
        .transaction(async |conn| {
            let capture = SignatureCapture::lock(conn, id)
                .await?
                .filter(|c| constant_time_eq(&c.token_hash, &sha256(token.as_bytes())))
                .ok_or(AppError::NotFound("signature capture"))?;
            if capture.used_at.is_some() {
                return Err(AppError::Conflict(
                    "this capture link was used already".into(),
                ));
            }
            if capture.expires_at <= svc.clock.now() {
                return Err(AppError::Conflict(
                    "this capture link expired; start a new capture".into(),
                ));
            }
            let user = verified(conn, capture.user_id).await?;
            let seal = add_for(conn, svc, meta, &user, png).await?;
            SignatureCapture::mark_used(conn, capture.id, seal.id, svc.clock.now()).await?;
            Ok(seal)
        })
        .await?;
    Ok(seal)
}

/// The signed-in person's own upload.
pub async fn add_handwritten(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    upload: Vec<u8>,
) -> AppResult<Seal> {
    let png = normalize("image", upload).await?;
    conn.transaction(async |conn| {
        let user = verified(conn, viewer.user_id).await?;
        add_for(conn, svc, meta, &user, png).await
    })
    .await
}

/// Voids the person's previous handwritten signature and stores the new
/// one; the person's clients hear of it (`meUpdated`).
async fn add_for(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    user: &User,
    png: Vec<u8>,
) -> AppResult<Seal> {
    let certificate = Certificate::of_user(conn, user.id)
        .await?
        .into_iter()
        .find(|c| c.revoked_at.is_none())
        .map(|c| c.id);
    let mut replaced = Vec::new();
    for old in Seal::of_person(conn, user.id).await? {
        if old.kind == SealKind::Handwritten && old.status != SealStatus::Voided {
            Seal::set_status(conn, old.id, SealStatus::Voided).await?;
            replaced.push(old.id.to_string());
        }
    }
    let kind = SealKind::Handwritten;
    let seal = create_from_png(
        conn,
        svc,
        SealOwner::Person(user.id),
        kind,
        default_name(kind),
        png,
        certificate,
    )
    .await?;
    let entry = audit::Entry {
        enterprise: None,
        actor: Some(user.id),
        action: "seal.handwritten",
        target_type: "seal",
        target_id: Some(seal.id.to_string()),
        details: serde_json::json!({ "imageSha256": seal.image_sha256, "replaced": replaced }),
        client_ip: Some(&meta.client_ip),
    };
    audit::record(conn, svc, entry).await?;
    svc.events
        .publish(conn, Event::UserUpdated { user: user.id })
        .await?;
    Ok(seal)
}
