//! Seals (印章): drawn, stored and signed as records; enabled, disabled or
//! voided by the ADMIN; usable by the members they are granted to.

pub mod handwriting;
pub mod images;

use chrono::SecondsFormat;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enterprises::{Enterprise, Memberships};
use crate::db::enums::{EnterpriseStatus, MemberRole, SealKind, SealStatus};
use crate::db::files::StoredFile;
use crate::db::ids::{CertificateId, EnterpriseId, SealId, UserId};
use crate::db::seals::{NewSeal, Seal};
use crate::domain::membership::{admin_of, member_of};
use crate::domain::{RequestMeta, Services, Viewer, audit, certificates};
use crate::error::{AppError, AppResult};
use crate::seal_images;

/// Whose seal it is.
#[derive(Debug, Clone, Copy)]
pub enum SealOwner {
    Enterprise(EnterpriseId),
    Person(UserId),
}

/// The fields the platform signs; any change to one (a swapped image
/// included) breaks the signature.
pub(crate) fn canonical_record(seal: &NewSeal<'_>) -> Vec<u8> {
    serde_json::json!({
        "id": seal.id.to_string(),
        "enterprise": seal.enterprise_id.map(|e| e.to_string()),
        "owner": seal.owner_user_id.map(|u| u.to_string()),
        "kind": seal.kind.as_str(),
        "name": seal.name,
        "imageSha256": seal.image_sha256,
        "certificate": seal.certificate_id.map(|c| c.to_string()),
        "validFrom": seal.valid_from.to_rfc3339_opts(SecondsFormat::Micros, true),
    })
    .to_string()
    .into_bytes()
}

/// The signed fields of a stored seal, bound to `certificate`.
pub(crate) fn signed_fields(seal: &Seal, certificate: Option<CertificateId>) -> NewSeal<'_> {
    NewSeal {
        id: seal.id,
        enterprise_id: seal.enterprise_id,
        owner_user_id: seal.owner_user_id,
        kind: seal.kind,
        name: &seal.name,
        image_file_id: seal.image_file_id,
        image_sha256: &seal.image_sha256,
        certificate_id: certificate,
        valid_from: seal.valid_from,
        record_signature: &[],
    }
}

async fn draw(kind: SealKind, owner_name: String, seal_name: String) -> AppResult<Vec<u8>> {
    tokio::task::spawn_blocking(move || match kind {
        SealKind::Official => seal_images::round_seal(&owner_name, None),
        SealKind::Contract | SealKind::Finance => {
            seal_images::round_seal(&owner_name, Some(&seal_name))
        }
        _ => seal_images::square_seal(&owner_name),
    })
    .await?
    .map_err(|e| AppError::bad_input("name", e.to_string()))
}

/// The default name of an enterprise seal of `kind`.
pub fn default_name(kind: SealKind) -> &'static str {
    match kind {
        SealKind::Official => "公章",
        SealKind::Contract => "合同专用章",
        SealKind::Finance => "财务专用章",
        SealKind::LegalRepresentative => "法定代表人章",
        SealKind::Date => "日期章",
        SealKind::PersonalName => "个人名章",
        SealKind::Handwritten => "手写签名",
    }
}

/// Draws, stores and signs a seal, inside the caller's transaction.
/// `drawn_name` is what the image shows (enterprise or person name).
pub async fn create(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    owner: SealOwner,
    kind: SealKind,
    name: &str,
    drawn_name: &str,
    certificate: Option<CertificateId>,
) -> AppResult<Seal> {
    let png = draw(kind, drawn_name.to_owned(), name.to_owned()).await?;
    create_from_png(conn, svc, owner, kind, name, png, certificate).await
}

/// Stores a PNG as a file of the content store.
pub(crate) async fn store_png(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    name: &str,
    png: Vec<u8>,
    creator: Option<UserId>,
) -> AppResult<StoredFile> {
    let size = i64::try_from(png.len()).map_err(AppError::internal)?;
    let sha256 = svc.storage.save(png).await.map_err(AppError::internal)?;
    Ok(StoredFile::insert(
        conn,
        &sha256,
        &format!("{name}.png"),
        "image/png",
        size,
        creator,
    )
    .await?)
}

/// Stores and signs a seal with the given image, inside the caller's
/// transaction.
pub async fn create_from_png(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    owner: SealOwner,
    kind: SealKind,
    name: &str,
    png: Vec<u8>,
    certificate: Option<CertificateId>,
) -> AppResult<Seal> {
    let creator = match owner {
        SealOwner::Person(user) => Some(user),
        SealOwner::Enterprise(_) => None,
    };
    let file = store_png(conn, svc, name, png, creator).await?;
    let mut new = NewSeal {
        id: SealId::new(),
        enterprise_id: match owner {
            SealOwner::Enterprise(e) => Some(e),
            SealOwner::Person(_) => None,
        },
        owner_user_id: creator,
        kind,
        name,
        image_file_id: file.id,
        image_sha256: &file.sha256,
        certificate_id: certificate,
        valid_from: svc.clock.now(),
        record_signature: &[],
    };
    let signature = certificates::platform_sign(conn, svc, &canonical_record(&new)).await?;
    new.record_signature = &signature;
    Ok(Seal::insert(conn, &new).await?)
}

/// Whether the seal's record still carries the platform's signature and
/// its stored image is the one signed.
pub async fn verify_record(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    seal: &Seal,
) -> AppResult<bool> {
    let record = signed_fields(seal, seal.certificate_id);
    let signed = certificates::platform_verify(
        conn,
        svc,
        &canonical_record(&record),
        &seal.record_signature,
    )
    .await?;
    let image_intact = svc.storage.fetch(&seal.image_sha256).await.is_ok();
    Ok(signed && image_intact)
}

/// A seal of the viewer's enterprise, for its ADMIN; NOT_FOUND otherwise.
pub(crate) async fn admin_seal(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: SealId,
) -> AppResult<Seal> {
    let seal = Seal::lock(conn, id)
        .await?
        .ok_or(AppError::NotFound("seal"))?;
    let enterprise = seal.enterprise_id.ok_or(AppError::NotFound("seal"))?;
    // A member who cannot manage seals must not learn which ids exist.
    admin_of(conn, viewer, enterprise)
        .await
        .map_err(|e| match e {
            AppError::Forbidden(_) | AppError::NotFound(_) => AppError::NotFound("seal"),
            other => other,
        })?;
    Ok(seal)
}

pub(crate) async fn record(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    seal: &Seal,
    action: &str,
    details: serde_json::Value,
) -> AppResult<()> {
    let entry = audit::Entry {
        enterprise: seal.enterprise_id.map(|e| e.0),
        actor: Some(viewer.user_id),
        action,
        target_type: "seal",
        target_id: Some(seal.id.to_string()),
        details,
        client_ip: Some(&meta.client_ip),
    };
    audit::record(conn, svc, entry).await
}

/// A new enterprise seal (ADMIN only); its image is drawn from the
/// enterprise name, or the legal representative's for LEGAL_REPRESENTATIVE.
pub async fn create_enterprise_seal(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    enterprise_id: EnterpriseId,
    kind: SealKind,
    name: Option<&str>,
) -> AppResult<Seal> {
    if !matches!(
        kind,
        SealKind::Official | SealKind::Contract | SealKind::LegalRepresentative | SealKind::Finance
    ) {
        return Err(AppError::bad_input(
            "kind",
            "enterprises create OFFICIAL, CONTRACT, LEGAL_REPRESENTATIVE or FINANCE seals",
        ));
    }
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(default_name(kind))
        .to_owned();
    if name.chars().count() > 10 {
        return Err(AppError::bad_input(
            "name",
            "a seal name has at most 10 characters",
        ));
    }
    conn.transaction(async |conn| {
        let enterprise = admin_of(conn, viewer, enterprise_id).await?;
        if enterprise.status != EnterpriseStatus::Certified {
            return Err(AppError::Conflict(
                "the enterprise must be certified (again) before it gets seals".into(),
            ));
        }
        let seal = create_for(conn, svc, &enterprise, kind, &name).await?;
        record(
            conn,
            svc,
            meta,
            viewer,
            &seal,
            "seal.create",
            serde_json::json!({ "kind": kind.as_str(), "name": name }),
        )
        .await?;
        Ok(seal)
    })
    .await
}

/// An enterprise seal drawn from the enterprise's data, signed with its certificate.
pub async fn create_for(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    enterprise: &Enterprise,
    kind: SealKind,
    name: &str,
) -> AppResult<Seal> {
    let drawn = match kind {
        SealKind::LegalRepresentative => enterprise.legal_rep_name.clone(),
        _ => enterprise.name.clone(),
    };
    let certificate = crate::db::certificates::Certificate::of_enterprise(conn, enterprise.id)
        .await?
        .into_iter()
        .find(|c| c.revoked_at.is_none())
        .map(|c| c.id);
    create(
        conn,
        svc,
        SealOwner::Enterprise(enterprise.id),
        kind,
        name,
        &drawn,
        certificate,
    )
    .await
}

pub async fn set_status(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: SealId,
    status: SealStatus,
) -> AppResult<Seal> {
    conn.transaction(async |conn| {
        let seal = admin_seal(conn, viewer, id).await?;
        if seal.status == SealStatus::Voided {
            return Err(AppError::Conflict("a voided seal stays voided".into()));
        }
        let changed = Seal::set_status(conn, id, status).await?;
        let details = serde_json::json!({ "from": seal.status.as_str(), "to": status.as_str() });
        record(conn, svc, meta, viewer, &seal, "seal.status", details).await?;
        Ok(changed)
    })
    .await
}

pub async fn grant(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: SealId,
    users: &[UserId],
) -> AppResult<Seal> {
    conn.transaction(async |conn| {
        let seal = admin_seal(conn, viewer, id).await?;
        if seal.status == SealStatus::Voided {
            return Err(AppError::Conflict("a voided seal cannot be granted".into()));
        }
        let enterprise = seal.enterprise_id.ok_or(AppError::NotFound("seal"))?;
        for user in users {
            // FOR SHARE: a concurrent removal waits until the grant is in, and
            // then takes the grant with the membership (ON DELETE CASCADE).
            if Memberships::role_of_locked(conn, enterprise, *user).await?.is_none() {
                return Err(AppError::bad_input("userIds", "seals are granted only to members"));
            }
            Seal::grant(conn, id, enterprise, *user).await?;
        }
        let details = serde_json::json!({ "users": users.iter().map(ToString::to_string).collect::<Vec<_>>() });
        record(conn, svc, meta, viewer, &seal, "seal.grant", details).await?;
        Ok(seal)
    })
    .await
}

pub async fn revoke_grant(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: SealId,
    user: UserId,
) -> AppResult<Seal> {
    conn.transaction(async |conn| {
        let seal = admin_seal(conn, viewer, id).await?;
        if !Seal::revoke_grant(conn, id, user).await? {
            return Err(AppError::NotFound("seal grant"));
        }
        record(
            conn,
            svc,
            meta,
            viewer,
            &seal,
            "seal.revoke",
            serde_json::json!({ "user": user.to_string() }),
        )
        .await?;
        Ok(seal)
    })
    .await
}

/// The enterprise's seals the viewer may see: all for the ADMIN, the
/// granted ones for a member.
pub async fn visible_seals(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    enterprise: EnterpriseId,
) -> AppResult<Vec<Seal>> {
    let (_, role) = member_of(conn, viewer, enterprise).await?;
    Ok(match role {
        MemberRole::Admin => Seal::of_enterprise(conn, enterprise).await?,
        MemberRole::Member => Seal::granted_to(conn, enterprise, viewer.user_id).await?,
    })
}

/// Signs the enterprise's live seals anew for `certificate` (after a
/// renewal), inside the caller's transaction.
pub async fn rebind_enterprise_seals(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    enterprise: EnterpriseId,
    certificate: CertificateId,
) -> AppResult<Vec<SealId>> {
    let mut rebound = Vec::new();
    for seal in Seal::of_enterprise(conn, enterprise).await? {
        if seal.status == SealStatus::Voided {
            continue;
        }
        let record = signed_fields(&seal, Some(certificate));
        let signature = certificates::platform_sign(conn, svc, &canonical_record(&record)).await?;
        Seal::rebind(conn, seal.id, certificate, &signature).await?;
        rebound.push(seal.id);
    }
    Ok(rebound)
}

/// Voids every live seal of the enterprise (of `kind` only, if given) and
/// removes their grants, inside the caller's transaction.
pub async fn void_enterprise_seals(
    conn: &mut AsyncPgConnection,
    enterprise: EnterpriseId,
    kind: Option<SealKind>,
) -> AppResult<Vec<Seal>> {
    let mut voided = Vec::new();
    for seal in Seal::of_enterprise(conn, enterprise).await? {
        if seal.status == SealStatus::Voided || kind.is_some_and(|k| k != seal.kind) {
            continue;
        }
        Seal::revoke_all_grants_of_seal(conn, seal.id).await?;
        voided.push(Seal::set_status(conn, seal.id, SealStatus::Voided).await?);
    }
    Ok(voided)
}
