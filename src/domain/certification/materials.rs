//! Materials (authorization letter, business licence, handler ID) and the
//! handler's confirmation that sends the order to review.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::certificate_orders::{CertificateOrder, OrderChanges};
use crate::db::enums::{OrderStatus, SmsPurpose};
use crate::db::files::StoredFile;
use crate::db::ids::{FileId, OrderId};
use crate::domain::accounts::sms_codes::{check_code, consume, issue_code_in};
use crate::domain::certification::{lock_own, own_order, require_status, transition};
use crate::domain::{RequestMeta, Services, Viewer};
use crate::error::{AppError, AppResult};

pub const MAX_MATERIAL_BYTES: usize = 10 * 1024 * 1024;

/// One uploaded document.
pub struct Material {
    pub name: String,
    pub bytes: Vec<u8>,
}

pub struct Materials {
    pub authorization_letter: Material,
    pub business_license: Material,
    pub handler_id_front: Material,
    pub handler_id_back: Material,
}

/// The content type a document's first bytes prove; none for anything else.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

fn checked(field: &str, material: &Material) -> AppResult<&'static str> {
    if material.bytes.len() > MAX_MATERIAL_BYTES {
        return Err(AppError::bad_input(field, "files may be at most 10 MB"));
    }
    sniff(&material.bytes)
        .ok_or_else(|| AppError::bad_input(field, "files must be PDF, JPEG or PNG"))
}

/// Stores the bytes (blocking file I/O off the executor) and records the file.
async fn store(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    material: Material,
    content_type: &str,
) -> AppResult<FileId> {
    let store = svc.storage.clone();
    let size = i64::try_from(material.bytes.len()).map_err(AppError::internal)?;
    let sha256 = tokio::task::spawn_blocking(move || store.put(&material.bytes))
        .await?
        .map_err(AppError::internal)?;
    let name: String = material.name.chars().take(200).collect();
    let file = StoredFile::insert(
        conn,
        &sha256,
        &name,
        content_type,
        size,
        Some(viewer.user_id),
    )
    .await?;
    Ok(file.id)
}

/// AWAITING_MATERIALS -> AWAITING_CONFIRMATION (a code goes to the handler);
/// REJECTED -> REVIEWING (corrected materials go back to review).
pub async fn upload(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: OrderId,
    materials: Materials,
) -> AppResult<CertificateOrder> {
    let order = own_order(conn, viewer, id).await?;
    require_status(
        &order,
        &[OrderStatus::AwaitingMaterials, OrderStatus::Rejected],
    )?;
    let types = [
        checked("authorizationLetter", &materials.authorization_letter)?,
        checked("businessLicense", &materials.business_license)?,
        checked("handlerIdFront", &materials.handler_id_front)?,
        checked("handlerIdBack", &materials.handler_id_back)?,
    ];
    // Blobs are content-addressed: storing before the transaction is safe,
    // an unused blob is only a file nobody points at.
    let letter = store(conn, svc, viewer, materials.authorization_letter, types[0]).await?;
    let license = store(conn, svc, viewer, materials.business_license, types[1]).await?;
    let front = store(conn, svc, viewer, materials.handler_id_front, types[2]).await?;
    let back = store(conn, svc, viewer, materials.handler_id_back, types[3]).await?;
    let order = conn
        .transaction(async |conn| {
            let order = lock_own(conn, viewer, id).await?;
            require_status(
                &order,
                &[OrderStatus::AwaitingMaterials, OrderStatus::Rejected],
            )?;
            let changes = OrderChanges {
                // Corrected materials answer the rejection: it no longer applies.
                reject_reason: (order.status == OrderStatus::Rejected).then_some(None),
                authorization_letter_id: Some(letter),
                business_license_id: Some(license),
                handler_id_front_id: Some(front),
                handler_id_back_id: Some(back),
                ..OrderChanges::default()
            };
            let next = if order.status == OrderStatus::Rejected {
                OrderStatus::Reviewing
            } else {
                issue_code_in(
                    conn,
                    svc,
                    meta,
                    &order.handler_phone,
                    SmsPurpose::OrderConfirmation,
                    true,
                )
                .await?;
                OrderStatus::AwaitingConfirmation
            };
            transition(
                conn,
                svc,
                viewer,
                Some(&meta.client_ip),
                &order,
                next,
                &changes,
            )
            .await
        })
        .await?;
    svc.outbox.wake();
    Ok(order)
}

/// AWAITING_CONFIRMATION -> REVIEWING with the code sent to the handler.
pub async fn confirm_application(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: OrderId,
    sms_code: &str,
) -> AppResult<CertificateOrder> {
    let order = own_order(conn, viewer, id).await?;
    require_status(&order, &[OrderStatus::AwaitingConfirmation])?;
    let code_id = check_code(
        conn,
        svc,
        "smsCode",
        &order.handler_phone,
        SmsPurpose::OrderConfirmation,
        sms_code,
    )
    .await?;
    conn.transaction(async |conn| {
        let order = lock_own(conn, viewer, id).await?;
        require_status(&order, &[OrderStatus::AwaitingConfirmation])?;
        consume(conn, "smsCode", code_id).await?;
        transition(
            conn,
            svc,
            viewer,
            Some(&meta.client_ip),
            &order,
            OrderStatus::Reviewing,
            &OrderChanges::default(),
        )
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pdf_jpeg_and_png_pass_by_their_magic_bytes() {
        assert_eq!(sniff(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nIHDR"), Some("image/png"));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"<html>%PDF-"), None);
    }
}
