//! Makes 3scale personal access tokens single-use: when 3scale's webhook reports the
//! application a token created, revoke that token through the Account Management API.

// The layers, top to bottom: each module uses only modules of the layers below it
// (scripts/module-graph checks it in CI). The doors (the invocation router, its HTTP edge and
// sweep, the rotation; `cli`, the door of the `revoker` binary, which the Lambda never calls), the App the
// function's doors share, the decision, the records, the admin API, the configuration, then
// the parts with no dependencies.
// layers: cli invocation | http_edge sweep rotation | app | decision | metrics tenant | refresh | audit | outcome | admin_api | secrets_manager settings | portal | webhook sensitive tls
pub mod admin_api;
pub mod app;
pub mod audit;
#[cfg(feature = "secrets-manager")]
pub mod cli;
pub mod decision;
pub mod http_edge;
pub mod invocation;
pub mod metrics;
pub mod outcome;
pub mod portal;
pub mod refresh;
#[cfg(feature = "secrets-manager")]
pub mod rotation;
#[cfg(feature = "secrets-manager")]
pub mod secrets_manager;
pub mod sensitive;
pub mod settings;
pub mod sweep;
pub mod tenant;
pub mod tls;
pub mod webhook;

pub use admin_api::{AdminApi, AdminApiClient, RetryPolicy, Revocation, Verdict};
pub use app::App;
pub use outcome::Outcome;
pub use portal::{AdminPortal, EnvironmentPortal, PortalSource};
#[cfg(feature = "secrets-manager")]
pub use secrets_manager::SecretsManagerPortal;
pub use settings::{PortalOrigin, Settings};
pub use webhook::{WebhookEvent, decode};
