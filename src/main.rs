//! The `yuyunqian` command: serve (default), migrate, export-schema, outbox.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use yuyunqian::config::Config;
use yuyunqian::db::enums::KeyPurpose;
use yuyunqian::db::outbox::SmsMessage;
use yuyunqian::db::pool::{build_pool, run_migrations};
use yuyunqian::domain::certificates::{ensure_platform_ca, platform_certificate_pem};

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

async fn print_ca(config: Config, command: CaCommand) -> anyhow::Result<()> {
    let keys = yuyunqian::app::load_master_key(&config)?;
    let database = yuyunqian::server::database(&config).await?;
    run_migrations(&database.url).await?;
    let pool = build_pool(&database.url, 1)?;
    let app = yuyunqian::App::new(config, pool, keys)?;
    let mut conn = app.pool.get().await?;
    let services = app.services();
    let fail = |e: yuyunqian::error::AppError| anyhow::anyhow!("{}", e.message());
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
