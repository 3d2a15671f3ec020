//! Replacing a seal's image with an uploaded one (a scan of the physical
//! seal, a new handwritten signature): checked, made transparent, stored,
//! and the seal's record signed anew over the new image hash.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::enterprises::Enterprise;
use crate::db::enums::{EnterpriseStatus, SealKind, SealStatus};
use crate::db::ids::SealId;
use crate::db::seals::Seal;
use crate::domain::seals::{admin_seal, canonical_record, record, signed_fields, store_png};
use crate::domain::{RequestMeta, Services, Viewer, certificates};
use crate::error::{AppError, AppResult};

/// An uploaded image as a transparent PNG; BAD_USER_INPUT naming `field`.
pub async fn normalize(field: &str, bytes: Vec<u8>) -> AppResult<Vec<u8>> {
    tokio::task::spawn_blocking(move || crate::seal_uploads::normalize(&bytes))
        .await?
        .map_err(|e| AppError::bad_input(field, e))
}

/// The seal the viewer may change the image of: an enterprise seal for its
/// ADMIN (the name seal and the date seal are drawn by the platform), or
/// the viewer's own handwritten signature. NOT_FOUND otherwise.
async fn changeable_seal(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: SealId,
) -> AppResult<Seal> {
    let seal = Seal::lock(conn, id)
        .await?
        .ok_or(AppError::NotFound("seal"))?;
    let seal = match seal.owner_user_id {
        Some(owner) if owner == viewer.user_id => seal,
        Some(_) => return Err(AppError::NotFound("seal")),
        None => admin_seal(conn, viewer, id).await?,
    };
    if matches!(seal.kind, SealKind::PersonalName | SealKind::Date) {
        return Err(AppError::bad_input(
            "sealId",
            "name seals and date seals are drawn by the platform",
        ));
    }
    if seal.status == SealStatus::Voided {
        return Err(AppError::Conflict("a voided seal stays voided".into()));
    }
    if let Some(enterprise) = seal.enterprise_id
        && Enterprise::find(conn, enterprise).await?.status != EnterpriseStatus::Certified
    {
        return Err(AppError::Conflict(
            "the enterprise must be certified (again) before its seals change".into(),
        ));
    }
    Ok(seal)
}

pub async fn replace_image(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: SealId,
    upload: Vec<u8>,
) -> AppResult<Seal> {
    let png = normalize("image", upload).await?;
    conn.transaction(async |conn| {
        let seal = changeable_seal(conn, viewer, id).await?;
        let file = store_png(conn, svc, &seal.name, png, Some(viewer.user_id)).await?;
        let mut fields = signed_fields(&seal, seal.certificate_id);
        fields.image_file_id = file.id;
        fields.image_sha256 = &file.sha256;
        let signature = certificates::platform_sign(conn, svc, &canonical_record(&fields)).await?;
        let changed = Seal::set_image(conn, seal.id, file.id, &file.sha256, &signature).await?;
        let details = serde_json::json!({ "from": seal.image_sha256, "to": file.sha256 });
        record(conn, svc, meta, viewer, &seal, "seal.image", details).await?;
        Ok(changed)
    })
    .await
}
