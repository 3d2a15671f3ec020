//! The server process: the real binary serving and shutting down cleanly,
//! health when the database is gone, and the private cluster fallback.

use std::time::Duration;

use serde_json::json;

use crate::helpers::database::TestDatabase;
use crate::helpers::ws;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_serves_and_shuts_down_gracefully_on_sigterm() {
    let db = TestDatabase::empty().await;
    let port = free_port();
    let data_dir = std::env::temp_dir().join(format!("yyq-bin-{}", uuid::Uuid::new_v4()));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_yuyunqian"))
        .env("YYQ_DATABASE_URL", &db.url)
        .env("YYQ_LISTEN", format!("127.0.0.1:{port}"))
        .env("YYQ_DATA_DIR", &data_dir)
        .env("YYQ_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let mut healthy = false;
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            && r.status() == 200
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "the server answered /health");
    // It migrated the empty database and serves GraphQL.
    let r: serde_json::Value = client
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r["data"]["me"].is_null(), "{r}");
    assert!(
        data_dir.join("master.key").exists(),
        "local mode generated its master key"
    );

    let mut socket = ws::connect(([127, 0, 0, 1], port).into(), "graphql-transport-ws").await;
    assert_eq!(ws::init(&mut socket, None).await["type"], "connection_ack");

    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(ws::next(&mut socket).await["close"], 1001);
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let _ = std::fs::remove_dir_all(data_dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_is_503_without_a_database() {
    let config = yuyunqian::Config::for_tests();
    let keys = yuyunqian::app::load_master_key(&config).unwrap();
    let pool = yuyunqian::db::pool::build_pool("postgres://nobody@127.0.0.1:1/none", 1).unwrap();
    let router = yuyunqian::build_router(yuyunqian::App::new(config, pool, keys).unwrap());
    use tower::ServiceExt;
    let response = router
        .oneshot(
            axum::http::Request::get("/health")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
}

#[tokio::test(flavor = "multi_thread")]
async fn private_cluster_starts_and_stops_under_the_data_dir() {
    let Some(bin) = yuyunqian::db::local_server::find_postgres_bin_dir() else {
        panic!("initdb and pg_ctl come with PostgreSQL and should be installed");
    };
    let dir = std::env::temp_dir().join(format!("yyq-cluster-{}", uuid::Uuid::new_v4()));
    let (guard, url) = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || yuyunqian::db::local_server::start_private_cluster(&bin, &dir)
    })
    .await
    .unwrap()
    .unwrap();
    use diesel_async::AsyncConnection;
    let conn = diesel_async::AsyncPgConnection::establish(&url.replace("{db}", "postgres")).await;
    assert!(conn.is_ok(), "connect to the private cluster");
    drop(conn);
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();
    let after = diesel_async::AsyncPgConnection::establish(&url.replace("{db}", "postgres")).await;
    assert!(after.is_err(), "the cluster stopped with its guard");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn production_profile_without_real_adapters_exits_with_one_line() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_yuyunqian"))
        .env("YYQ_PROFILE", "production")
        .env("YYQ_LOG", "off")
        .env_remove("YYQ_MASTER_KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("YYQ_SMS_ADAPTER=http"), "{stderr}");
}
