//! `revoker issue`: a single-use token for the calling user, with an expiry as a backstop in
//! case the webhook never arrives, and the call that uses it once.

use super::{Report, Status, Tenant, refusal};
use crate::admin_api::personal_tokens::{ACCOUNT_MANAGEMENT, READ_WRITE};
use crate::admin_api::{NewToken, PersonalTokensApi};
use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp};
use std::io::Write;

/// `--expires-in`: `15m`, `2h`, `1d`, `1h 30m` or ISO 8601 `PT15M`; days are 24 hours.
///
/// ```
/// use access_token_revoker::cli::issue::parse_expires_in;
///
/// assert_eq!(parse_expires_in("15m").unwrap().as_secs(), 900);
/// assert_eq!(parse_expires_in("1d").unwrap().as_secs(), 86_400);
/// assert!(parse_expires_in("0s").is_err());
/// ```
pub fn parse_expires_in(text: &str) -> Result<SignedDuration, String> {
    let bad = || format!("{text:?} is not a duration such as 15m, 2h or 1d");
    let span: Span = text.trim().parse().map_err(|_| bad())?;
    let duration = span
        .to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|_| bad())?;
    if duration <= SignedDuration::ZERO {
        return Err(format!("{text:?}: the token must expire in the future"));
    }
    Ok(duration)
}

/// What `issue` is asked to do.
#[derive(Debug, Clone)]
pub struct IssueOptions {
    /// The token's name.
    pub name: String,
    /// How long until 3scale (2.16 and later) makes it expire.
    pub expires_in: SignedDuration,
}

/// Creates the token; its value and id go to `out` as shell assignments, all else to `report`.
pub async fn run<W: Write, O: Write>(
    tenant: &Tenant,
    options: &IssueOptions,
    report: &mut Report<W>,
    out: &mut O,
) -> bool {
    let Ok(expires_at) = Timestamp::now().checked_add(options.expires_in) else {
        report.step(
            Status::Fail,
            "Token",
            "--expires-in is too far in the future",
        );
        return false;
    };
    let new = NewToken {
        name: &options.name,
        permission: READ_WRITE,
        scopes: &[ACCOUNT_MANAGEMENT],
        expires_at: Some(expires_at),
    };
    let created = match tenant
        .api
        .create_token(&tenant.portal, &tenant.token, new)
        .await
    {
        Ok(created) => created,
        Err(err) => {
            report.step(Status::Fail, "Token", &refusal(&err, tenant.token_source));
            return false;
        }
    };
    let id = created.id.0;
    match &created.expires_at {
        Some(at) => report.step(
            Status::Ok,
            "Token",
            &format!(
                "created {:?} (id {id}): Account Management API, Read & Write, expires at {at}",
                options.name
            ),
        ),
        None => {
            report.step(
                Status::Ok,
                "Token",
                &format!(
                    "created {:?} (id {id}): Account Management API, Read & Write",
                    options.name
                ),
            );
            report.step(
                Status::Warn,
                "Expiry",
                "this 3scale ignored expires_at (3scale before 2.16 drops it): the token lives \
                 until the function revokes it, or until it is deleted in Account Settings > \
                 Personal > Tokens",
            );
        }
    }
    // Valid shell: paste the two lines, or eval them.
    if writeln!(out, "TOKEN_VALUE={}\nTOKEN_ID={id}", created.value.expose())
        .and_then(|()| out.flush())
        .is_err()
    {
        report.step(Status::Fail, "Token", "could not write the token to stdout");
        return false;
    }
    let api = tenant.portal.admin_url().as_str().trim_end_matches('/');
    let fields = &tenant.watched;
    report.line(&format!(
        "Use it once: with TOKEN_VALUE and TOKEN_ID set (paste the two lines above, or \
         eval \"$(revoker issue ...)\"), create the application; the function then revokes the \
         token:\n  curl -X POST \"{api}/admin/api/accounts/$ACCOUNT_ID/applications.json\" \
         -u \"$TOKEN_VALUE:\" \\\n    -d plan_id=\"$PLAN_ID\" -d name=\"$APPLICATION_NAME\" \
         -d {}=\"$TOKEN_VALUE\" -d {}=\"$TOKEN_ID\"",
        fields.token_field, fields.token_id_field
    ));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_in_friendly_and_iso_forms() {
        for (text, secs) in [
            ("15m", 900),
            ("1h 30m", 5400),
            ("2 hours", 7200),
            ("PT15M", 900),
            ("1w", 604_800),
            (" 90s ", 90),
        ] {
            assert_eq!(
                parse_expires_in(text).map(|d| d.as_secs()),
                Ok(secs),
                "{text}"
            );
        }
        for bad in ["", "15", "soon", "-5m", "0m", "1 month"] {
            assert!(parse_expires_in(bad).is_err(), "{bad}");
        }
    }
}
