//! Lambda entry point: wires tracing, settings and clients, then serves API Gateway events.

use access_token_revoker::{
    AdminApiClient, App, FixedPortal, PortalSetting, RetryPolicy, SecretsManagerPortal, Settings,
};
use lambda_http::{Error, Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON lines under Lambda advanced logging (AWS_LAMBDA_LOG_FORMAT=JSON). Never run at TRACE:
    // the runtime then logs raw events, which carry the token and the shared secret.
    lambda_http::tracing::init_default_subscriber();

    let settings = Settings::from_lookup(|name| std::env::var(name).ok())?;
    let revoker = AdminApiClient::new(RetryPolicy::default())?;
    tracing::info!(
        token_field = %settings.token_field,
        dry_run = settings.dry_run,
        "access-token-revoker starting"
    );

    match settings.portal.clone() {
        PortalSetting::SecretsManager { secret_id } => {
            // Honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER; nothing is fetched yet.
            let aws = aws_config::load_from_env().await;
            let client = aws_sdk_secretsmanager::Client::new(&aws);
            let portal = SecretsManagerPortal::new(client, secret_id, settings.secret_ttl);
            serve(App::new(settings, portal, revoker)).await
        }
        PortalSetting::Environment(portal) => {
            serve(App::new(settings, FixedPortal(portal), revoker)).await
        }
    }
}

async fn serve<P, R>(app: App<P, R>) -> Result<(), Error>
where
    P: access_token_revoker::PortalSource,
    R: access_token_revoker::TokenRevoker,
{
    let app = &app;
    lambda_http::run(service_fn(move |request: Request| async move {
        app.handle(request).await
    }))
    .await
}
