//! TestDatabase: a fresh database per test, cloned from a template that is
//! migrated once per process; dropped (WITH FORCE) when the test ends.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use tokio::sync::OnceCell;

use yuyunqian::db::local_server::find_local_server;
use yuyunqian::db::pool::run_migrations;

static TEMPLATE: OnceCell<(String, String)> = OnceCell::const_new();

/// The server URL template and the migrated template database's name.
async fn template() -> &'static (String, String) {
    TEMPLATE
        .get_or_init(|| async {
            let server = std::env::var("YYQ_TEST_SERVER_URL")
                .ok()
                .or(find_local_server().await)
                .expect("no PostgreSQL server: start one or set YYQ_TEST_SERVER_URL (with {db})");
            // Named after the migrations it holds, so runs share it until they change.
            let name = format!("yyq_tpl_{}", migrations_digest());
            let mut admin = AsyncPgConnection::establish(&server.replace("{db}", "postgres"))
                .await
                .expect("connect to maintenance database");
            admin
                .batch_execute("SELECT pg_advisory_lock(7310001)")
                .await
                .expect("template lock");
            let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
                &format!("EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"),
            ))
            .get_result(&mut admin)
            .await
            .expect("look up template");
            if !exists {
                let building = format!("{name}_building");
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                    .await
                    .expect("drop half-built template");
                admin
                    .batch_execute(&format!("CREATE DATABASE {building}"))
                    .await
                    .expect("create template database");
                run_migrations(&server.replace("{db}", &building))
                    .await
                    .expect("migrate template database");
                admin
                    .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .await
                    .expect("publish template database");
            }
            admin
                .batch_execute("SELECT pg_advisory_unlock(7310001)")
                .await
                .expect("template unlock");
            (server, name)
        })
        .await
}

/// SHA-256 (first 16 hex digits) of every migration file.
fn migrations_digest() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = walk(&root);
    files.sort();
    let mut hasher = openssl::sha::Sha256::new();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(&std::fs::read(&file).expect("read migration"));
    }
    hex::encode(hasher.finish())[..16].to_owned()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("read migrations dir")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

pub struct TestDatabase {
    pub name: String,
    pub url: String,
    server: String,
}

impl TestDatabase {
    pub async fn new() -> Self {
        let (server, template) = template().await;
        let name = format!("yyq_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&server.replace("{db}", "postgres"))
            .await
            .expect("connect to maintenance database");
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
            .expect("clone template database");
        Self {
            url: server.replace("{db}", &name),
            name,
            server: server.clone(),
        }
    }

    /// An empty database with no migrations applied.
    pub async fn empty() -> Self {
        let (server, _) = template().await;
        let name = format!("yyq_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&server.replace("{db}", "postgres"))
            .await
            .expect("connect to maintenance database");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        Self {
            url: server.replace("{db}", &name),
            name,
            server: server.clone(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.server.replace("{db}", "postgres");
        let name = self.name.clone();
        // Drop runs outside async; a short-lived runtime on its own thread does the work.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url).await {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}
