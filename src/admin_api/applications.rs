//! An application's extra fields, written with the maintenance token
//! (`app/controllers/admin/api/buyers_applications_controller.rb#update`).

use super::answers;
use super::maintenance::{MaintenanceError, admin_api_url, done};
use super::{AdminApiClient, Call};
use crate::portal::AdminPortal;
use crate::sensitive::AccessToken;
use reqwest::Method;
use std::future::Future;

/// An application as the admin API addresses it.
#[derive(Debug, Clone, Copy)]
pub struct ApplicationRef<'a> {
    /// The developer account's id.
    pub account_id: &'a str,
    /// The application's id.
    pub application_id: &'a str,
}

/// What became of a field clearing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldClearing {
    /// The application held the token; its token fields are now empty.
    Cleared,
    /// The token field is empty already (a sweep handled this delivery before): nothing sent.
    AlreadyEmpty,
    /// The application's token field holds something else (or nothing): left as it is.
    NotThisToken,
}

/// The applications API, with the maintenance token.
pub trait ApplicationsApi: Send + Sync {
    /// Empties `fields` of the application, but only if its `token_field` holds `token`
    /// now: a forged event, or an old failure swept again, must not wipe another value.
    fn clear_token_fields(
        &self,
        portal: &AdminPortal,
        maintenance: &AccessToken,
        application: ApplicationRef<'_>,
        token_field: &str,
        token: &AccessToken,
        fields: &[&str],
    ) -> impl Future<Output = Result<FieldClearing, MaintenanceError>> + Send;
}

impl ApplicationsApi for AdminApiClient {
    /// `GET`, then `PUT …/accounts/{account}/applications/{application}.json` with `field=`
    /// for each field, within one call's time.
    async fn clear_token_fields(
        &self,
        portal: &AdminPortal,
        maintenance: &AccessToken,
        application: ApplicationRef<'_>,
        token_field: &str,
        token: &AccessToken,
        fields: &[&str],
    ) -> Result<FieldClearing, MaintenanceError> {
        let url = application_url(portal, application)?;
        let deadline = self.deadline();
        let read = Call::new(Method::GET, url.clone(), maintenance).reading(MAX_APPLICATION_BODY);
        let answer = done(self.call(&read, deadline).await?)?;
        if answer.truncated {
            return Err(MaintenanceError::Unreadable(
                "the application is over 256 KiB",
            ));
        }
        let stored = stored_field(&answer.body, token_field).ok_or(
            MaintenanceError::Unreadable("the application is not porta's JSON"),
        )?;
        match stored.as_deref().map(str::trim) {
            None | Some("") => return Ok(FieldClearing::AlreadyEmpty),
            Some(value) if !value_is(value, token) => return Ok(FieldClearing::NotThisToken),
            Some(_) => {}
        }
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|field| (*field, "")))
            .finish();
        let call = Call::new(Method::PUT, url, maintenance).with_form(form);
        done(self.call(&call, deadline).await?)?;
        Ok(FieldClearing::Cleared)
    }
}

/// Most of an application's JSON that is read.
const MAX_APPLICATION_BODY: usize = 256 * 1024;

/// `{admin_url}/admin/api/accounts/{account}/applications/{application}.json`.
fn application_url(
    portal: &AdminPortal,
    application: ApplicationRef<'_>,
) -> Result<reqwest::Url, MaintenanceError> {
    let (Some(account), Some(app)) = (
        answers::parse_id(application.account_id),
        answers::parse_id(application.application_id),
    ) else {
        return Err(MaintenanceError::BadInput(
            "the event's account or application id is not a number",
        ));
    };
    admin_api_url(
        portal.admin_url(),
        &[
            "accounts",
            &account.to_string(),
            "applications",
            &format!("{app}.json"),
        ],
    )
}

/// The application's `field` as porta shows it (`{"application":{…,"token_value":"…"}}`:
/// extra fields are top-level keys, `application_representer.rb`). `None`: not porta's JSON;
/// `Some(None)`: the field is not set.
fn stored_field(body: &[u8], field: &str) -> Option<Option<String>> {
    let shown: serde_json::Value = answers::json_object(body)?;
    let application = shown.get("application")?.as_object()?;
    Some(
        application
            .get(field)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    )
}

/// Constant time over SHA-256 digests: neither value nor its length shows in the timing.
fn value_is(stored: &str, token: &AccessToken) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let stored = Sha256::digest(stored.trim().as_bytes());
    let token = Sha256::digest(token.expose().as_bytes());
    stored.ct_eq(&token).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_value_is_read_as_porta_shows_it_and_compared_whole() {
        let shown =
            br#"{"application":{"id":7,"user_account_id":3,"token_value":"abc","token_id":""}}"#;
        assert_eq!(
            stored_field(shown, "token_value"),
            Some(Some("abc".to_owned()))
        );
        assert_eq!(stored_field(shown, "token_id"), Some(Some(String::new())));
        assert_eq!(stored_field(shown, "other"), Some(None));
        assert_eq!(stored_field(b"<application/>", "token_value"), None);
        assert_eq!(
            stored_field(br#"[{"application":{}}]"#, "token_value"),
            None
        );
        let token = AccessToken::parse("abc").expect("token");
        assert!(value_is("abc", &token));
        assert!(value_is(" abc ", &token), "porta strips values");
        assert!(!value_is("abcd", &token));
        assert!(!value_is("", &token));
    }
}
