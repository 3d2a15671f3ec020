//! The `sessions` table: opaque bearer tokens, stored only as SHA-256.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::ids::{SessionId, UserId};
use crate::db::schema::sessions;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub id: SessionId,
    pub user_id: UserId,
    pub token_hash: &'a [u8],
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

impl Session {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: &NewSession<'_>,
    ) -> QueryResult<Session> {
        diesel::insert_into(sessions::table)
            .values(new)
            .returning(Session::as_returning())
            .get_result(conn)
            .await
    }

    /// The live session holding this token: not revoked, not past its
    /// absolute expiry, and used within the idle window.
    pub async fn find_live(
        conn: &mut AsyncPgConnection,
        token_hash: &[u8],
        idle_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<Session>> {
        sessions::table
            .filter(sessions::token_hash.eq(token_hash))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::last_seen_at.gt(idle_since))
            .select(Session::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn is_live(
        conn: &mut AsyncPgConnection,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            sessions::table
                .filter(sessions::id.eq(id))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(now)),
        ))
        .get_result(conn)
        .await
    }

    pub async fn touch(
        conn: &mut AsyncPgConnection,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> QueryResult<()> {
        diesel::update(sessions::table.find(id))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn revoke(conn: &mut AsyncPgConnection, id: SessionId) -> QueryResult<()> {
        diesel::update(sessions::table.find(id))
            .filter(sessions::revoked_at.is_null())
            .set(sessions::revoked_at.eq(diesel::dsl::now))
            .execute(conn)
            .await
            .map(drop)
    }

    /// Revokes every live session of the user but `keep`; returns the ones revoked.
    pub async fn revoke_all_for_user(
        conn: &mut AsyncPgConnection,
        user_id: UserId,
        keep: Option<SessionId>,
    ) -> QueryResult<Vec<SessionId>> {
        let keep = keep.unwrap_or(SessionId(uuid::Uuid::nil()));
        diesel::update(sessions::table)
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::id.ne(keep))
            .set(sessions::revoked_at.eq(diesel::dsl::now))
            .returning(sessions::id)
            .get_results(conn)
            .await
    }
}
