//! The `signing_codes` table: intent codes for signing a task.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::cached::CachedExt;

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
            .cached()
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// Tries `code_hash` against the live, unused code within
    /// `max_attempts`, in one statement that locks the code: a right one
    /// is used up, a wrong one counts as a try. Inside the transaction of
    /// the change the code authorises, which must commit after a wrong try
    /// (so that it stays counted) and roll back only with a right one.
    /// None when there is no such code.
    pub async fn use_code(
        conn: &mut AsyncPgConnection,
        task: TaskId,
        user: UserId,
        code_hash: &[u8],
        max_attempts: i32,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<bool>> {
        #[derive(diesel::QueryableByName)]
        struct Tried {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            right: bool,
        }
        let tried: Option<Tried> = diesel::sql_query(
            "UPDATE signing_codes \
             SET attempts = attempts + CASE WHEN code_hash = $3 THEN 0 ELSE 1 END, \
               consumed_at = CASE WHEN code_hash = $3 THEN $4 ELSE consumed_at END \
             WHERE task_id = $1 AND user_id = $2 AND consumed_at IS NULL \
             AND expires_at > $4 AND attempts < $5 \
             RETURNING code_hash = $3 AS right",
        )
        .bind::<diesel::sql_types::Uuid, _>(task)
        .bind::<diesel::sql_types::Uuid, _>(user)
        .bind::<diesel::sql_types::Bytea, _>(code_hash)
        .bind::<diesel::sql_types::Timestamptz, _>(now)
        .bind::<diesel::sql_types::Integer, _>(max_attempts)
        .cached()
        .get_result(conn)
        .await
        .optional()?;
        Ok(tried.map(|t| t.right))
    }
}
