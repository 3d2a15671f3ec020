//! The `signature_captures` table: one-time links for capturing a
//! handwritten signature on a phone.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::ids::{CaptureId, SealId, UserId};
use crate::db::schema::signature_captures;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signature_captures, check_for_backend(diesel::pg::Pg))]
pub struct SignatureCapture {
    pub id: CaptureId,
    pub user_id: UserId,
    pub token_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub seal_id: Option<SealId>,
    pub created_at: DateTime<Utc>,
}

impl SignatureCapture {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: &SignatureCapture,
    ) -> QueryResult<SignatureCapture> {
        diesel::insert_into(signature_captures::table)
            .values(new)
            .returning(SignatureCapture::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn lock(
        conn: &mut AsyncPgConnection,
        id: CaptureId,
    ) -> QueryResult<Option<SignatureCapture>> {
        signature_captures::table
            .find(id)
            .select(SignatureCapture::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    pub async fn mark_used(
        conn: &mut AsyncPgConnection,
        id: CaptureId,
        seal: SealId,
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::update(signature_captures::table.find(id))
            .set((
                signature_captures::used_at.eq(at),
                signature_captures::seal_id.eq(seal),
            ))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Links started by `user` since `since` (a per-user limit).
    pub async fn count_since(
        conn: &mut AsyncPgConnection,
        user: UserId,
        since: DateTime<Utc>,
    ) -> QueryResult<i64> {
        signature_captures::table
            .filter(signature_captures::user_id.eq(user))
            .filter(signature_captures::created_at.gt(since))
            .count()
            .get_result(conn)
            .await
    }
}
