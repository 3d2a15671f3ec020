//! The `audit_logs` table (append-only; a trigger refuses changes).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::cached::CachedExt;
use crate::db::ids::UserId;
use crate::db::schema::{audit_chain_heads, audit_logs};

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

/// The `audit_chain_heads` table: each chain's newest hash, keyed by the
/// enterprise's id (the nil UUID for the platform's log).
pub struct ChainHead;

impl ChainHead {
    /// The chain's newest hash, its row locked until the transaction ends;
    /// None before the chain's first row.
    pub async fn lock(mut conn: &AsyncPgConnection, key: Uuid) -> QueryResult<Option<Vec<u8>>> {
        audit_chain_heads::table
            .find(key)
            .select(audit_chain_heads::hash)
            .for_update()
            .first(&mut conn)
            .await
            .optional()
    }

    /// Starts the chain at `genesis` unless it has a head already.
    pub async fn start(mut conn: &AsyncPgConnection, key: Uuid, genesis: &[u8]) -> QueryResult<()> {
        diesel::insert_into(audit_chain_heads::table)
            .values((
                audit_chain_heads::chain.eq(key),
                audit_chain_heads::hash.eq(genesis),
            ))
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await
            .map(drop)
    }

    /// Every chain's head, as (key, hash).
    pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(Uuid, Vec<u8>)>> {
        audit_chain_heads::table
            .select((audit_chain_heads::chain, audit_chain_heads::hash))
            .load(conn)
            .await
    }
}

impl AuditLog {
    /// Inserts `new` and moves the head of its chain (`key`, locked by
    /// the caller) to it, in one statement.
    pub async fn append(
        mut conn: &AsyncPgConnection,
        new: &NewAuditLog<'_>,
        key: Uuid,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Bytea, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
        diesel::sql_query(
            "WITH appended AS (INSERT INTO audit_logs (chain, at, actor_user_id, action, \
               target_type, target_id, details, client_ip, prev_hash, hash) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)) \
             UPDATE audit_chain_heads SET hash = $10 WHERE chain = $11",
        )
        .bind::<Nullable<SqlUuid>, _>(new.chain)
        .bind::<Timestamptz, _>(new.at)
        .bind::<Nullable<SqlUuid>, _>(new.actor_user_id)
        .bind::<Text, _>(new.action)
        .bind::<Text, _>(new.target_type)
        .bind::<Nullable<Text>, _>(new.target_id)
        .bind::<Jsonb, _>(new.details)
        .bind::<Nullable<Text>, _>(new.client_ip)
        .bind::<Bytea, _>(new.prev_hash)
        .bind::<Bytea, _>(new.hash)
        .bind::<SqlUuid, _>(key)
        .cached()
        .execute(&mut conn)
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
