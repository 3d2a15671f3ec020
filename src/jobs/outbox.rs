//! Delivers queued SMS and email, retrying failures with backoff.
//!
//! Messages are leased in a short transaction and sent outside it, each
//! result recorded on its own: a crash or a failed write never rolls back
//! deliveries that already happened.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use diesel_async::AsyncPgConnection;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::db::DbPool;
use crate::db::outbox::{Delivery, EmailMessage, Outbox, SmsMessage};
use crate::jobs::OutboxWaker;
use crate::notify::SendError;
use crate::notify::email::EmailSender;
use crate::notify::sms::SmsSender;

const BATCH: i64 = 50;
const MAX_ATTEMPTS: i32 = 10;
const POLL: Duration = Duration::from_secs(5);
/// Longer than a batch of sends can take (each times out after 10 s).
const LEASE: TimeDelta = TimeDelta::minutes(10);

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
    Ok(deliver_sms(conn, senders.sms.as_ref(), now).await?
        + deliver_email(conn, senders.email.as_ref(), now).await?)
}

async fn deliver_sms(
    conn: &mut AsyncPgConnection,
    sms: &dyn SmsSender,
    now: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    let due = SmsMessage::lease_due(conn, now, now + LEASE, BATCH).await?;
    for message in &due {
        // A code that expired before it could leave is useless: do not send it.
        let expired = message.expires_at.is_some_and(|at| at < now);
        let delivery = if expired {
            Delivery::GiveUp {
                error: "the code expired before it could be delivered".to_owned(),
            }
        } else {
            let result = sms.send(&message.phone, &message.body).await;
            if let Err(e) = &result {
                tracing::warn!(outbox.id = %message.id, error = %e, "sms delivery failed");
            }
            outcome(result, message.attempts, now)
        };
        Outbox::Sms.record(conn, message.id, &delivery).await?;
        // Codes leave the table once a real gateway has them or never will;
        // the local adapter keeps them, being the developer's inbox.
        let finished = !matches!(delivery, Delivery::Retry { .. });
        if message.sensitive && finished && sms.redacts_after_delivery() {
            SmsMessage::blank_body(conn, message.id).await?;
        }
    }
    Ok(due.len())
}

async fn deliver_email(
    conn: &mut AsyncPgConnection,
    email: &dyn EmailSender,
    now: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    let due = EmailMessage::lease_due(conn, now, now + LEASE, BATCH).await?;
    for message in &due {
        let result = email
            .send(&message.recipient, &message.subject, &message.body)
            .await;
        if let Err(e) = &result {
            tracing::warn!(outbox.id = %message.id, error = %e, "email delivery failed");
        }
        Outbox::Email
            .record(conn, message.id, &outcome(result, message.attempts, now))
            .await?;
    }
    Ok(due.len())
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
