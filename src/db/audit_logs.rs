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
}

/// The `audit_chain_heads` table: each chain's newest hash, keyed by the
/// enterprise's id (the nil UUID for the platform's log).
pub struct ChainHead;

impl ChainHead {
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
    /// Links `new` to the head of its chain (`key`) and moves the head to
    /// it, in one statement: the head is locked (until the transaction
    /// ends), the row inserted with `prev_hash` the head's hash and `hash`
    /// SHA-256(prev_hash || `canonical`), and the head moved. False, with
    /// nothing written, when the chain has no head yet.
    pub async fn append(
        mut conn: &AsyncPgConnection,
        new: &NewAuditLog<'_>,
        canonical: &[u8],
        key: Uuid,
    ) -> QueryResult<bool> {
        use diesel::sql_types::{Bytea, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
        // After a wait for the lock, `head` reads the hash the last holder
        // committed (READ COMMITTED re-reads a locked row's newest version),
        // and so does the UPDATE of that row.
        diesel::sql_query(
            "WITH head AS (SELECT hash FROM audit_chain_heads WHERE chain = $10 FOR UPDATE), \
             appended AS (INSERT INTO audit_logs (chain, at, actor_user_id, action, \
               target_type, target_id, details, client_ip, prev_hash, hash) \
               SELECT $1, $2, $3, $4, $5, $6, $7, $8, head.hash, sha256(head.hash || $9) \
               FROM head RETURNING hash) \
             UPDATE audit_chain_heads h SET hash = appended.hash FROM appended \
             WHERE h.chain = $10",
        )
        .bind::<Nullable<SqlUuid>, _>(new.chain)
        .bind::<Timestamptz, _>(new.at)
        .bind::<Nullable<SqlUuid>, _>(new.actor_user_id)
        .bind::<Text, _>(new.action)
        .bind::<Text, _>(new.target_type)
        .bind::<Nullable<Text>, _>(new.target_id)
        .bind::<Jsonb, _>(new.details)
        .bind::<Nullable<Text>, _>(new.client_ip)
        .bind::<Bytea, _>(canonical)
        .bind::<SqlUuid, _>(key)
        .cached()
        .execute(&mut conn)
        .await
        .map(|moved| moved == 1)
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
