//! The `sms_codes` and `sms_code_sends` tables: one live code per (phone,
//! purpose), and the history the send limits count.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::cached::CachedExt;
use crate::db::enums::SmsPurpose;
use crate::db::ids::SmsCodeId;
use crate::db::schema::sms_codes;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sms_codes, check_for_backend(diesel::pg::Pg))]
pub struct SmsCode {
    pub id: SmsCodeId,
    pub phone: String,
    pub purpose: SmsPurpose,
    pub code_hash: Vec<u8>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub consumed_at: Option<DateTime<Utc>>,
}

impl SmsCode {
    /// Stores a new code for (phone, purpose), replacing any earlier one.
    pub async fn replace(
        conn: &mut AsyncPgConnection,
        phone: &str,
        purpose: SmsPurpose,
        code_hash: &[u8],
        expires_at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::insert_into(sms_codes::table)
            .values((
                sms_codes::id.eq(SmsCodeId::new()),
                sms_codes::phone.eq(phone),
                sms_codes::purpose.eq(purpose),
                sms_codes::code_hash.eq(code_hash),
                sms_codes::expires_at.eq(expires_at),
            ))
            .on_conflict((sms_codes::phone, sms_codes::purpose))
            .do_update()
            .set((
                sms_codes::id.eq(SmsCodeId::new()),
                sms_codes::code_hash.eq(code_hash),
                sms_codes::attempts.eq(0),
                sms_codes::created_at.eq(diesel::dsl::now),
                sms_codes::expires_at.eq(expires_at),
                sms_codes::consumed_at.eq(None::<DateTime<Utc>>),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Counts one try against the live code and returns it, or None when
    /// there is no live code or its tries are used up.
    pub async fn count_attempt(
        conn: &mut AsyncPgConnection,
        phone: &str,
        purpose: SmsPurpose,
        max_attempts: i32,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<SmsCode>> {
        diesel::update(sms_codes::table)
            .filter(sms_codes::phone.eq(phone))
            .filter(sms_codes::purpose.eq(purpose))
            .filter(sms_codes::consumed_at.is_null())
            .filter(sms_codes::expires_at.gt(now))
            .filter(sms_codes::attempts.lt(max_attempts))
            .set(sms_codes::attempts.eq(sms_codes::attempts + 1))
            .returning(SmsCode::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Whether `code_hash` is the code of (phone, purpose) that was already used.
    pub async fn was_consumed(
        conn: &mut AsyncPgConnection,
        phone: &str,
        purpose: SmsPurpose,
        code_hash: &[u8],
    ) -> QueryResult<bool> {
        let stored: Option<Vec<u8>> = sms_codes::table
            .filter(sms_codes::phone.eq(phone))
            .filter(sms_codes::purpose.eq(purpose))
            .filter(sms_codes::consumed_at.is_not_null())
            .select(sms_codes::code_hash)
            .first(conn)
            .await
            .optional()?;
        Ok(stored.is_some_and(|stored| crate::pki::secrets::constant_time_eq(&stored, code_hash)))
    }

    /// Marks the code used; false when another request used it first.
    pub async fn consume(conn: &mut AsyncPgConnection, id: SmsCodeId) -> QueryResult<bool> {
        diesel::update(sms_codes::table.find(id))
            .filter(sms_codes::consumed_at.is_null())
            .set(sms_codes::consumed_at.eq(diesel::dsl::now))
            .execute(conn)
            .await
            .map(|rows| rows == 1)
    }
}

pub struct SmsCodeSend;

/// Codes sent before the one being recorded.
#[derive(Debug, QueryableByName)]
pub struct SendsBefore {
    #[diesel(sql_type = BigInt)]
    pub to_phone: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub newest_to_phone: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub oldest_to_phone: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    pub from_ip: i64,
}

impl SmsCodeSend {
    /// Records a send at `at` and tells what was sent before it: to the
    /// phone since `phone_since`, from the client's network since
    /// `ip_since`. One statement; the caller's transaction undoes the
    /// record if it refuses the send.
    pub async fn record_and_count(
        mut conn: &AsyncPgConnection,
        phone: &str,
        client_ip: &str,
        at: DateTime<Utc>,
        phone_since: DateTime<Utc>,
        ip_since: DateTime<Utc>,
    ) -> QueryResult<SendsBefore> {
        // The statement's snapshot does not see its own insert.
        diesel::sql_query(
            "WITH recorded AS (\
               INSERT INTO sms_code_sends (phone, client_ip, sent_at) VALUES ($1, $2, $3)) \
             SELECT count(*) AS to_phone, max(sent_at) AS newest_to_phone, \
               min(sent_at) AS oldest_to_phone, \
               (SELECT count(*) FROM sms_code_sends \
                 WHERE client_ip = $2 AND sent_at > $5) AS from_ip \
             FROM sms_code_sends WHERE phone = $1 AND sent_at > $4",
        )
        .bind::<Text, _>(phone)
        .bind::<Text, _>(client_ip)
        .bind::<Timestamptz, _>(at)
        .bind::<Timestamptz, _>(phone_since)
        .bind::<Timestamptz, _>(ip_since)
        .cached()
        .get_result(&mut conn)
        .await
    }
}
