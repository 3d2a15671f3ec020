//! The weekly reminder to an enterprise's ADMIN while its cloud certificate
//! is within 30 days of expiry and no newer certificate replaced it.

use chrono::TimeDelta;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::db::certificates::Certificate;
use crate::db::enterprises::{Enterprise, Memberships};
use crate::db::outbox::{EmailMessage, SmsMessage};
use crate::db::users::User;
use crate::domain::Services;
use crate::error::AppResult;
use crate::notify::texts;

pub const WINDOW: TimeDelta = TimeDelta::days(30);
pub const EVERY: TimeDelta = TimeDelta::days(7);

/// Sends the reminders that are due; returns how many went out. Each
/// certificate is claimed (its reminder time moved) in the transaction that
/// queues its messages, so concurrent servers never remind twice.
pub async fn remind_expiring(conn: &mut AsyncPgConnection, svc: &Services<'_>) -> AppResult<usize> {
    let mut sent = 0;
    loop {
        let now = svc.clock.now();
        let reminded = conn
            .transaction(async |conn| {
                let Some(certificate) =
                    Certificate::claim_expiring(conn, now, now + WINDOW, now - EVERY).await?
                else {
                    return Ok(None);
                };
                let Some(enterprise_id) = certificate.enterprise_id else {
                    return Ok(Some(false));
                };
                let newest = Certificate::of_enterprise(conn, enterprise_id)
                    .await?
                    .into_iter()
                    .find(|c| c.revoked_at.is_none());
                let Some(admin) = Memberships::admin(conn, enterprise_id).await? else {
                    return Ok(Some(false));
                };
                if newest.is_none_or(|c| c.id != certificate.id) {
                    return Ok(Some(false));
                }
                let enterprise = Enterprise::find(conn, enterprise_id).await?;
                let admin = User::find(conn, admin).await?;
                let date = certificate.not_after.format("%Y-%m-%d").to_string();
                let sms = texts::certificate_expiring_sms(&enterprise.name, &date);
                SmsMessage::enqueue(conn, &admin.phone, &sms, false, None).await?;
                if let Some(email) = admin.email.as_deref() {
                    let body = texts::certificate_expiring_body(&enterprise.name, &date);
                    EmailMessage::enqueue(
                        conn,
                        email,
                        texts::certificate_expiring_subject(),
                        &body,
                    )
                    .await?;
                }
                Ok::<_, crate::error::AppError>(Some(true))
            })
            .await?;
        match reminded {
            None => break,
            Some(true) => sent += 1,
            Some(false) => {}
        }
    }
    if sent > 0 {
        svc.outbox.wake();
    }
    Ok(sent)
}
