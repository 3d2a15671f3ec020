//! The `signing_codes` table: intent codes for signing a task.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::ids::{TaskId, UserId};
use crate::db::schema::signing_codes;

pub struct SigningCode;

impl SigningCode {
    /// Stores a fresh code for (task, user), replacing any earlier one.
    pub async fn replace(
        conn: &mut AsyncPgConnection,
        task: TaskId,
        user: UserId,
        phone: &str,
        code_hash: &[u8],
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::insert_into(signing_codes::table)
            .values((
                signing_codes::task_id.eq(task),
                signing_codes::user_id.eq(user),
                signing_codes::phone.eq(phone),
                signing_codes::code_hash.eq(code_hash),
                signing_codes::expires_at.eq(expires_at),
                signing_codes::created_at.eq(now),
            ))
            .on_conflict((signing_codes::task_id, signing_codes::user_id))
            .do_update()
            .set((
                signing_codes::phone.eq(phone),
                signing_codes::code_hash.eq(code_hash),
                signing_codes::attempts.eq(0),
                signing_codes::expires_at.eq(expires_at),
                signing_codes::consumed_at.eq(None::<DateTime<Utc>>),
                signing_codes::created_at.eq(now),
            ))
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// Counts one try against the live, unused code within `max_attempts`;
    /// its hash, or None when there is no such code.
    pub async fn count_attempt(
        conn: &mut AsyncPgConnection,
        task: TaskId,
        user: UserId,
        max_attempts: i32,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<Vec<u8>>> {
        diesel::update(
            signing_codes::table
                .filter(signing_codes::task_id.eq(task))
                .filter(signing_codes::user_id.eq(user))
                .filter(signing_codes::consumed_at.is_null())
                .filter(signing_codes::expires_at.gt(now))
                .filter(signing_codes::attempts.lt(max_attempts)),
        )
        .set(signing_codes::attempts.eq(signing_codes::attempts + 1))
        .returning(signing_codes::code_hash)
        .get_result(conn)
        .await
        .optional()
    }

    /// Takes back the try `count_attempt` counted: only wrong tries count.
    pub async fn uncount_attempt(
        conn: &mut AsyncPgConnection,
        task: TaskId,
        user: UserId,
    ) -> QueryResult<()> {
        diesel::update(
            signing_codes::table
                .filter(signing_codes::task_id.eq(task))
                .filter(signing_codes::user_id.eq(user))
                .filter(signing_codes::attempts.gt(0)),
        )
        .set(signing_codes::attempts.eq(signing_codes::attempts - 1))
        .execute(conn)
        .await
        .map(drop)
    }

    /// Uses the code with this hash up; false when it was used already or
    /// replaced by a newer one.
    pub async fn consume(
        conn: &mut AsyncPgConnection,
        task: TaskId,
        user: UserId,
        code_hash: &[u8],
        now: DateTime<Utc>,
    ) -> QueryResult<bool> {
        let used = diesel::update(
            signing_codes::table
                .filter(signing_codes::task_id.eq(task))
                .filter(signing_codes::user_id.eq(user))
                .filter(signing_codes::code_hash.eq(code_hash))
                .filter(signing_codes::consumed_at.is_null())
                .filter(signing_codes::expires_at.gt(now)),
        )
        .set(signing_codes::consumed_at.eq(Some(now)))
        .execute(conn)
        .await?;
        Ok(used == 1)
    }
}
