//! `revoker`: sets a 3scale tenant up for the function (`setup`), checks it (`doctor`), and
//! issues a single-use token (`issue`). The work is in the library (`cli`); this is the
//! command line and the exit status: 0 when everything is as it should be, 1 otherwise, 2 for
//! a command line or configuration that cannot be used.

use access_token_revoker::cli::issue::{IssueOptions, parse_expires_in};
use access_token_revoker::cli::setup::SetupOptions;
use access_token_revoker::cli::{Report, Sources, Tenant, doctor, issue, setup};
use clap::{Parser, Subcommand};
use jiff::SignedDuration;
use std::process::ExitCode;

/// Sets 3scale up for access-token-revoker, checks it, and issues single-use tokens.
///
/// The token comes from THREESCALE_TOKEN, or is the secret's maintenance_token with
/// --secret-id; it is never an argument and never printed. TOKEN_FIELD, TOKEN_ID_FIELD,
/// REVOKE_ON and WEBHOOK_SECRET are read as the function reads them.
#[derive(Parser)]
#[command(name = "revoker", version)]
struct Cli {
    /// The tenant's admin portal, such as https://ACME-admin.3scale.net (default:
    /// THREESCALE_ADMIN_URL, else the secret's admin_url).
    #[arg(long, global = true, value_name = "URL")]
    admin_url: Option<String>,
    /// The function's secret in AWS Secrets Manager (name or ARN): admin_url, webhook_secret,
    /// maintenance_token.
    #[arg(long, global = true, value_name = "ID")]
    secret_id: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates the hidden fields, sets the webhook and pings it; a second run changes nothing.
    Setup {
        /// The stack's WebhookUrl output; the webhook secret is added as ?secret=.
        #[arg(long, value_name = "URL")]
        webhook_url: String,
        /// Take over the tenant's webhook even though it points somewhere else.
        #[arg(long)]
        replace_webhook: bool,
    },
    /// Checks the setup without changing it; exits 1 if any check fails.
    Doctor {
        /// The stack's WebhookUrl, to check the tenant's webhook against and ping; without
        /// it, the webhook URL 3scale stores is pinged.
        #[arg(long, value_name = "URL")]
        webhook_url: Option<String>,
    },
    /// Creates a single-use token (Account Management API, Read & Write) and prints its
    /// value and id on stdout, as TOKEN_VALUE=… and TOKEN_ID=….
    Issue {
        /// The token's name, as 3scale lists it.
        #[arg(long)]
        name: String,
        /// When 3scale (2.16 and later) makes it expire, in case the webhook never comes.
        #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_expires_in)]
        expires_in: SignedDuration,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let sources = Sources {
        admin_url: cli.admin_url,
        secret_id: cli.secret_id,
    };
    let mut report = Report::new(std::io::stderr());
    let tenant = match Tenant::load(&sources, |name| std::env::var(name).ok()).await {
        Ok(tenant) => tenant,
        Err(why) => {
            report.line(&format!("revoker: {why}"));
            return ExitCode::from(2);
        }
    };
    let done = match cli.command {
        Command::Setup {
            webhook_url,
            replace_webhook,
        } => {
            let options = SetupOptions {
                webhook_url,
                replace_webhook,
            };
            setup::run(&tenant, &options, &mut report).await
        }
        Command::Doctor { webhook_url } => {
            doctor::run(&tenant, webhook_url.as_deref(), &mut report).await
        }
        Command::Issue { name, expires_in } => {
            let options = IssueOptions { name, expires_in };
            issue::run(&tenant, &options, &mut report, &mut std::io::stdout()).await
        }
    };
    if done {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
