//! Lambda entry point: wires tracing, settings and clients, then serves every invocation.
// rustc's layout of main's future, which holds the concurrent runtime's and a revocation's,
// nests deeper than the default 128 levels.
#![recursion_limit = "256"]

use access_token_revoker::admin_api::Probe;
use access_token_revoker::portal::SourceError;
use access_token_revoker::rotation::SecretsManagerStore;
use access_token_revoker::{
    AdminApi, AdminApiClient, App, EnvironmentPortal, PortalOrigin, PortalSource, RetryPolicy,
    SecretsManagerPortal, Settings, invocation,
};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use lambda_http::{Error, tracing};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON lines under Lambda advanced logging (AWS_LAMBDA_LOG_FORMAT=JSON). Never run at TRACE:
    // the runtime then logs raw events, which carry the token and the shared secret.
    tracing::init_default_subscriber();
    // Before any HTTP client is built: reqwest has no crypto provider of its own.
    access_token_revoker::tls::install_crypto_provider();

    let settings = Settings::from_lookup(|name| std::env::var(name).ok())?;
    let revoker = AdminApiClient::new(RetryPolicy::default())?;
    tracing::info!(
        token_field = %settings.token_field,
        dry_run = settings.dry_run,
        "access-token-revoker starting"
    );

    match settings.portal.clone() {
        PortalOrigin::SecretsManager { secret_id } => {
            // Honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER.
            let aws = access_token_revoker::tls::aws_config_loader().load().await;
            let client = aws_sdk_secretsmanager::Client::new(&aws);
            // Writing the secret is the rotation door's alone; in AWS only the rotation
            // function's role allows it, so the webhook-facing function's rotation fails.
            let store = Arc::new(SecretsManagerStore::new(client.clone()));
            let portal = SecretsManagerPortal::new(client, secret_id, settings.secret_ttl)
                .requiring(settings.secret_requirements());
            read_at_start(&portal, &revoker).await?;
            let app = Arc::new(App::new(settings, portal, revoker));
            // As `serve`, with the secret store for Secrets Manager's rotation steps.
            lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Value>| {
                let (app, store) = (Arc::clone(&app), Arc::clone(&store));
                async move { invocation::handle_rotating(&app, store.as_ref(), event).await }
            }))
            .await
        }
        PortalOrigin::Environment(portal) => {
            serve(App::new(settings, EnvironmentPortal(portal), revoker)).await
        }
    }
}

/// Reads the configuration once during init: a secret that can never serve (no webhook_secret,
/// bad JSON, bad admin_ca_pem) stops the function here, where the errors alarm sees it, and the
/// first delivery finds the rest cached. Secrets Manager being unreachable is not fatal: each
/// delivery retries. Then opens the admin portal's connection (the Ping's tokenless probe), so
/// the first delivery finds its TLS session ready too. Init runs on a whole vCPU whatever the
/// memory size. Bounded: 3 s for the read, one 3 s attempt for the probe.
async fn read_at_start(portal: &impl PortalSource, api: &impl AdminApi) -> Result<(), Error> {
    match portal.admin_portal().await {
        Err(SourceError::BadSecret(why)) => Err(format!("refusing to start: {why}").into()),
        Err(err) => {
            tracing::warn!(error = %err, "the admin portal configuration could not be read at start; each delivery tries again");
            Ok(())
        }
        Ok(portal) => {
            if portal.webhook_secret().is_none() {
                tracing::warn!(
                    "ALLOW_UNAUTHENTICATED_WEBHOOKS is on and the secret has no webhook_secret: \
                     anyone who can reach the webhook URL can post events"
                );
            }
            match api.probe(&portal).await {
                Probe::AdminApi => tracing::info!("admin API reached at start"),
                Probe::TlsFailed(tls) => {
                    tracing::warn!(reason = tls.code(), error = %tls, "TLS with the admin API failed at start")
                }
                other => {
                    tracing::warn!(probe = ?other, "the admin API did not answer as 3scale's at start")
                }
            }
            Ok(())
        }
    }
}

async fn serve<P, R>(app: App<P, R>) -> Result<(), Error>
where
    P: PortalSource + 'static,
    R: AdminApi + 'static,
{
    // Sequential on classic Lambda; AWS_LAMBDA_MAX_CONCURRENCY workers on Managed Instances,
    // sharing one secret cache and one HTTP connection pool.
    let app = Arc::new(app);
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        async move { invocation::handle(&app, event).await }
    }))
    .await
}
