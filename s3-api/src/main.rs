//! `cloudvault`: the CloudVault server binary.

use clap::{Parser, Subcommand};

use cloudvault_s3_api::admin::AdminCommand;
use cloudvault_s3_api::config::Config;

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
    /// Manage users and access keys in the configured metadata store.
    #[command(subcommand)]
    Admin(AdminCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve => {
            cloudvault_s3_api::telemetry::init(config.log_json);
            runtime.block_on(cloudvault_s3_api::server::serve(config))
        }
        Command::Admin(command) => runtime.block_on(cloudvault_s3_api::admin::run(&config, command)),
    }
}
