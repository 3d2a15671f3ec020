//! The audit log: every security-relevant change writes a row in the same
//! transaction, chained by hash so that an edited or removed row is found.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use diesel_async::AsyncPgConnection;
use serde_json::Value;
use uuid::Uuid;

use crate::db::audit_logs::{AuditLog, NewAuditLog};
use crate::db::ids::UserId;
use crate::db::locks::lock_key;
use crate::domain::Services;
use crate::error::AppResult;
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

/// SHA-256(prev_hash || canonical JSON of the row's fields).
fn row_hash(prev: &[u8], row: &RowFields<'_>) -> Vec<u8> {
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
    let mut bytes = prev.to_vec();
    // serde_json writes the fixed key order of `canonical_row` only if maps
    // are sorted; `canonical` makes that so whatever serde_json's features.
    bytes.extend_from_slice(canonical(&canonical_row).to_string().as_bytes());
    sha256(&bytes)
}

/// Appends `entry` to its chain inside the caller's transaction. Appends to
/// one chain are serialised by a transaction-scoped lock.
pub async fn record(
    conn: &mut AsyncPgConnection,
    svc: &Services<'_>,
    entry: Entry<'_>,
) -> AppResult<()> {
    let chain_key = entry.enterprise.map(|e| e.to_string()).unwrap_or_default();
    lock_key(conn, "audit-chain", &chain_key).await?;
    let prev = AuditLog::last_hash(conn, entry.enterprise)
        .await?
        .unwrap_or_else(|| GENESIS.to_vec());
    // Stored with microsecond precision, so hash exactly that.
    let at = svc.clock.now().trunc_subsecs(6);
    let fields = RowFields {
        chain: entry.enterprise,
        at,
        actor: entry.actor,
        action: entry.action,
        target_type: entry.target_type,
        target_id: entry.target_id.as_deref(),
        details: &entry.details,
        client_ip: entry.client_ip,
    };
    let hash = row_hash(&prev, &fields);
    AuditLog::insert(
        conn,
        &NewAuditLog {
            chain: entry.enterprise,
            at,
            actor_user_id: entry.actor,
            action: entry.action,
            target_type: entry.target_type,
            target_id: fields.target_id,
            details: &entry.details,
            client_ip: entry.client_ip,
            prev_hash: &prev,
            hash: &hash,
        },
    )
    .await?;
    Ok(())
}

/// What `verify` found.
#[derive(Debug, PartialEq, Eq)]
pub struct Verification {
    pub rows_checked: u64,
    /// The id of the first row whose link or hash does not hold.
    pub first_broken: Option<i64>,
}

/// Recomputes every chain from its first row.
pub async fn verify(conn: &mut AsyncPgConnection) -> AppResult<Verification> {
    let mut last: HashMap<Option<Uuid>, Vec<u8>> = HashMap::new();
    let mut after = 0;
    let mut checked = 0;
    loop {
        let page = AuditLog::page(conn, after, 1000).await?;
        if page.is_empty() {
            return Ok(Verification {
                rows_checked: checked,
                first_broken: None,
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
                });
            }
            last.insert(row.chain, row.hash);
        }
    }
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
