//! The connection pool and the embedded migrations.

use anyhow::Context;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<AsyncPgConnection>;
pub type PooledConn = Object<AsyncPgConnection>;

pub fn build_pool(database_url: &str, max_size: usize) -> anyhow::Result<DbPool> {
    // No test query on every checkout (a round trip per request and per
    // event delivered): a connection the server dropped fails its first
    // query, and the pool replaces connections it finds broken.
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    Pool::builder(manager)
        .max_size(max_size)
        .build()
        .context("building the database pool")
}

/// Applies every pending migration; returns how many ran.
pub async fn run_migrations(database_url: &str) -> anyhow::Result<usize> {
    let conn = AsyncPgConnection::establish(database_url)
        .await
        .context("connecting to the database to migrate it")?;
    // The harness drives the async connection by blocking on the runtime,
    // which must not happen on an executor thread.
    tokio::task::spawn_blocking(move || {
        let mut harness = AsyncMigrationHarness::new(conn);
        harness
            .run_pending_migrations(MIGRATIONS)
            .map(|applied| applied.len())
            .map_err(|e| anyhow::anyhow!("running migrations: {e}"))
    })
    .await
    .context("migration task")?
}

/// Reverts every migration (used by the round-trip test).
pub async fn revert_all_migrations(database_url: &str) -> anyhow::Result<usize> {
    let conn = AsyncPgConnection::establish(database_url).await?;
    tokio::task::spawn_blocking(move || {
        let mut harness = AsyncMigrationHarness::new(conn);
        harness
            .revert_all_migrations(MIGRATIONS)
            .map(|reverted| reverted.len())
            .map_err(|e| anyhow::anyhow!("reverting migrations: {e}"))
    })
    .await?
}
