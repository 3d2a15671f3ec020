//! The `sms_outbox` and `email_outbox` tables: messages written with the change
//! that causes them, delivered and retried by the outbox job.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::OutboxStatus;
use crate::db::ids::OutboxId;
use crate::db::schema::{email_outbox, sms_outbox};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = sms_outbox, check_for_backend(diesel::pg::Pg))]
pub struct SmsMessage {
    pub id: OutboxId,
    pub phone: String,
    pub body: String,
    pub sensitive: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = email_outbox, check_for_backend(diesel::pg::Pg))]
pub struct EmailMessage {
    pub id: OutboxId,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What happened to one delivery attempt.
pub enum Delivery {
    Sent,
    Retry { error: String, at: DateTime<Utc> },
    GiveUp { error: String },
}

impl SmsMessage {
    /// Queues an SMS. `sensitive` bodies (codes) are blanked after delivery
    /// by a real gateway; one not delivered by `expires_at` is dropped.
    pub async fn enqueue(
        conn: &mut AsyncPgConnection,
        phone: &str,
        body: &str,
        sensitive: bool,
        expires_at: Option<DateTime<Utc>>,
    ) -> QueryResult<OutboxId> {
        diesel::insert_into(sms_outbox::table)
            .values((
                sms_outbox::id.eq(OutboxId::new()),
                sms_outbox::phone.eq(phone),
                sms_outbox::body.eq(body),
                sms_outbox::sensitive.eq(sensitive),
                sms_outbox::expires_at.eq(expires_at),
            ))
            .returning(sms_outbox::id)
            .get_result(conn)
            .await
    }

    /// Leases due messages: their next attempt moves to `lease_until`, so
    /// other workers skip them while this one sends (outside any
    /// transaction); a worker that dies leaves them due again after the lease.
    pub async fn lease_due(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<SmsMessage>> {
        diesel::sql_query(
            "UPDATE sms_outbox SET next_attempt_at = $2 WHERE id IN ( \
               SELECT id FROM sms_outbox WHERE status = 'PENDING' AND next_attempt_at <= $1 \
               ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING *",
        )
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(lease_until)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await
    }

    /// Removes a body that carried a code once it is no longer needed.
    pub async fn blank_body(conn: &mut AsyncPgConnection, id: OutboxId) -> QueryResult<()> {
        diesel::update(sms_outbox::table.find(id))
            .set(sms_outbox::body.eq("[removed: it carried a verification code]"))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn record(
        conn: &mut AsyncPgConnection,
        id: OutboxId,
        outcome: &Delivery,
    ) -> QueryResult<()> {
        let target = sms_outbox::table.find(id);
        match outcome {
            Delivery::Sent => {
                diesel::update(target)
                    .set((
                        sms_outbox::status.eq(OutboxStatus::Sent),
                        sms_outbox::sent_at.eq(diesel::dsl::now),
                        sms_outbox::attempts.eq(sms_outbox::attempts + 1),
                    ))
                    .execute(conn)
                    .await
            }
            Delivery::Retry { error, at } => {
                diesel::update(target)
                    .set((
                        sms_outbox::attempts.eq(sms_outbox::attempts + 1),
                        sms_outbox::last_error.eq(error),
                        sms_outbox::next_attempt_at.eq(at),
                    ))
                    .execute(conn)
                    .await
            }
            Delivery::GiveUp { error } => {
                diesel::update(target)
                    .set((
                        sms_outbox::status.eq(OutboxStatus::Failed),
                        sms_outbox::attempts.eq(sms_outbox::attempts + 1),
                        sms_outbox::last_error.eq(error),
                    ))
                    .execute(conn)
                    .await
            }
        }
        .map(drop)
    }

    /// The latest messages to a phone, newest first (for `yuyunqian outbox`).
    pub async fn latest_to(
        conn: &mut AsyncPgConnection,
        phone: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<SmsMessage>> {
        let mut query = sms_outbox::table
            .order(sms_outbox::created_at.desc())
            .limit(limit)
            .select(SmsMessage::as_select())
            .into_boxed();
        if let Some(phone) = phone {
            query = query.filter(sms_outbox::phone.eq(phone.to_owned()));
        }
        query.load(conn).await
    }
}

impl EmailMessage {
    pub async fn enqueue(
        conn: &mut AsyncPgConnection,
        recipient: &str,
        subject: &str,
        body: &str,
    ) -> QueryResult<OutboxId> {
        diesel::insert_into(email_outbox::table)
            .values((
                email_outbox::id.eq(OutboxId::new()),
                email_outbox::recipient.eq(recipient),
                email_outbox::subject.eq(subject),
                email_outbox::body.eq(body),
            ))
            .returning(email_outbox::id)
            .get_result(conn)
            .await
    }

    pub async fn lease_due(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<EmailMessage>> {
        diesel::sql_query(
            "UPDATE email_outbox SET next_attempt_at = $2 WHERE id IN ( \
               SELECT id FROM email_outbox WHERE status = 'PENDING' AND next_attempt_at <= $1 \
               ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING *",
        )
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(lease_until)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await
    }

    pub async fn record(
        conn: &mut AsyncPgConnection,
        id: OutboxId,
        outcome: &Delivery,
    ) -> QueryResult<()> {
        let target = email_outbox::table.find(id);
        match outcome {
            Delivery::Sent => {
                diesel::update(target)
                    .set((
                        email_outbox::status.eq(OutboxStatus::Sent),
                        email_outbox::sent_at.eq(diesel::dsl::now),
                        email_outbox::attempts.eq(email_outbox::attempts + 1),
                    ))
                    .execute(conn)
                    .await
            }
            Delivery::Retry { error, at } => {
                diesel::update(target)
                    .set((
                        email_outbox::attempts.eq(email_outbox::attempts + 1),
                        email_outbox::last_error.eq(error),
                        email_outbox::next_attempt_at.eq(at),
                    ))
                    .execute(conn)
                    .await
            }
            Delivery::GiveUp { error } => {
                diesel::update(target)
                    .set((
                        email_outbox::status.eq(OutboxStatus::Failed),
                        email_outbox::attempts.eq(email_outbox::attempts + 1),
                        email_outbox::last_error.eq(error),
                    ))
                    .execute(conn)
                    .await
            }
        }
        .map(drop)
    }
}
