//! News from the CA on orders under review: on demand
//! (`refreshCertificateOrder`) and, by a job, for every reviewing order.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::ca_review::CaVerdict;
use crate::db::certificate_orders::CertificateOrder;
use crate::db::enums::OrderStatus;
use crate::db::ids::OrderId;
use crate::domain::certification::own_order;
use crate::domain::certification::review::{Decision, decide};
use crate::domain::{Services, Viewer};
use crate::error::{AppError, AppResult};

/// How many reviewing orders one pass of the job asks about.
const BATCH: i64 = 200;

/// The viewer's order after asking the CA; a CA that cannot be reached
/// leaves the order as it is (the job asks again later).
pub async fn refresh(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    viewer: &Viewer,
    id: OrderId,
) -> AppResult<CertificateOrder> {
    let order = own_order(conn, viewer, id).await?;
    if order.status != OrderStatus::Reviewing {
        return Ok(order);
    }
    match svc.ca_review.verdict(order.id.0).await {
        Ok(verdict) => Ok(apply(conn, svc, id, &verdict).await?.unwrap_or(order)),
        Err(e) => {
            tracing::warn!(order = %id, error = %e, "CA review desk did not answer");
            Ok(order)
        }
    }
}

/// Applies the CA's verdict to the order if it is still under review;
/// `None` when there was nothing to apply.
async fn apply(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    id: OrderId,
    verdict: &CaVerdict,
) -> AppResult<Option<CertificateOrder>> {
    let decision = match verdict {
        CaVerdict::Pending => return Ok(None),
        CaVerdict::Approved => Decision::Approve,
        CaVerdict::Rejected(reason) => Decision::Reject { reason },
    };
    let decided = conn
        .transaction(async |conn| {
            let order = CertificateOrder::lock(conn, id)
                .await?
                .ok_or(AppError::NotFound("certificate order"))?;
            // Decided or withdrawn in the meantime.
            if order.status != OrderStatus::Reviewing {
                return Ok(None);
            }
            decide(conn, svc, None, None, &order, &decision)
                .await
                .map(Some)
        })
        .await?;
    svc.outbox.wake();
    Ok(decided)
}

/// One pass of the job: asks about every reviewing order; returns how many
/// got a decision. One order's failure does not stop the others.
pub async fn refresh_reviewing(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
) -> AppResult<usize> {
    let mut decided = 0;
    for id in CertificateOrder::reviewing_ids(conn, BATCH).await? {
        let verdict = match svc.ca_review.verdict(id.0).await {
            Ok(verdict) => verdict,
            Err(e) => {
                tracing::warn!(order = %id, error = %e, "CA review desk did not answer");
                continue;
            }
        };
        match apply(conn, svc, id, &verdict).await {
            Ok(Some(_)) => decided += 1,
            Ok(None) => {}
            Err(e) => tracing::warn!(order = %id, error = ?e, "CA decision not applied"),
        }
    }
    Ok(decided)
}
