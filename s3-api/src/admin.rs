//! `cloudvault admin ...`: user and access-key management from the command line, on the same metadata
//! store the server uses, so operators can bootstrap users and keys without the console.

use std::io::Read;

use anyhow::{Context, bail};
use clap::Subcommand;

use cloudvault_metadata::{KeyPurpose, MetaStore};

use crate::auth::mint_access_key;
use crate::auth::secrets::{MasterKey, hash_password, random_alphanumeric};
use crate::config::Config;
use crate::engine::now_ms;

/// Administrative commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage S3 access keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// `cloudvault admin user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from standard input (first line) with --password-stdin,
    /// otherwise a strong one is generated and printed once.
    Add {
        /// The sign-in name.
        name: String,
        /// Make the user an admin (full access to every bucket).
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Disable a user: sign-in and every access key stop working.
    Disable {
        /// The user's name.
        name: String,
    },
    /// Enable a disabled user.
    Enable {
        /// The user's name.
        name: String,
    },
}

/// `cloudvault admin key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an access key for a user; the secret is printed once.
    Create {
        /// The owning user's name.
        user: String,
        /// Expire the key after this many days.
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// List a user's access keys (never their secrets).
    List {
        /// The owning user's name.
        user: String,
    },
    /// Disable an access key (takes effect on every replica within seconds).
    Disable {
        /// The access key id.
        id: String,
    },
    /// Enable an access key.
    Enable {
        /// The access key id.
        id: String,
    },
    /// Delete an access key.
    Delete {
        /// The access key id.
        id: String,
    },
}

async fn user_id(meta: &MetaStore, name: &str) -> anyhow::Result<i64> {
    Ok(meta.user_by_name(name).await?.with_context(|| format!("no user named {name:?}"))?.id)
}

/// Runs one admin command against the configured database.
pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let meta = MetaStore::connect(&config.database_url, 2).await.context("connecting to the metadata store")?;
    let result = execute(config, &meta, command).await;
    meta.close().await;
    result
}

async fn execute(config: &Config, meta: &MetaStore, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::User(UserCommand::Add { name, admin, password_stdin }) => {
            let (password, generated) = if password_stdin {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                (text.lines().next().unwrap_or_default().to_owned(), false)
            } else {
                (random_alphanumeric(24), true)
            };
            if password.len() < 8 {
                bail!("passwords must be at least 8 characters");
            }
            let role = if admin { "admin" } else { "user" };
            let hash = hash_password(&password)?;
            meta.create_user(&name, role, Some(&hash), now_ms())
                .await?
                .with_context(|| format!("user {name:?} already exists"))?;
            println!("created {role} {name}");
            if generated {
                println!("password: {password}");
            }
        }
        AdminCommand::User(UserCommand::List) => {
            for u in meta.list_users().await? {
                println!("{}\t{}\t{}", u.name, u.role, if u.enabled { "enabled" } else { "disabled" });
            }
        }
        AdminCommand::User(UserCommand::Disable { name }) => {
            meta.set_user_enabled(user_id(meta, &name).await?, false).await?;
            println!("disabled {name}");
        }
        AdminCommand::User(UserCommand::Enable { name }) => {
            meta.set_user_enabled(user_id(meta, &name).await?, true).await?;
            println!("enabled {name}");
        }
        AdminCommand::Key(KeyCommand::Create { user, expires_days }) => {
            let master = MasterKey::load(config.master_key.as_deref(), &config.data_dir)?;
            let user_id = user_id(meta, &user).await?;
            let expires_at = expires_days.map(|d| now_ms() + i64::from(d) * 86_400_000);
            let (key, secret) = mint_access_key(&master, user_id, KeyPurpose::User, expires_at, None);
            meta.insert_access_key(&key).await?;
            println!("access key id:     {}", key.access_key_id);
            println!("secret access key: {secret}");
        }
        AdminCommand::Key(KeyCommand::List { user }) => {
            for k in meta.list_access_keys(user_id(meta, &user).await?).await? {
                let expiry = k.expires_at.map_or("never".to_owned(), |t| format!("{t}"));
                println!("{}\t{}\texpires={}", k.access_key_id, if k.enabled { "enabled" } else { "disabled" }, expiry);
            }
        }
        AdminCommand::Key(KeyCommand::Disable { id }) => {
            if !meta.set_access_key_enabled(&id, false).await? {
                bail!("no access key {id}");
            }
            println!("disabled {id}");
        }
        AdminCommand::Key(KeyCommand::Enable { id }) => {
            if !meta.set_access_key_enabled(&id, true).await? {
                bail!("no access key {id}");
            }
            println!("enabled {id}");
        }
        AdminCommand::Key(KeyCommand::Delete { id }) => {
            if !meta.delete_access_key(&id).await? {
                bail!("no access key {id}");
            }
            println!("deleted {id}");
        }
    }
    Ok(())
}
