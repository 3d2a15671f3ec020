//! Delivers queued SMS and email, retrying failures with backoff.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::db::DbPool;
use crate::db::outbox::{Delivery, EmailMessage, SmsMessage};
use crate::jobs::OutboxWaker;
use crate::notify::SendError;
use crate::notify::email::EmailSender;
use crate::notify::sms::SmsSender;

const BATCH: i64 = 50;
const MAX_ATTEMPTS: i32 = 10;
const POLL: Duration = Duration::from_secs(5);

pub struct Senders {
    pub sms: Arc<dyn SmsSender>,
    pub email: Arc<dyn EmailSender>,
}

fn outcome(result: Result<(), SendError>, attempts: i32, now: DateTime<Utc>) -> Delivery {
    match result {
        Ok(()) => Delivery::Sent,
        Err(e) if e.retryable && attempts + 1 < MAX_ATTEMPTS => Delivery::Retry {
            error: e.message,
            // 10 s, 40 s, 90 s ... up to about 15 minutes between tries.
            at: now + TimeDelta::seconds(10 * i64::from((attempts + 1).pow(2))),
        },
        Err(e) => Delivery::GiveUp { error: e.message },
    }
}

/// Delivers what is due; returns how many messages were tried.
pub async fn deliver_due(
    conn: &mut AsyncPgConnection,
    senders: &Senders,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let redact = senders.sms.redacts_after_delivery();
    let sms_count = conn
        .transaction(async |conn| {
            let due = SmsMessage::claim_due(conn, now, BATCH).await?;
            for message in &due {
                let result = senders.sms.send(&message.phone, &message.body).await;
                if let Err(e) = &result {
                    tracing::warn!(outbox.id = %message.id, error = %e, "sms delivery failed");
                }
                SmsMessage::record(
                    conn,
                    message.id,
                    &outcome(result, message.attempts, now),
                    redact,
                )
                .await?;
            }
            Ok::<_, diesel::result::Error>(due.len())
        })
        .await?;
    let email_count = conn
        .transaction(async |conn| {
            let due = EmailMessage::claim_due(conn, now, BATCH).await?;
            for message in &due {
                let result = senders
                    .email
                    .send(&message.recipient, &message.subject, &message.body)
                    .await;
                if let Err(e) = &result {
                    tracing::warn!(outbox.id = %message.id, error = %e, "email delivery failed");
                }
                EmailMessage::record(conn, message.id, &outcome(result, message.attempts, now))
                    .await?;
            }
            Ok::<_, diesel::result::Error>(due.len())
        })
        .await?;
    Ok(sms_count + email_count)
}

/// Runs until `shutdown`: delivers when woken or every few seconds.
pub async fn run(
    pool: DbPool,
    senders: Senders,
    clock: Clock,
    waker: OutboxWaker,
    shutdown: CancellationToken,
) {
    loop {
        match pool.get().await {
            Ok(mut conn) => {
                if let Err(e) = deliver_due(&mut conn, &senders, clock.now()).await {
                    tracing::error!(error = format!("{e:#}"), "outbox delivery round failed");
                }
            }
            Err(e) => tracing::error!(error = %e, "outbox worker has no database connection"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = waker.woken() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}
