//! The audit log: every security-relevant change writes a row in the same
//! transaction, chained by hash so that an edited or removed row is found.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use diesel_async::AsyncPgConnection;
use serde_json::Value;
use uuid::Uuid;

use crate::db::audit_logs::{AuditLog, ChainHead, NewAuditLog};
use crate::db::ids::UserId;
use crate::domain::Services;
use crate::error::{AppError, AppResult};
use crate::pki::secrets::sha256;

/// The hash a chain starts from.
const GENESIS: [u8; 32] = [0; 32];

/// One audited change.
pub struct Entry<'a> {
    /// The enterprise whose log this belongs to; None for the platform log.
    pub enterprise: Option<Uuid>,
    pub actor: Option<UserId>,
    /// `seal.create`, `member.remove`, `platform_role.grant`, ...
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<String>,
    pub details: Value,
    pub client_ip: Option<&'a str>,
}

/// Keys sorted at every level: the one serialisation the hash is taken over.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut sorted = serde_json::Map::new();
            for key in keys {
                sorted.insert(key.clone(), canonical(&map[key]));
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

struct RowFields<'a> {
    chain: Option<Uuid>,
    at: DateTime<Utc>,
    actor: Option<UserId>,
    action: &'a str,
    target_type: &'a str,
    target_id: Option<&'a str>,
    details: &'a Value,
    client_ip: Option<&'a str>,
}

/// SHA-256(prev_hash || canonical JSON of the row's fields); appends
/// have PostgreSQL take the same hash over [`canonical_row`].
fn row_hash(prev: &[u8], row: &RowFields<'_>) -> Vec<u8> {
    let mut bytes = prev.to_vec();
    bytes.extend_from_slice(&canonical_row(row));
    sha256(&bytes)
}

/// The canonical JSON of the row's fields, as bytes.
fn canonical_row(row: &RowFields<'_>) -> Vec<u8> {
    let canonical_row = serde_json::json!({
        "chain": row.chain.map(|c| c.to_string()),
        "at": row.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "actor": row.actor.map(|a| a.to_string()),
        "action": row.action,
        "targetType": row.target_type,
        "targetId": row.target_id,
        "details": canonical(row.details),
        "clientIp": row.client_ip,
    });
    // serde_json writes the fixed key order of `canonical_row` only if maps
    // are sorted; `canonical` makes that so whatever serde_json's features.
    canonical(&canonical_row).to_string().into_bytes()
}

/// Appends `entry` to its chain inside the caller's transaction, in one
/// statement that may be pipelined with others (three for a chain's first
/// row). Appends to one chain queue on the chain's head, locked until the
/// commit: send it as late as the transaction allows.
pub async fn record(
    conn: &AsyncPgConnection,
    svc: &Services<'_>,
    entry: Entry<'_>,
) -> AppResult<()> {
    // Stored with microsecond precision, so hash exactly that.
    let at = svc.clock.now().trunc_subsecs(6);
    let target_id = entry.target_id.as_deref();
    let canonical = canonical_row(&RowFields {
        chain: entry.enterprise,
        at,
        actor: entry.actor,
        action: entry.action,
        target_type: entry.target_type,
        target_id,
        details: &entry.details,
        client_ip: entry.client_ip,
    });
    let new = NewAuditLog {
        chain: entry.enterprise,
        at,
        actor_user_id: entry.actor,
        action: entry.action,
        target_type: entry.target_type,
        target_id,
        details: &entry.details,
        client_ip: entry.client_ip,
    };
    let key = head_key(entry.enterprise);
    if AuditLog::append(conn, &new, &canonical, key).await? {
        return Ok(());
    }
    // The chain's first row. A concurrent first append waits for this
    // insert, then links to the committed head.
    ChainHead::start(conn, key, &GENESIS).await?;
    if !AuditLog::append(conn, &new, &canonical, key).await? {
        return Err(AppError::internal(anyhow::anyhow!(
            "an audit chain head vanished"
        )));
    }
    Ok(())
}

fn head_key(chain: Option<Uuid>) -> Uuid {
    chain.unwrap_or(Uuid::nil())
}

/// What `verify` found.
#[derive(Debug, PartialEq, Eq)]
pub struct Verification {
    pub rows_checked: u64,
    /// The id of the first row whose link or hash does not hold.
    pub first_broken: Option<i64>,
    /// Chains (None: the platform's) that do not end at their head: rows
    /// removed from the end, or a head moved without its row.
    pub broken_heads: Vec<Option<Uuid>>,
}

/// Recomputes every chain from its first row, then checks that each ends
/// at its head; all in one snapshot, so appends meanwhile do not matter.
pub async fn verify(conn: &mut AsyncPgConnection) -> AppResult<Verification> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(async |conn| verify_in_snapshot(conn).await)
        .await
}

async fn verify_in_snapshot(conn: &mut AsyncPgConnection) -> AppResult<Verification> {
    let heads: HashMap<Uuid, Vec<u8>> = ChainHead::all(conn).await?.into_iter().collect();
    let mut last: HashMap<Option<Uuid>, Vec<u8>> = HashMap::new();
    let mut after = 0;
    let mut checked = 0;
    loop {
        let page = AuditLog::page(conn, after, 1000).await?;
        if page.is_empty() {
            return Ok(Verification {
                rows_checked: checked,
                first_broken: None,
                broken_heads: broken_heads(&heads, &last),
            });
        }
        for row in page {
            after = row.id;
            checked += 1;
            let expected_prev = last
                .get(&row.chain)
                .cloned()
                .unwrap_or_else(|| GENESIS.to_vec());
            let fields = RowFields {
                chain: row.chain,
                at: row.at,
                actor: row.actor_user_id,
                action: &row.action,
                target_type: &row.target_type,
                target_id: row.target_id.as_deref(),
                details: &row.details,
                client_ip: row.client_ip.as_deref(),
            };
            if row.prev_hash != expected_prev || row_hash(&expected_prev, &fields) != row.hash {
                return Ok(Verification {
                    rows_checked: checked,
                    first_broken: Some(row.id),
                    broken_heads: Vec::new(),
                });
            }
            last.insert(row.chain, row.hash);
        }
    }
}

/// The chains that do not end at their head (a chain with rows needs
/// one; a head without rows stays at the start).
fn broken_heads(
    heads: &HashMap<Uuid, Vec<u8>>,
    last: &HashMap<Option<Uuid>, Vec<u8>>,
) -> Vec<Option<Uuid>> {
    let mut broken: Vec<Option<Uuid>> = last
        .iter()
        .filter(|(chain, hash)| heads.get(&head_key(**chain)) != Some(*hash))
        .map(|(chain, _)| *chain)
        .collect();
    for (key, hash) in heads {
        let chain = (*key != Uuid::nil()).then_some(*key);
        if !last.contains_key(&chain) && hash.as_slice() != GENESIS {
            broken.push(chain);
        }
    }
    broken.sort();
    broken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = serde_json::json!({ "b": 1, "a": { "y": 2, "x": [ { "q": 1, "p": 2 } ] } });
        assert_eq!(
            canonical(&a).to_string(),
            r#"{"a":{"x":[{"p":2,"q":1}],"y":2},"b":1}"#
        );
    }
}
