//! Transaction-scoped advisory locks that serialise work on one key (a phone
//! number, a client IP) across server processes.

use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Takes the lock for (namespace, key) until the current transaction ends.
pub async fn lock_key(
    conn: &mut AsyncPgConnection,
    namespace: &str,
    key: &str,
) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(namespace_seed(namespace))
        .execute(conn)
        .await
        .map(drop)
}

fn namespace_seed(namespace: &str) -> i64 {
    namespace.bytes().fold(0i64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(i64::from(b))
    })
}
