//! Finding a database when none is configured: the local PostgreSQL server,
//! or a private cluster started under the data directory.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

const DATABASE: &str = "yuyunqian";

/// A private cluster this process started; stopped when dropped.
pub struct PrivateCluster {
    data_dir: PathBuf,
    pg_ctl: PathBuf,
    as_postgres_user: bool,
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let mut cmd = pg_command(&self.pg_ctl, self.as_postgres_user);
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-s"]);
        match cmd.status() {
            Ok(status) if status.success() => tracing::info!("private PostgreSQL cluster stopped"),
            other => tracing::warn!(?other, "stopping the private PostgreSQL cluster failed"),
        }
    }
}

/// The URL of a usable database, plus the cluster guard when one was started.
pub async fn locate_database(data_dir: &Path) -> anyhow::Result<(String, Option<PrivateCluster>)> {
    for server in local_server_candidates() {
        if let Ok(url) = ensure_database(&server).await {
            tracing::info!(server = %redact(&server), "using the local PostgreSQL server");
            return Ok((url, None));
        }
    }
    let Some(bin) = postgres_bin_dir() else {
        bail!(
            "no PostgreSQL server answers and initdb/pg_ctl are not installed: \
             install PostgreSQL (apt-get install postgresql) or set YYQ_DATABASE_URL"
        );
    };
    let cluster_dir = data_dir.join("postgres");
    let (cluster, server) = start_private_cluster(&bin, &cluster_dir)?;
    let url = ensure_database(&server)
        .await
        .context("creating the database in the private cluster")?;
    Ok((url, Some(cluster)))
}

/// The first local server that accepts a connection, as a URL template
/// (`{db}` stands for the database name).
pub async fn find_local_server() -> Option<String> {
    for server in local_server_candidates() {
        if AsyncPgConnection::establish(&server.replace("{db}", "postgres"))
            .await
            .is_ok()
        {
            return Some(server);
        }
    }
    None
}

/// Maintenance-database URLs to try, most likely first.
fn local_server_candidates() -> Vec<String> {
    let mut users = Vec::new();
    if let Ok(user) = std::env::var("USER") {
        users.push(user);
    }
    users.push("postgres".to_owned());
    let mut out = Vec::new();
    for user in &users {
        for socket in ["/var/run/postgresql", "/tmp"] {
            if Path::new(socket).join(".s.PGSQL.5432").exists() {
                out.push(format!("postgres:///{{db}}?host={socket}&user={user}"));
            }
        }
        out.push(format!("postgres://{user}@127.0.0.1:5432/{{db}}"));
    }
    out
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

/// Connects to the server of `url_template` (`{db}` stands for the database
/// name), creates the platform database if missing, and returns its URL.
async fn ensure_database(url_template: &str) -> anyhow::Result<String> {
    let mut conn = AsyncPgConnection::establish(&url_template.replace("{db}", "postgres")).await?;
    let row: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(DATABASE)
            .get_result(&mut conn)
            .await?;
    if !row.exists {
        conn.batch_execute(&format!("CREATE DATABASE {DATABASE}"))
            .await?;
        tracing::info!(database = DATABASE, "database created");
    }
    Ok(url_template.replace("{db}", DATABASE))
}

fn redact(url: &str) -> String {
    // Candidate URLs carry no password; keep the part after the scheme.
    url.split("://")
        .nth(1)
        .unwrap_or(url)
        .replace("{db}", DATABASE)
}

fn postgres_bin_dir() -> Option<PathBuf> {
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    in_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// PostgreSQL refuses to run as root: there, run its tools as `postgres`.
fn pg_command(program: &Path, as_postgres_user: bool) -> Command {
    if as_postgres_user {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// Initialises (first time) and starts a cluster in `dir` on a free port;
/// returns its guard and its URL template (`{db}` for the database name).
pub fn start_private_cluster(bin: &Path, dir: &Path) -> anyhow::Result<(PrivateCluster, String)> {
    let as_postgres_user = running_as_root();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    if as_postgres_user {
        let status = Command::new("chown")
            .args(["-R", "postgres:"])
            .arg(&dir)
            .status()?;
        if !status.success() {
            bail!("could not hand {} to the postgres user", dir.display());
        }
    }
    if !dir.join("PG_VERSION").exists() {
        tracing::info!(dir = %dir.display(), "initialising a private PostgreSQL cluster");
        let output = pg_command(&bin.join("initdb"), as_postgres_user)
            .arg("-D")
            .arg(&dir)
            .args([
                "-U",
                "yuyunqian",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .output()
            .context("running initdb")?;
        if !output.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {}",
        dir.display()
    );
    let output = pg_command(&bin.join("pg_ctl"), as_postgres_user)
        .arg("start")
        .arg("-D")
        .arg(&dir)
        .args(["-w", "-s", "-l"])
        .arg(dir.join("server.log"))
        .args(["-o", &options])
        .output()
        .context("running pg_ctl start")?;
    if !output.status.success() {
        bail!(
            "pg_ctl start failed (see {}): {}",
            dir.join("server.log").display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    tracing::info!(port, "private PostgreSQL cluster started");
    let guard = PrivateCluster {
        data_dir: dir,
        pg_ctl: bin.join("pg_ctl"),
        as_postgres_user,
    };
    Ok((
        guard,
        format!("postgres://yuyunqian@127.0.0.1:{port}/{{db}}"),
    ))
}

/// Where the test suite and `locate_database` find PostgreSQL's binaries.
pub fn find_postgres_bin_dir() -> Option<PathBuf> {
    postgres_bin_dir()
}
