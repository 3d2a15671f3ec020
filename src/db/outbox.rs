//! The `sms_outbox` and `email_outbox` tables: messages written with the change
//! that causes them, delivered and retried by the outbox job.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::enums::OutboxStatus;
use crate::db::ids::OutboxId;
use crate::db::schema::{email_outbox, sms_outbox};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sms_outbox, check_for_backend(diesel::pg::Pg))]
pub struct SmsMessage {
    pub id: OutboxId,
    pub phone: String,
    pub body: String,
    pub sensitive: bool,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
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
    pub async fn enqueue(
        conn: &mut AsyncPgConnection,
        phone: &str,
        body: &str,
        sensitive: bool,
    ) -> QueryResult<OutboxId> {
        diesel::insert_into(sms_outbox::table)
            .values((
                sms_outbox::id.eq(OutboxId::new()),
                sms_outbox::phone.eq(phone),
                sms_outbox::body.eq(body),
                sms_outbox::sensitive.eq(sensitive),
            ))
            .returning(sms_outbox::id)
            .get_result(conn)
            .await
    }

    /// Claims due messages; the row locks hold until the caller's transaction ends,
    /// so several workers never deliver one message twice.
    pub async fn claim_due(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<SmsMessage>> {
        sms_outbox::table
            .filter(sms_outbox::status.eq(OutboxStatus::Pending))
            .filter(sms_outbox::next_attempt_at.le(now))
            .order(sms_outbox::next_attempt_at)
            .limit(limit)
            .for_update()
            .skip_locked()
            .select(SmsMessage::as_select())
            .load(conn)
            .await
    }

    pub async fn record(
        conn: &mut AsyncPgConnection,
        id: OutboxId,
        outcome: &Delivery,
        redact_body: bool,
    ) -> QueryResult<()> {
        let target = sms_outbox::table.find(id);
        match outcome {
            Delivery::Sent if redact_body => {
                diesel::update(target)
                    .set((
                        sms_outbox::status.eq(OutboxStatus::Sent),
                        sms_outbox::sent_at.eq(diesel::dsl::now),
                        sms_outbox::attempts.eq(sms_outbox::attempts + 1),
                        sms_outbox::body.eq("[redacted after delivery]"),
                    ))
                    .execute(conn)
                    .await
            }
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

    pub async fn claim_due(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<EmailMessage>> {
        email_outbox::table
            .filter(email_outbox::status.eq(OutboxStatus::Pending))
            .filter(email_outbox::next_attempt_at.le(now))
            .order(email_outbox::next_attempt_at)
            .limit(limit)
            .for_update()
            .skip_locked()
            .select(EmailMessage::as_select())
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
