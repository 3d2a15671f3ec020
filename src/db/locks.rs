//! Transaction-scoped advisory locks that serialise work on one key (a phone
//! number, a client IP) across server processes.

use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::cached::CachedExt;

/// Takes the lock for (namespace, key) until the current transaction ends.
pub async fn lock_key(
    conn: &mut AsyncPgConnection,
    namespace: &str,
    key: &str,
) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(namespace_seed(namespace))
        .cached()
        .execute(conn)
        .await
        .map(drop)
}

/// Takes the locks for (namespace, key) pairs, in the order given, until
/// the current transaction ends: one statement (a function scan yields its
/// rows in order, so every caller locks in the order it names).
pub async fn lock_keys(
    mut conn: &AsyncPgConnection,
    keys: &[(&str, &str)],
) -> diesel::QueryResult<()> {
    let (names, seeds): (Vec<&str>, Vec<i64>) = keys
        .iter()
        .map(|(namespace, key)| (*key, namespace_seed(namespace)))
        .unzip();
    diesel::sql_query(
        "SELECT pg_advisory_xact_lock(hashtextextended(k, s)) \
         FROM unnest($1::text[], $2::bigint[]) AS l(k, s)",
    )
    .bind::<Array<Text>, _>(names)
    .bind::<Array<BigInt>, _>(seeds)
    .cached()
    .execute(&mut conn)
    .await
    .map(drop)
}

fn namespace_seed(namespace: &str) -> i64 {
    namespace.bytes().fold(0i64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(i64::from(b))
    })
}
