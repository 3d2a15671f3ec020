//! The `yuyunqian` command: serve (default), migrate, export-schema, outbox.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use yuyunqian::config::Config;
use yuyunqian::db::enums::{KeyPurpose, PlatformRole};
use yuyunqian::db::outbox::SmsMessage;
use yuyunqian::db::pool::{build_pool, run_migrations};
use yuyunqian::domain::certificates::{ensure_platform_ca, platform_certificate_pem};
use yuyunqian::domain::{audit, platform_roles};
use yuyunqian::error::AppError;
use yuyunqian::server::Database;

#[derive(Parser)]
#[command(
    name = "yuyunqian",
    version,
    about = "豫云签 electronic labor-contract platform"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve GraphQL over HTTP and WebSocket (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) that schema.graphql holds.
    ExportSchema,
    /// The platform CA: `ca root` prints the root certificate (PEM).
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
    /// Platform roles: `user grant-role --phone 13800000000 OPERATOR`.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Contract quota: `quota grant --enterprise ID --amount N --note ...`.
    Quota {
        #[command(subcommand)]
        command: QuotaCommand,
    },
    /// The audit log: `audit verify` recomputes every hash chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print the latest SMS messages of the local outbox (codes in local mode).
    Outbox {
        /// Only messages to this phone.
        #[arg(long)]
        phone: Option<String>,
        /// How many messages to print.
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum CaCommand {
    /// Print the root certificate (PEM), creating the CA on first use.
    Root,
    /// Print the issuing CA certificate (PEM).
    Issuing,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Grant OPERATOR or REGULATOR (only possible here, never through the API).
    GrantRole {
        #[arg(long)]
        phone: String,
        #[arg(value_enum)]
        role: RoleArg,
        /// Region a REGULATOR sees (e.g. 410100 for 郑州).
        #[arg(long)]
        region: Option<String>,
    },
    /// Take a platform role away.
    RevokeRole {
        #[arg(long)]
        phone: String,
        #[arg(value_enum)]
        role: RoleArg,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
enum RoleArg {
    Operator,
    Regulator,
}

impl From<RoleArg> for PlatformRole {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Operator => PlatformRole::Operator,
            RoleArg::Regulator => PlatformRole::Regulator,
        }
    }
}

#[derive(Subcommand)]
enum QuotaCommand {
    /// Add contracts to an enterprise's quota (until purchases exist).
    Grant {
        #[arg(long)]
        enterprise: String,
        #[arg(long)]
        amount: i32,
        /// Why (an order number, a contract): kept in the ledger and audit log.
        #[arg(long)]
        note: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chains; exit 1 naming the first broken row.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::ExportSchema)) {
        let mut stdout = std::io::stdout().lock();
        return match stdout.write_all(yuyunqian::graphql::sdl().as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("YYQ_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => yuyunqian::server::serve(cli.config).await,
        Command::Migrate => {
            let database = yuyunqian::server::database(&cli.config).await?;
            let applied = run_migrations(&database.url).await?;
            tracing::info!(migrations = applied, "database migrated");
            Ok(())
        }
        Command::ExportSchema => Ok(()),
        Command::Outbox { phone, limit } => print_outbox(&cli.config, phone, limit).await,
        Command::Ca { command } => print_ca(cli.config, command).await,
        Command::User { command } => user_command(cli.config, command).await,
        Command::Quota { command } => quota_command(cli.config, command).await,
        Command::Audit {
            command: AuditCommand::Verify,
        } => verify_audit(cli.config).await,
    }
}

async fn print_outbox(config: &Config, phone: Option<String>, limit: i64) -> anyhow::Result<()> {
    let database = yuyunqian::server::database(config).await?;
    let pool = build_pool(&database.url, 1)?;
    let mut conn = pool.get().await?;
    let messages = SmsMessage::latest_to(&mut conn, phone.as_deref(), limit).await?;
    let mut stdout = std::io::stdout().lock();
    for message in messages {
        writeln!(
            stdout,
            "{}  {}  {}  {}",
            message.created_at.format("%Y-%m-%d %H:%M:%S"),
            message.phone,
            message.status.as_str(),
            message.body
        )?;
    }
    Ok(())
}

/// The app as a one-off command needs it: key, database (migrated), pool.
async fn command_app(config: Config) -> anyhow::Result<(yuyunqian::App, Database)> {
    let keys = yuyunqian::app::load_master_key(&config)?;
    let database = yuyunqian::server::database(&config).await?;
    run_migrations(&database.url).await?;
    let pool = build_pool(&database.url, 2)?;
    Ok((yuyunqian::App::new(config, pool, keys)?, database))
}

fn fail(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.message())
}

async fn user_command(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let (app, _database) = command_app(config).await?;
    let mut conn = app.pool.get().await?;
    let services = app.services();
    match command {
        UserCommand::GrantRole {
            phone,
            role,
            region,
        } => platform_roles::grant(&mut conn, &services, &phone, role.into(), region.as_deref())
            .await
            .map_err(fail),
        UserCommand::RevokeRole { phone, role } => {
            platform_roles::revoke(&mut conn, &services, &phone, role.into())
                .await
                .map_err(fail)
        }
    }
}

async fn quota_command(config: Config, command: QuotaCommand) -> anyhow::Result<()> {
    let (app, _database) = command_app(config).await?;
    let mut conn = app.pool.get().await?;
    let QuotaCommand::Grant {
        enterprise,
        amount,
        note,
    } = command;
    let enterprise = enterprise
        .parse()
        .map_err(|_| anyhow::anyhow!("--enterprise takes the enterprise's id (a UUID)"))?;
    let balance =
        yuyunqian::domain::quota::grant(&mut conn, &app.services(), enterprise, amount, &note)
            .await
            .map_err(fail)?;
    writeln!(std::io::stdout().lock(), "ok: balance {balance}")?;
    Ok(())
}

async fn verify_audit(config: Config) -> anyhow::Result<()> {
    let (app, _database) = command_app(config).await?;
    let mut conn = app.pool.get().await?;
    let report = audit::verify(&mut conn).await.map_err(fail)?;
    if !report.broken_heads.is_empty() {
        let chains: Vec<String> = report
            .broken_heads
            .iter()
            .map(|c| c.map_or_else(|| "platform".to_owned(), |c| c.to_string()))
            .collect();
        anyhow::bail!(
            "audit chains do not end at their heads (rows removed?): {}",
            chains.join(", ")
        );
    }
    match report.first_broken {
        None => {
            writeln!(
                std::io::stdout().lock(),
                "ok: {} rows verified",
                report.rows_checked
            )?;
            Ok(())
        }
        Some(id) => anyhow::bail!("audit chain broken at row {id}"),
    }
}

async fn print_ca(config: Config, command: CaCommand) -> anyhow::Result<()> {
    let (app, _database) = command_app(config).await?;
    let mut conn = app.pool.get().await?;
    let services = app.services();
    ensure_platform_ca(&mut conn, &services)
        .await
        .map_err(fail)?;
    let purpose = match command {
        CaCommand::Root => KeyPurpose::Root,
        CaCommand::Issuing => KeyPurpose::Issuing,
    };
    let pem = platform_certificate_pem(&mut conn, &services, purpose)
        .await
        .map_err(fail)?;
    std::io::stdout().lock().write_all(pem.as_bytes())?;
    Ok(())
}
