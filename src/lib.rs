//! Makes 3scale personal access tokens single-use: when 3scale's webhook reports the
//! application a token created, revoke that token through the Account Management API.

pub mod admin_api;
pub mod audit;
pub mod config;
pub mod decision;
pub mod handler;
pub mod invocation;
pub mod metrics;
pub mod outcome;
#[cfg(feature = "secrets-manager")]
pub mod secrets_manager;
pub mod sensitive;
pub mod sweep;
pub mod tls;
pub mod webhook;

pub use admin_api::{AdminApi, AdminApiClient, RetryPolicy, Revocation, Verdict};
pub use config::{AdminPortal, FixedPortal, PortalSetting, PortalSource, Settings};
pub use handler::App;
pub use outcome::Outcome;
#[cfg(feature = "secrets-manager")]
pub use secrets_manager::SecretsManagerPortal;
pub use webhook::{WebhookEvent, decode};
