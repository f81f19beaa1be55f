//! `cloudvault`: the CloudVault server binary.

use clap::{Parser, Subcommand};

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve => {
            let config = Config::from_env()?;
            cloudvault_s3_api::telemetry::init(config.log_json);
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(cloudvault_s3_api::server::serve(config))
        }
    }
}
