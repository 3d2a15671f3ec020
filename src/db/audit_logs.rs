//! The `audit_logs` table (append-only; a trigger refuses changes).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::cached::CachedExt;
use crate::db::ids::UserId;
use crate::db::schema::audit_logs;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_logs, check_for_backend(diesel::pg::Pg))]
pub struct AuditLog {
    pub id: i64,
    pub chain: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<UserId>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub details: serde_json::Value,
    pub client_ip: Option<String>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

#[derive(Insertable)]
#[diesel(table_name = audit_logs)]
pub struct NewAuditLog<'a> {
    pub chain: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<UserId>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<&'a str>,
    pub details: &'a serde_json::Value,
    pub client_ip: Option<&'a str>,
    pub prev_hash: &'a [u8],
    pub hash: &'a [u8],
}

impl AuditLog {
    /// The hash of the newest row of `chain`, if any.
    pub async fn last_hash(
        conn: &mut AsyncPgConnection,
        chain: Option<Uuid>,
    ) -> QueryResult<Option<Vec<u8>>> {
        let query = audit_logs::table
            .order(audit_logs::id.desc())
            .select(audit_logs::hash)
            .into_boxed();
        let query = match chain {
            Some(chain) => query.filter(audit_logs::chain.eq(chain)),
            None => query.filter(audit_logs::chain.is_null()),
        };
        query.first(conn).await.optional()
    }

    pub async fn insert(conn: &mut AsyncPgConnection, new: &NewAuditLog<'_>) -> QueryResult<()> {
        diesel::insert_into(audit_logs::table)
            .values(new)
            .cached()
            .execute(conn)
            .await
            .map(drop)
    }

    /// One enterprise's rows after `after_id`, oldest first, optionally of one action.
    pub async fn page_of_chain(
        conn: &mut AsyncPgConnection,
        chain: Uuid,
        action: Option<&str>,
        after_id: i64,
        limit: i64,
    ) -> QueryResult<Vec<AuditLog>> {
        let mut query = audit_logs::table
            .filter(audit_logs::chain.eq(chain))
            .filter(audit_logs::id.gt(after_id))
            .order(audit_logs::id.asc())
            .limit(limit)
            .select(AuditLog::as_select())
            .into_boxed();
        if let Some(action) = action {
            query = query.filter(audit_logs::action.eq(action.to_owned()));
        }
        query.load(conn).await
    }

    pub async fn count_of_chain(
        conn: &mut AsyncPgConnection,
        chain: Uuid,
        action: Option<&str>,
    ) -> QueryResult<i64> {
        let mut query = audit_logs::table
            .filter(audit_logs::chain.eq(chain))
            .count()
            .into_boxed();
        if let Some(action) = action {
            query = query.filter(audit_logs::action.eq(action.to_owned()));
        }
        query.get_result(conn).await
    }

    /// Up to `limit` rows after `after_id`, in chain order (all chains).
    pub async fn page(
        conn: &mut AsyncPgConnection,
        after_id: i64,
        limit: i64,
    ) -> QueryResult<Vec<AuditLog>> {
        audit_logs::table
            .filter(audit_logs::id.gt(after_id))
            .order(audit_logs::id.asc())
            .limit(limit)
            .select(AuditLog::as_select())
            .load(conn)
            .await
    }
}
