//! Start-up and shutdown of the server process.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::app::{App, load_master_key};
use crate::config::Config;
use crate::db::local_server::{PrivateCluster, locate_database};
use crate::db::pool::{build_pool, run_migrations};

/// A database URL and, when this process started one, its private cluster.
pub struct Database {
    pub url: String,
    pub cluster: Option<PrivateCluster>,
}

/// The configured database, or the local one (created when missing).
pub async fn database(config: &Config) -> anyhow::Result<Database> {
    match &config.database_url {
        Some(url) => Ok(Database {
            url: url.expose_secret().to_owned(),
            cluster: None,
        }),
        None => {
            let (url, cluster) = locate_database(&config.data_dir).await?;
            Ok(Database { url, cluster })
        }
    }
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    config.check().map_err(anyhow::Error::msg)?;
    let keys = load_master_key(&config)?;
    let database = database(&config).await?;
    let applied = run_migrations(&database.url).await?;
    if applied > 0 {
        tracing::info!(migrations = applied, "database migrated");
    }
    let pool = build_pool(&database.url, 16)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let app = App::new(config, pool, keys)?;
    {
        let mut conn = app.pool.get().await?;
        crate::domain::certificates::ensure_platform_ca(&mut conn, &app.services())
            .await
            .map_err(|e| anyhow::anyhow!("creating the platform CA: {}", e.message()))?;
    }
    app.spawn_background_jobs()?;
    let _ = app.spawn_event_listener(&database.url).await;
    let router = crate::http::build_router(app.clone());
    tracing::info!(
        address = %listener.local_addr()?,
        graphiql = %app.config.public_base_url(),
        "serving GraphQL at /graphql, WebSocket at /graphql/ws, GraphiQL at /"
    );
    let shutdown = app.shutdown.clone();
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing requests and closing sockets");
        shutdown.cancel();
    })
    .await?;
    app.sockets.close();
    if tokio::time::timeout(Duration::from_secs(10), app.sockets.wait())
        .await
        .is_err()
    {
        tracing::warn!("some WebSocket connections did not close in time");
    }
    drop(database.cluster);
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
