//! The operator's review (approve: certify, issue the certificate, make the
//! applicant ADMIN; reject with a reason), and the applicant's revoke and
//! refresh.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::certificate_orders::{CertificateOrder, OrderChanges};
use crate::db::enterprises::{BusinessTypes, Enterprise, Memberships};
use crate::db::enums::{CertificateKind, MemberRole, OrderStatus, PlatformRole, SealKind};
use crate::db::ids::{OrderId, UserId};
use crate::db::outbox::{EmailMessage, SmsMessage};
use crate::db::users::User;
use crate::domain::certificates::{self, KeySource, Owner};
use crate::domain::certification::{lock_own, require_platform_role, require_status, transition};
use crate::domain::{RequestMeta, Services, Viewer};
use crate::error::{AppError, AppResult};
use crate::notify::texts;
use crate::pki::ca::SubjectInfo;

/// Business types every certified enterprise starts with.
pub const DEFAULT_BUSINESS_TYPES: [&str; 4] = ["劳动合同", "劳务派遣合同", "入职", "离职"];

pub async fn review(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: OrderId,
    approve: bool,
    reason: Option<&str>,
) -> AppResult<CertificateOrder> {
    require_platform_role(conn, viewer, PlatformRole::Operator).await?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if !approve && reason.is_none_or(|r| r.chars().count() > 500) {
        return Err(AppError::bad_input(
            "reason",
            "a rejection needs a reason of at most 500 characters",
        ));
    }
    let order = conn
        .transaction(async |conn| {
            let order = CertificateOrder::lock(conn, id)
                .await?
                .ok_or(AppError::NotFound("certificate order"))?;
            require_status(&order, &[OrderStatus::Reviewing])?;
            if order.applicant_id == viewer.user_id {
                return Err(AppError::Forbidden(
                    "an operator cannot review their own application",
                ));
            }
            let enterprise = Enterprise::find(conn, order.enterprise_id).await?;
            let applicant = User::find(conn, order.applicant_id).await?;
            let now = svc.clock.now();
            if let Some(reason) = reason.filter(|_| !approve) {
                let changes = OrderChanges {
                    reject_reason: Some(Some(reason)),
                    decided_by: Some(viewer.user_id),
                    decided_at: Some(now),
                    ..OrderChanges::default()
                };
                let rejected = transition(
                    conn,
                    svc,
                    viewer,
                    Some(&meta.client_ip),
                    &order,
                    OrderStatus::Rejected,
                    &changes,
                )
                .await?;
                EmailMessage::enqueue(
                    conn,
                    &order.handler_email,
                    texts::order_rejected_subject(),
                    &texts::order_rejected_body(&enterprise.name, reason),
                )
                .await?;
                SmsMessage::enqueue(
                    conn,
                    &applicant.phone,
                    &texts::order_rejected_sms(&enterprise.name),
                    false,
                    None,
                )
                .await?;
                return Ok::<_, AppError>(rejected);
            }
            Enterprise::certify(conn, enterprise.id, now).await?;
            let subject = SubjectInfo {
                common_name: &enterprise.name,
                organization: &enterprise.name,
                serial_number: &enterprise.uscc,
            };
            let source = match (order.certificate_kind, order.csr_pem.as_deref()) {
                (CertificateKind::Ukey, Some(csr_pem)) => KeySource::Request { csr_pem },
                _ => KeySource::Cloud,
            };
            let certificate = certificates::issue(
                conn,
                svc,
                Owner::Enterprise(enterprise.id),
                &subject,
                source,
            )
            .await?;
            Memberships::add(conn, enterprise.id, order.applicant_id, MemberRole::Admin).await?;
            for kind in &order.seal_kinds {
                let kind: SealKind = kind.parse().map_err(AppError::internal)?;
                crate::domain::seals::create_for(
                    conn,
                    svc,
                    &enterprise,
                    kind,
                    crate::domain::seals::default_name(kind),
                )
                .await?;
            }
            for name in DEFAULT_BUSINESS_TYPES {
                BusinessTypes::add(conn, enterprise.id, name).await?;
            }
            let changes = OrderChanges {
                certificate_id: Some(certificate.id),
                decided_by: Some(viewer.user_id),
                decided_at: Some(now),
                ..OrderChanges::default()
            };
            let approved = transition(
                conn,
                svc,
                viewer,
                Some(&meta.client_ip),
                &order,
                OrderStatus::Approved,
                &changes,
            )
            .await?;
            SmsMessage::enqueue(
                conn,
                &applicant.phone,
                &texts::order_approved_sms(&enterprise.name),
                false,
                None,
            )
            .await?;
            Ok(approved)
        })
        .await?;
    svc.outbox.wake();
    Ok(order)
}

/// Withdraws an application in any state before approval.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: OrderId,
) -> AppResult<CertificateOrder> {
    conn.transaction(async |conn| {
        let order = lock_own(conn, viewer, id).await?;
        require_status(
            &order,
            &[
                OrderStatus::Draft,
                OrderStatus::AwaitingAuthorization,
                OrderStatus::AwaitingMaterials,
                OrderStatus::AwaitingConfirmation,
                OrderStatus::Reviewing,
                OrderStatus::Rejected,
            ],
        )?;
        transition(
            conn,
            svc,
            viewer,
            Some(&meta.client_ip),
            &order,
            OrderStatus::Revoked,
            &OrderChanges::default(),
        )
        .await
    })
    .await
}

/// Reviewing orders, oldest first, for operators.
pub async fn pending(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    after: Option<OrderId>,
    first: i64,
) -> AppResult<Vec<CertificateOrder>> {
    require_platform_role(conn, viewer, PlatformRole::Operator).await?;
    let after = match after {
        Some(id) => CertificateOrder::find(conn, id)
            .await?
            .map(|o| (o.updated_at, o.id)),
        None => None,
    };
    Ok(CertificateOrder::reviewing(conn, after, first.clamp(1, 100)).await?)
}

/// The applicant's view of an order: who may see it.
pub fn visible_to(order: &CertificateOrder, viewer: UserId) -> bool {
    order.applicant_id == viewer
}
