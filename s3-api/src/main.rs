//! `cloudvault`: the CloudVault server binary.

use clap::{Parser, Subcommand};

use cloudvault_s3_api::admin::AdminCommand;
use cloudvault_s3_api::config::{Config, ConsoleConfig};

/// CloudVault, S3-compatible object storage.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the S3 server (configuration from CLOUDVAULT_* environment variables, see the README).
    Serve,
    /// Run the web console's frontend: the built bundle, with /api proxied to CLOUDVAULT_API_URL.
    Console,
    /// Manage users and access keys in the configured metadata store.
    #[command(subcommand)]
    Admin(AdminCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Command::Console = cli.command {
        let config = ConsoleConfig::from_env()?;
        cloudvault_s3_api::telemetry::init(std::env::var("CLOUDVAULT_LOG_FORMAT").is_ok_and(|f| f == "json"));
        return runtime.block_on(cloudvault_s3_api::console::run(config));
    }
    let config = Config::from_env()?;
    match cli.command {
        Command::Console => Ok(()),
        Command::Serve => {
            cloudvault_s3_api::telemetry::init(config.log_json);
            runtime.block_on(cloudvault_s3_api::server::serve(config))
        }
        Command::Admin(command) => runtime.block_on(cloudvault_s3_api::admin::run(&config, command)),
    }
}
