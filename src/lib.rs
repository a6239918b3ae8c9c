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
pub mod sensitive;
pub mod sweep;
pub mod tls;
pub mod webhook;

pub use admin_api::{AdminApi, AdminApiClient, RetryPolicy, Revocation, Verdict};
pub use config::{
    AdminPortal, FixedPortal, PortalSetting, PortalSource, SecretsManagerPortal, Settings,
};
pub use handler::App;
pub use outcome::Outcome;
pub use webhook::{WebhookEvent, decode};
