//! Migrations run up, down and up again, and every foreign key is indexed.

use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::helpers::database::TestDatabase;
use yuyunqian::db::pool::{revert_all_migrations, run_migrations};

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

async fn tables(url: &str) -> Vec<String> {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let rows: Vec<Name> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' ORDER BY 1",
    )
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.name).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_round_trip() {
    let db = TestDatabase::empty().await;
    assert!(run_migrations(&db.url).await.unwrap() >= 1);
    let up = tables(&db.url).await;
    assert!(up.contains(&"users".to_owned()));
    revert_all_migrations(&db.url).await.unwrap();
    assert!(tables(&db.url).await.is_empty());
    run_migrations(&db.url).await.unwrap();
    assert_eq!(tables(&db.url).await, up);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_foreign_key_has_an_index() {
    let db = TestDatabase::new().await;
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    // Foreign keys whose columns are not the leading columns of some index.
    let missing: Vec<Name> = diesel::sql_query(
        "SELECT c.conrelid::regclass::text || '(' || c.conname || ')' AS name
         FROM pg_constraint c
         WHERE c.contype = 'f'
           AND NOT EXISTS (
             SELECT 1 FROM pg_index i
             WHERE i.indrelid = c.conrelid
               AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey
           )",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let names: Vec<String> = missing.into_iter().map(|r| r.name).collect();
    assert!(names.is_empty(), "foreign keys without an index: {names:?}");
}
