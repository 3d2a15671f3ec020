//! The review of an order (by an operator, or by the CA through its
//! adapter): approve or reject with a reason; and the applicant's revoke.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::certificate_orders::{CertificateOrder, OrderChanges};
use crate::db::enterprises::Enterprise;
use crate::db::enums::{EnterpriseStatus, OrderKind, OrderStatus, PlatformRole};
use crate::db::files::StoredFile;
use crate::db::ids::{OrderId, UserId};
use crate::db::outbox::{EmailMessage, SmsMessage};
use crate::db::users::User;
use crate::domain::certification::{
    approve, lock_own, require_platform_role, require_status, transition, transition_by,
};
use crate::domain::{RequestMeta, Services, Viewer};
use crate::error::{AppError, AppResult};
use crate::notify::texts;

/// What a reviewer (an operator, or the CA through its adapter) decided.
pub enum Decision<'a> {
    Approve,
    Reject { reason: &'a str },
}

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
    let decision = match (approve, reason) {
        (true, _) => Decision::Approve,
        (false, Some(reason)) if reason.chars().count() <= 500 => Decision::Reject { reason },
        (false, _) => {
            return Err(AppError::bad_input(
                "reason",
                "a rejection needs a reason of at most 500 characters",
            ));
        }
    };
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
            decide(
                conn,
                svc,
                Some(viewer.user_id),
                Some(&meta.client_ip),
                &order,
                &decision,
            )
            .await
        })
        .await?;
    svc.outbox.wake();
    Ok(order)
}

/// Applies a decision to a REVIEWING order locked by the caller, inside its
/// transaction: rejection notices, or what approval means for the order's kind.
pub async fn decide(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    decided_by: Option<UserId>,
    client_ip: Option<&str>,
    order: &CertificateOrder,
    decision: &Decision<'_>,
) -> AppResult<CertificateOrder> {
    let enterprise = Enterprise::find(conn, order.enterprise_id).await?;
    let applicant = User::find(conn, order.applicant_id).await?;
    let now = svc.clock.now();
    let kind = order.kind.as_str();
    if let Decision::Reject { reason } = decision {
        let changes = OrderChanges {
            reject_reason: Some(Some(reason)),
            decided_by,
            decided_at: Some(now),
            ..OrderChanges::default()
        };
        let rejected = transition_by(
            conn,
            svc,
            decided_by,
            client_ip,
            order,
            OrderStatus::Rejected,
            &changes,
        )
        .await?;
        if let Some(email) = order.handler_email.as_deref() {
            EmailMessage::enqueue(
                conn,
                email,
                &texts::order_rejected_subject(kind),
                &texts::order_rejected_body(&enterprise.name, kind, reason),
            )
            .await?;
        }
        let in_sms = order.handler_email.is_none().then_some(*reason);
        let text = texts::order_rejected_sms(&enterprise.name, kind, in_sms);
        SmsMessage::enqueue(conn, &applicant.phone, &text, false, None).await?;
        return Ok(rejected);
    }
    let (certificate, text) = match order.kind {
        OrderKind::New => approve::new_enterprise(conn, svc, order, &enterprise).await?,
        OrderKind::Renewal => approve::renewal(conn, svc, order, &enterprise).await?,
        OrderKind::Recertification => {
            approve::recertification(conn, svc, order, &enterprise).await?
        }
        OrderKind::AdminChange => approve::admin_change(conn, svc, order, &enterprise).await?,
    };
    let changes = OrderChanges {
        certificate_id: certificate,
        decided_by,
        decided_at: Some(now),
        ..OrderChanges::default()
    };
    let approved = transition_by(
        conn,
        svc,
        decided_by,
        client_ip,
        order,
        OrderStatus::Approved,
        &changes,
    )
    .await?;
    SmsMessage::enqueue(conn, &applicant.phone, &text, false, None).await?;
    Ok(approved)
}

/// A withdrawn order, with the enterprise as it was (a new enterprise's
/// application takes the never-certified enterprise with it).
pub struct Revoked {
    pub order: CertificateOrder,
    pub enterprise: Enterprise,
}

/// Withdraws an application in any state before approval.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    meta: &RequestMeta,
    viewer: &Viewer,
    id: OrderId,
) -> AppResult<Revoked> {
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
        let enterprise = Enterprise::lock(conn, order.enterprise_id).await?;
        let revoked = transition(
            conn,
            svc,
            viewer,
            Some(&meta.client_ip),
            &order,
            OrderStatus::Revoked,
            &OrderChanges::default(),
        )
        .await?;
        if order.kind == OrderKind::New && enterprise.status == EnterpriseStatus::Certifying {
            // The order goes with the enterprise (ON DELETE CASCADE), then
            // the metadata of its materials; the audit rows stay.
            Enterprise::delete_uncertified(conn, enterprise.id).await?;
            let materials: Vec<_> = [
                order.authorization_letter_id,
                order.business_license_id,
                order.handler_id_front_id,
                order.handler_id_back_id,
            ]
            .into_iter()
            .flatten()
            .collect();
            StoredFile::delete_unreferenced(conn, &materials).await?;
        }
        Ok(Revoked {
            order: revoked,
            enterprise,
        })
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
