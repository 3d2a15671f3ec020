//! The `sms_outbox` and `email_outbox` tables: messages written with the change
//! that causes them, delivered and retried by the outbox job.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::cached::CachedExt;

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

/// The two outbox tables share their delivery columns; the bookkeeping
/// below is written once for both.
#[derive(Debug, Clone, Copy)]
pub enum Outbox {
    Sms,
    Email,
}

impl Outbox {
    fn table(self) -> &'static str {
        match self {
            Self::Sms => "sms_outbox",
            Self::Email => "email_outbox",
        }
    }

    /// Leases due messages: their next attempt moves to `lease_until`, so
    /// other workers skip them while this one sends (outside any
    /// transaction); a worker that dies leaves them due again after the lease.
    async fn lease_due<T>(
        self,
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<T>>
    where
        T: QueryableByName<diesel::pg::Pg> + Send + 'static,
    {
        let table = self.table();
        diesel::sql_query(format!(
            "UPDATE {table} SET next_attempt_at = $2 WHERE id IN ( \
               SELECT id FROM {table} WHERE status = 'PENDING' AND next_attempt_at <= $1 \
               ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING *"
        ))
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(lease_until)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await
    }

    /// Records the outcome of one attempt, in a statement of its own.
    pub async fn record(
        self,
        conn: &mut AsyncPgConnection,
        id: OutboxId,
        outcome: &Delivery,
    ) -> QueryResult<()> {
        let table = self.table();
        let (status, error, next) = match outcome {
            Delivery::Sent => (OutboxStatus::Sent, None, None),
            Delivery::Retry { error, at } => {
                (OutboxStatus::Pending, Some(error.as_str()), Some(*at))
            }
            Delivery::GiveUp { error } => (OutboxStatus::Failed, Some(error.as_str()), None),
        };
        diesel::sql_query(format!(
            "UPDATE {table} SET status = $2, attempts = attempts + 1, \
               last_error = COALESCE($3, last_error), \
               next_attempt_at = COALESCE($4, next_attempt_at), \
               sent_at = CASE WHEN $2 = 'SENT' THEN now() ELSE sent_at END \
             WHERE id = $1"
        ))
        .bind::<diesel::sql_types::Uuid, _>(id)
        .bind::<Text, _>(status)
        .bind::<Nullable<Text>, _>(error)
        .bind::<Nullable<Timestamptz>, _>(next)
        .cached()
        .execute(conn)
        .await
        .map(drop)
    }
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
        mut conn: &AsyncPgConnection,
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
            .get_result(&mut conn)
            .await
    }

    pub async fn lease_due(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<SmsMessage>> {
        Outbox::Sms.lease_due(conn, now, lease_until, limit).await
    }

    /// Removes a body that carried a code once it is no longer needed.
    pub async fn blank_body(conn: &mut AsyncPgConnection, id: OutboxId) -> QueryResult<()> {
        diesel::update(sms_outbox::table.find(id))
            .set(sms_outbox::body.eq("[removed: it carried a verification code]"))
            .execute(conn)
            .await
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
        mut conn: &AsyncPgConnection,
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
            .get_result(&mut conn)
            .await
    }

    pub async fn lease_due(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<EmailMessage>> {
        Outbox::Email.lease_due(conn, now, lease_until, limit).await
    }
}
