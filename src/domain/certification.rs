//! Enterprise certification (认证企业): the certification-order state machine
//! from DRAFT to APPROVED, one order per attempt.
//!
//! DRAFT -> (confirm) AWAITING_AUTHORIZATION -> (authorization code)
//! AWAITING_MATERIALS -> (materials) AWAITING_CONFIRMATION -> (handler code)
//! REVIEWING -> (operator) APPROVED | REJECTED -> (corrected materials)
//! REVIEWING. Any state but APPROVED and REVOKED may be revoked; revoking a
//! new enterprise's application deletes the never-certified enterprise.

pub mod approve;
pub mod authorize;
pub mod follow_up;
pub mod materials;
pub mod refresh;
pub mod review;
pub mod start;

use diesel_async::AsyncPgConnection;

use crate::db::certificate_orders::{CertificateOrder, OrderChanges};
use crate::db::enums::{OrderKind, OrderStatus, PlatformRole};
use crate::db::ids::{OrderId, UserId};
use crate::db::platform_roles::PlatformRoles;
use crate::domain::{Services, Viewer, audit};
use crate::error::{AppError, AppResult};
use crate::events::Event;

/// The viewer's own order, locked for a transition; NOT_FOUND for others'.
async fn lock_own(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: OrderId,
) -> AppResult<CertificateOrder> {
    CertificateOrder::lock(conn, id)
        .await?
        .filter(|order| order.applicant_id == viewer.user_id)
        .ok_or(AppError::NotFound("certificate order"))
}

/// The viewer's own order; NOT_FOUND for others'.
pub async fn own_order(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: OrderId,
) -> AppResult<CertificateOrder> {
    CertificateOrder::find(conn, id)
        .await?
        .filter(|order| order.applicant_id == viewer.user_id)
        .ok_or(AppError::NotFound("certificate order"))
}

fn require_status(order: &CertificateOrder, allowed: &[OrderStatus]) -> AppResult<()> {
    if allowed.contains(&order.status) {
        Ok(())
    } else {
        Err(AppError::Conflict(format!(
            "the order is {}; this step is not possible now",
            order.status.as_str()
        )))
    }
}

/// Moves the order, audits the transition and announces it, all in the
/// caller's transaction.
async fn transition(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    actor: &Viewer,
    client_ip: Option<&str>,
    order: &CertificateOrder,
    to: OrderStatus,
    changes: &OrderChanges<'_>,
) -> AppResult<CertificateOrder> {
    transition_by(
        conn,
        svc,
        Some(actor.user_id),
        client_ip,
        order,
        to,
        changes,
    )
    .await
}

/// A transition by a user, or (`None`) by the CA through its adapter.
async fn transition_by(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    actor: Option<UserId>,
    client_ip: Option<&str>,
    order: &CertificateOrder,
    to: OrderStatus,
    changes: &OrderChanges<'_>,
) -> AppResult<CertificateOrder> {
    let moved = CertificateOrder::transition(conn, order.id, to, changes, svc.clock.now()).await?;
    // A new enterprise's application is on the platform's chain until its
    // approval opens the enterprise's own.
    let chain = (order.kind != OrderKind::New || to == OrderStatus::Approved)
        .then_some(order.enterprise_id.0);
    let entry = audit::Entry {
        enterprise: chain,
        actor,
        action: "certificate_order.transition",
        target_type: "certificate_order",
        target_id: Some(order.id.to_string()),
        details: serde_json::json!({
            "enterprise": order.enterprise_id.to_string(),
            "kind": order.kind.as_str(),
            "from": order.status.as_str(),
            "to": to.as_str(),
        }),
        client_ip,
    };
    audit::record(conn, svc, entry).await?;
    let event = Event::CertificateOrderUpdated {
        order: order.id,
        applicant: order.applicant_id,
        status: to,
    };
    svc.events.publish(conn, event).await?;
    Ok(moved)
}

pub async fn require_platform_role(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    role: PlatformRole,
) -> AppResult<()> {
    if PlatformRoles::of_user(conn, viewer.user_id)
        .await?
        .contains(&role)
    {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "this needs a platform role the viewer does not hold",
        ))
    }
}

pub async fn orders_of(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
) -> AppResult<Vec<CertificateOrder>> {
    Ok(CertificateOrder::of_applicant(conn, viewer.user_id).await?)
}
