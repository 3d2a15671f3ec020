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
        mut conn: &AsyncPgConnection,
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
            .execute(&mut conn)
            .await
            .map(|_| ())
    }
}
