//! The four steps, after the checks every step makes first.

use super::event::{RotationEvent, Step};
use super::secret::Secret;
use super::store::{AWSCURRENT, AWSPENDING, SecretDescription, SecretStore, Version};
use super::{Done, RotationError};
use crate::admin_api::personal_tokens::{ACCOUNT_MANAGEMENT, READ_WRITE};
use crate::admin_api::{
    AdminApi, MaintenanceError, NewToken, TokenId, TokenInfo, TokenToRevoke, Verdict, answers,
};
use crate::app::App;
use crate::portal::PortalSource;
use crate::sensitive::fingerprint;
use crate::settings::PortalOrigin;
use jiff::{SignedDuration, Timestamp};
use std::time::Duration;
use tokio::time::Instant;

/// Time kept free before the deadline for one more 3scale call (8 s at most) and a margin.
const CLEANUP_RESERVE: Duration = Duration::from_secs(10);

/// The expiry backstop when the schedule cannot be read (a `cron()` expression).
const DEFAULT_LIFETIME: SignedDuration = SignedDuration::from_hours(90 * 24);

/// The shortest expiry backstop, for schedules of hours.
const MIN_LIFETIME: SignedDuration = SignedDuration::from_hours(7 * 24);

/// One step of one rotation, once the event is known to be for this secret's pending version.
struct Rotation<'a, P, R, S> {
    app: &'a App<P, R>,
    store: &'a S,
    event: &'a RotationEvent,
    /// The secret's ARN as DescribeSecret gives it: every later call names it.
    secret_id: String,
    description: SecretDescription,
    deadline: Instant,
}

impl<P: PortalSource, R: AdminApi> App<P, R> {
    /// The checks of AWS's template, then the step.
    pub(super) async fn rotation_step<S: SecretStore>(
        &self,
        store: &S,
        event: &RotationEvent,
        deadline: Instant,
    ) -> Result<Done, RotationError> {
        let PortalOrigin::SecretsManager {
            secret_id: configured,
        } = &self.settings.portal
        else {
            return Err(RotationError::NotRotating);
        };
        // This function's own secret only: a rotation event never makes it touch another.
        let description = store
            .describe(configured)
            .await
            .map_err(RotationError::store)?;
        let ours = [
            Some(configured.as_str()),
            description.arn.as_deref(),
            description.name.as_deref(),
        ];
        if !ours.contains(&Some(event.secret_id.as_str())) {
            return Err(RotationError::OtherSecret);
        }
        if !description.rotation_enabled {
            return Err(RotationError::NotEnabled);
        }
        let stages = description
            .stages(&event.version_id)
            .ok_or(RotationError::UnknownVersion)?;
        if stages.iter().any(|s| s == AWSCURRENT) {
            return Ok(Done::said("already_current"));
        }
        if !stages.iter().any(|s| s == AWSPENDING) {
            return Err(RotationError::NotPending);
        }
        let secret_id = description
            .arn
            .clone()
            .unwrap_or_else(|| configured.clone());
        let rotation = Rotation {
            app: self,
            store,
            event,
            secret_id,
            description,
            deadline,
        };
        match event.step {
            Step::Create => rotation.create().await,
            Step::Set => rotation.set().await,
            Step::Test => rotation.test().await,
            Step::Finish => rotation.finish().await,
        }
    }
}

impl<P: PortalSource, R: AdminApi, S: SecretStore> Rotation<'_, P, R, S> {
    async fn read(
        &self,
        version: Version<'_>,
        which: &'static str,
    ) -> Result<Secret, RotationError> {
        let text = self
            .store
            .value(&self.secret_id, version)
            .await
            .map_err(RotationError::store)?
            .ok_or(RotationError::NoValue(which))?;
        Secret::parse(&text, which)
    }

    /// The tokens of `secret`'s token's user, as that token lists them: 3scale accepts it.
    async fn listed_by(
        &self,
        secret: &Secret,
        refused: RotationError,
    ) -> Result<Vec<TokenInfo>, RotationError> {
        self.app
            .api
            .own_tokens(&secret.portal, secret.token()?, None)
            .await
            .map_err(|err| match err {
                MaintenanceError::Refused => refused,
                err => RotationError::ThreeScale {
                    what: "listing the maintenance token's own tokens",
                    err,
                },
            })
    }

    fn pending(&self) -> Version<'_> {
        Version::Pending(&self.event.version_id)
    }

    /// What every token of this secret's rotations is named: the secret's fingerprint, so two
    /// secrets rotating tokens of one 3scale user never delete each other's.
    fn name_prefix(&self) -> String {
        format!(
            "access-token-revoker maintenance token (secret {}, rotation ",
            fingerprint(self.secret_id.as_bytes())
        )
    }

    /// The name of the token this rotation makes: it carries the version id.
    fn token_name(&self) -> String {
        format!("{}{})", self.name_prefix(), self.event.version_id)
    }

    /// createSecret: the current token creates its successor, which goes into AWSPENDING.
    async fn create(&self) -> Result<Done, RotationError> {
        let api = &self.app.api;
        let current = self.read(Version::Current, "the current version").await?;
        let current_token = current.token()?;
        match self.store.value(&self.secret_id, self.pending()).await {
            Ok(None) => {}
            Ok(Some(text)) => {
                let pending = Secret::parse(&text, "the pending version")?;
                // moto (and a rotation that only tests) copies the current value into it.
                if pending.portal.maintenance_token() != Some(current_token)
                    && pending.portal.maintenance_token_id().is_some()
                {
                    return Ok(Done::said("already_created"));
                }
            }
            Err(err) => return Err(RotationError::store(err)),
        }

        let portal = &current.portal;
        let listed = self
            .listed_by(&current, RotationError::CurrentRefused)
            .await?;
        let (scopes, permission) = match portal.maintenance_token_id() {
            Some(id) => {
                let current = listed
                    .iter()
                    .find(|t| t.id == id)
                    .ok_or(RotationError::UnknownTokenId)?;
                if !current.can_manage_accounts() {
                    return Err(RotationError::CurrentNotManaging);
                }
                (current.scopes.clone(), current.permission.clone())
            }
            // The first rotation: finishSecret deletes this token by its value, which is safe
            // only if no token has the id 3scale would read the value as (id-first lookup).
            None => {
                let clash = answers::id_rails_would_read(current_token.expose())
                    .filter(|id| *id != 0)
                    .is_some_and(|id| listed.iter().any(|t| t.id == id));
                if clash {
                    return Err(RotationError::AmbiguousBootstrap);
                }
                // Which listed token is this one cannot be told without its id: what the
                // maintenance token needs, no more.
                (vec![ACCOUNT_MANAGEMENT.to_owned()], READ_WRITE.to_owned())
            }
        };

        // An earlier attempt's token, whose value was lost with its answer or its put.
        let name = self.token_name();
        for leftover in listed.iter().filter(|t| t.name == name) {
            match api
                .delete_token(portal, current_token, TokenId(leftover.id))
                .await
            {
                Ok(()) | Err(MaintenanceError::NotFound) => tracing::info!(
                    token_id = leftover.id,
                    "createSecret: deleted the token an earlier attempt of this rotation left"
                ),
                Err(err) => {
                    return Err(RotationError::ThreeScale {
                        what: "deleting the token an earlier attempt of this rotation left",
                        err,
                    });
                }
            }
        }

        let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
        let expires_at = Timestamp::now()
            .checked_add(lifetime(&self.description))
            .ok();
        let created = api
            .create_token(
                portal,
                current_token,
                NewToken {
                    name: &name,
                    permission: &permission,
                    scopes: &scopes,
                    expires_at,
                },
            )
            .await
            .map_err(|err| match err {
                MaintenanceError::Refused => RotationError::CurrentRefused,
                MaintenanceError::Unprocessable(fields) => RotationError::CreateRefused(fields),
                err => RotationError::ThreeScale {
                    what: "creating the new maintenance token (its answer may be lost: the next attempt deletes any token it made)",
                    err,
                },
            })?;
        if created.expires_at.is_none() {
            tracing::warn!(
                "3scale dropped expires_at (3scale before 2.16 ignores it): the new maintenance token has no expiry backstop, only the rotation"
            );
        }
        tracing::info!(
            token_id = created.id.0,
            token_sha256 = %created.value.fingerprint(),
            expires_at = created.expires_at.as_deref(),
            "createSecret: created the new maintenance token"
        );

        let value = current.with_token(&created);
        let put = self
            .store
            .put_pending(
                &self.secret_id,
                &self.event.version_id,
                self.event.rotation_token.as_ref(),
                &value,
            )
            .await;
        if let Err(err) = put {
            // Its value is nowhere else: without the put it is only a risk.
            let orphan_deleted = match api.delete_token(portal, current_token, created.id).await {
                Ok(()) => true,
                Err(delete) => {
                    tracing::error!(token_id = created.id.0, error = %delete, "createSecret: the token that could not be stored could not be deleted either");
                    false
                }
            };
            return Err(RotationError::PutFailed {
                err,
                orphan_deleted,
            });
        }
        Ok(Done::said("created"))
    }

    /// setSecret: a 3scale token is live once created; the current one must still work.
    async fn set(&self) -> Result<Done, RotationError> {
        let current = self.read(Version::Current, "the current version").await?;
        self.listed_by(&current, RotationError::CurrentRefused)
            .await?;
        Ok(Done::said("nothing_to_set"))
    }

    /// testSecret: the new token lists itself as a maintenance token, and reads the failed
    /// deliveries whenever the current one can.
    async fn test(&self) -> Result<Done, RotationError> {
        let api = &self.app.api;
        let pending = self.read(self.pending(), "the pending version").await?;
        let token = pending.token()?;
        let id = pending.token_id()?;
        let listed = self
            .listed_by(&pending, RotationError::PendingRefused)
            .await?;
        let itself = listed
            .iter()
            .find(|t| t.id == id)
            .ok_or(RotationError::TestFailed(
                "it does not list itself under its maintenance_token_id",
            ))?;
        if !itself.can_manage_accounts() {
            return Err(RotationError::TestFailed(
                "it lacks Account Management API, Read & Write",
            ));
        }
        match api.webhook_failures(&pending.portal, token).await {
            Ok(_) => {}
            // Whether the user may read them is the user's and the tenant's, not the token's.
            Err(MaintenanceError::NotAllowed) => {
                let current = self.read(Version::Current, "the current version").await?;
                match api
                    .webhook_failures(&current.portal, current.token()?)
                    .await
                {
                    Err(MaintenanceError::NotAllowed) => tracing::warn!(
                        "testSecret: neither token may read the failed webhook deliveries (its user is not an admin, or webhooks are not allowed): the sweep cannot work with either"
                    ),
                    _ => {
                        return Err(RotationError::TestFailed(
                            "it may not read the failed webhook deliveries, which the current token may",
                        ));
                    }
                }
            }
            Err(err) => {
                return Err(RotationError::ThreeScale {
                    what: "reading the failed webhook deliveries with the new maintenance token",
                    err,
                });
            }
        }
        Ok(Done::said("tested"))
    }

    /// finishSecret: the new version becomes AWSCURRENT; then the old token is deleted and
    /// proven dead, with any token an earlier rotation left. A failed cleanup is counted and
    /// logged but undoes nothing.
    async fn finish(&self) -> Result<Done, RotationError> {
        let current_version = self
            .description
            .holder_of(AWSCURRENT)
            .ok_or(RotationError::NoValue("the current version"))?
            .to_owned();
        let previous = self.read(Version::Current, "the current version").await?;
        let pending = self.read(self.pending(), "the pending version").await?;
        let new_token = pending.token()?;
        let new_id = pending.token_id()?;

        let version = self.event.version_id.as_str();
        self.store
            .update_stage(
                &self.secret_id,
                AWSCURRENT,
                Some(version),
                Some(&current_version),
            )
            .await
            .map_err(RotationError::store)?;
        let mut cleanup_failed = false;
        // Left on the current version, AWS counts the rotation done; moto refuses the next.
        if let Err(err) = self
            .store
            .update_stage(&self.secret_id, AWSPENDING, None, Some(version))
            .await
        {
            tracing::warn!(error = %err, "finishSecret: AWSPENDING could not be removed from the new version");
            cleanup_failed = true;
        }

        if !self.revoke_previous(&previous, &pending).await {
            cleanup_failed = true;
        }
        if !self.delete_stale(&pending, new_token, new_id).await {
            cleanup_failed = true;
        }
        Ok(Done {
            said: "finished",
            cleanup_failed,
        })
    }

    /// The old token revokes itself as every single-use token does: by its id when the
    /// secret has one, else by value after the id-clash check, then it must be refused.
    async fn revoke_previous(&self, previous: &Secret, pending: &Secret) -> bool {
        let Some(old) = previous.portal.maintenance_token() else {
            return true;
        };
        if pending.portal.maintenance_token() == Some(old) {
            tracing::warn!("finishSecret: the new version holds the old token; nothing deleted");
            return true;
        }
        let revocation = self
            .app
            .api
            .revoke(
                &previous.portal,
                TokenToRevoke {
                    value: old,
                    id: previous.portal.maintenance_token_id().map(TokenId),
                },
            )
            .await;
        match revocation.verdict {
            Verdict::Revoked | Verdict::AlreadyRevoked => {
                tracing::info!(
                    token_sha256 = %old.fingerprint(),
                    verdict = ?revocation.verdict,
                    "finishSecret: the previous maintenance token is dead (3scale refuses it)"
                );
                true
            }
            verdict => {
                tracing::error!(
                    token_sha256 = %old.fingerprint(),
                    token_id = previous.portal.maintenance_token_id(),
                    verdict = ?verdict,
                    admin_api_step = revocation.step.name(),
                    admin_api_status = revocation.status,
                    "finishSecret: the previous maintenance token may be alive; the next rotation deletes it if a rotation made it, else delete it by hand"
                );
                false
            }
        }
    }

    /// Every token of this secret's rotations but the new one: left by a failed cleanup or an
    /// abandoned attempt.
    async fn delete_stale(
        &self,
        pending: &Secret,
        new_token: &crate::sensitive::AccessToken,
        new_id: u64,
    ) -> bool {
        let api = &self.app.api;
        let prefix = self.name_prefix();
        let listed = match api
            .own_tokens(&pending.portal, new_token, Some(&prefix))
            .await
        {
            Ok(listed) => listed,
            Err(err) => {
                tracing::error!(error = %err, "finishSecret: the tokens of earlier rotations could not be listed");
                return false;
            }
        };
        let stale: Vec<&TokenInfo> = listed
            .iter()
            .filter(|t| t.name.starts_with(&prefix) && t.id != new_id)
            .collect();
        let mut all_deleted = true;
        for token in stale {
            if Instant::now() + CLEANUP_RESERVE > self.deadline {
                tracing::warn!("finishSecret: out of time; the next rotation deletes the rest");
                return false;
            }
            match api
                .delete_token(&pending.portal, new_token, TokenId(token.id))
                .await
            {
                Ok(()) => tracing::info!(
                    token_id = token.id,
                    "finishSecret: deleted a maintenance token an earlier rotation left"
                ),
                Err(MaintenanceError::NotFound) => {}
                Err(err) => {
                    tracing::error!(token_id = token.id, error = %err, "finishSecret: a token an earlier rotation left could not be deleted");
                    all_deleted = false;
                }
            }
        }
        all_deleted
    }
}

/// How long a new token lives if rotation stops: three rotation intervals, at least a week.
fn lifetime(description: &SecretDescription) -> SignedDuration {
    let interval = description
        .rotate_after_days
        .filter(|days| *days > 0)
        .map(|days| SignedDuration::from_hours(days.saturating_mul(24)))
        .or_else(|| {
            description
                .schedule_expression
                .as_deref()
                .and_then(rate_interval)
        });
    match interval {
        Some(interval) => interval.saturating_mul(3).max(MIN_LIFETIME),
        None => DEFAULT_LIFETIME,
    }
}

/// `rate(30 days)`, `rate(4 hours)`: the interval; a `cron()` has none.
fn rate_interval(expression: &str) -> Option<SignedDuration> {
    let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (count, unit) = inner.trim().split_once(' ')?;
    let count: i64 = count.parse().ok().filter(|n| *n > 0)?;
    let hours = match unit.trim() {
        "day" | "days" => count.checked_mul(24)?,
        "hour" | "hours" => count,
        _ => return None,
    };
    Some(SignedDuration::from_hours(hours))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backstop_outlives_three_rotations() {
        let days = |d: i64| SignedDuration::from_hours(d * 24);
        let with = |after: Option<i64>, expression: Option<&str>| SecretDescription {
            rotate_after_days: after,
            schedule_expression: expression.map(str::to_owned),
            ..SecretDescription::default()
        };
        assert_eq!(lifetime(&with(Some(30), None)), days(90));
        assert_eq!(lifetime(&with(None, Some("rate(30 days)"))), days(90));
        assert_eq!(lifetime(&with(None, Some("rate(1 day)"))), days(7));
        assert_eq!(lifetime(&with(None, Some("rate(4 hours)"))), days(7));
        assert_eq!(lifetime(&with(None, Some("rate(100 days)"))), days(300));
        assert_eq!(lifetime(&with(None, Some("cron(0 8 1 * ? *)"))), days(90));
        assert_eq!(lifetime(&with(Some(0), Some("rate(x days)"))), days(90));
        assert_eq!(lifetime(&with(None, None)), days(90));
    }
}
