//! The personal access token API as an admin's own long-lived tokens use it: list the caller's
//! tokens, create one, delete one by id
//! (`app/controllers/admin/api/personal/access_tokens_controller.rb`).
//!
//! porta lists only the caller's own tokens, and never their values; create is the one answer
//! that carries a value. A token may delete another token of the same user by its id.

use super::answers::{ListingError, MAX_LISTING_BODY, visit_objects};
use super::maintenance::{MaintenanceError, admin_api_url, done, written};
use super::tokens::TokenId;
use super::{AdminApiClient, Call};
use crate::portal::AdminPortal;
use crate::sensitive::AccessToken;
use reqwest::Method;
use std::future::Future;

/// The scope every token of this function needs: the Account Management API.
pub const ACCOUNT_MANAGEMENT: &str = "account_management";
/// Read & Write, as porta spells it.
pub const READ_WRITE: &str = "rw";

/// One of the caller's tokens as porta lists it: everything but the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The token's id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its scopes, such as `account_management`.
    pub scopes: Vec<String>,
    /// `rw` or `ro`.
    pub permission: String,
    /// When it stops working, as porta prints it (3scale 2.16 and later); `None` never.
    pub expires_at: Option<String>,
}

impl TokenInfo {
    /// Account Management API, Read & Write: what the maintenance token needs.
    pub fn can_manage_accounts(&self) -> bool {
        self.permission == READ_WRITE && self.scopes.iter().any(|s| s == ACCOUNT_MANAGEMENT)
    }
}

/// What to create.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    /// Its name; says what it is for.
    pub name: &'a str,
    /// `rw` or `ro`.
    pub permission: &'a str,
    /// Its scopes.
    pub scopes: &'a [&'a str],
    /// When it should stop working: 3scale 2.16 and later honour it, earlier ones drop it.
    pub expires_at: Option<jiff::Timestamp>,
}

/// A token porta just created: the one answer that holds its value.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    /// Its id.
    pub id: TokenId,
    /// Its value; `Debug` shows a fingerprint only.
    pub value: AccessToken,
    /// The expiry porta stored, if it took one: absent before 3scale 2.16.
    pub expires_at: Option<String>,
}

/// The caller's own personal access tokens.
pub trait PersonalTokensApi: Send + Sync {
    /// Lists the tokens of `token`'s owner whose name contains `name` (all with `None`).
    fn own_tokens(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        name: Option<&str>,
    ) -> impl Future<Output = Result<Vec<TokenInfo>, MaintenanceError>> + Send;

    /// Creates a token for `token`'s owner.
    fn create_token(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        new: NewToken<'_>,
    ) -> impl Future<Output = Result<CreatedToken, MaintenanceError>> + Send;

    /// Deletes the owner's token with this id; `NotFound` if the owner has none.
    fn delete_token(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        id: TokenId,
    ) -> impl Future<Output = Result<(), MaintenanceError>> + Send;
}

impl PersonalTokensApi for AdminApiClient {
    async fn own_tokens(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        name: Option<&str>,
    ) -> Result<Vec<TokenInfo>, MaintenanceError> {
        let mut url = admin_api_url(portal.admin_url(), &["personal", "access_tokens.json"])?;
        if let Some(name) = name {
            url.query_pairs_mut().append_pair("name", name);
        }
        let call = Call::new(Method::GET, url, token).reading(MAX_LISTING_BODY);
        let answer = done(self.call(&call, self.deadline()).await?)?;
        if answer.truncated {
            return Err(MaintenanceError::Unreadable(
                "the token listing is over 256 KiB",
            ));
        }
        parse_listing(&answer.body)
            .map_err(|_| MaintenanceError::Unreadable("the token listing is not porta's JSON"))
    }

    async fn create_token(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        new: NewToken<'_>,
    ) -> Result<CreatedToken, MaintenanceError> {
        let url = admin_api_url(portal.admin_url(), &["personal", "access_tokens.json"])?;
        let form = create_form(new);
        // Not retried: a create whose answer was lost would leave a second token behind.
        let call = Call::new(Method::POST, url, token)
            .with_form(form)
            .reading(MAX_LISTING_BODY)
            .once();
        let answer = written(self.call(&call, self.deadline()).await?)?;
        parse_created(&answer.body).ok_or(MaintenanceError::Unreadable(
            "the created token is not porta's JSON",
        ))
    }

    async fn delete_token(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        id: TokenId,
    ) -> Result<(), MaintenanceError> {
        let url = admin_api_url(
            portal.admin_url(),
            &["personal", "access_tokens", &format!("{}.json", id.0)],
        )?;
        let call = Call::new(Method::DELETE, url, token);
        done(self.call(&call, self.deadline()).await?).map(drop)
    }
}

/// The create call's form. Flat parameters: porta wraps them into `token[...]`
/// (`wrap_parameters AccessToken, name: :token`).
fn create_form(new: NewToken<'_>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("name", new.name)
        .append_pair("permission", new.permission);
    for scope in new.scopes {
        form.append_pair("scopes[]", scope);
    }
    if let Some(at) = new.expires_at {
        // RFC 3339 in UTC, whole seconds: porta's master accepts nothing looser.
        form.append_pair("expires_at", &at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    form.finish()
}

/// Every token of a listing (`{"access_tokens":[{"access_token":{"id":7,"name":…}}]}`): any
/// object with a numeric `id` and a string `name`, at any depth.
///
/// ```
/// use access_token_revoker::admin_api::personal_tokens::parse_listing;
///
/// let listing = br#"{"access_tokens":[{"access_token":{"id":7,"name":"ci",
///     "scopes":["account_management"],"permission":"rw"}}]}"#;
/// let tokens = parse_listing(listing).unwrap();
/// assert_eq!((tokens[0].id, tokens[0].can_manage_accounts()), (7, true));
/// ```
pub fn parse_listing(body: &[u8]) -> Result<Vec<TokenInfo>, ListingError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| ListingError)?;
    let mut tokens = Vec::new();
    visit_objects(&value, |object| match token_info(object) {
        Some(token) => {
            tokens.push(token);
            false
        }
        None => true,
    });
    Ok(tokens)
}

fn token_info(object: &serde_json::Map<String, serde_json::Value>) -> Option<TokenInfo> {
    let id = object.get("id").and_then(serde_json::Value::as_u64)?;
    let name = object.get("name").and_then(serde_json::Value::as_str)?;
    let text = |key: &str| object.get(key).and_then(serde_json::Value::as_str);
    let scopes = object
        .get("scopes")
        .and_then(serde_json::Value::as_array)
        .map(|scopes| {
            scopes
                .iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some(TokenInfo {
        id,
        name: name.to_owned(),
        scopes,
        permission: text("permission").unwrap_or_default().to_owned(),
        expires_at: text("expires_at").map(str::to_owned),
    })
}

/// The create answer: `{"access_token":{"id":…,"value":…,"expires_at":…}}`.
fn parse_created(body: &[u8]) -> Option<CreatedToken> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value
        .get("access_token")
        .and_then(serde_json::Value::as_object)?;
    let id = object.get("id").and_then(serde_json::Value::as_u64)?;
    let value = object.get("value").and_then(serde_json::Value::as_str)?;
    Some(CreatedToken {
        id: TokenId(id),
        value: AccessToken::parse(value).ok()?,
        expires_at: object
            .get("expires_at")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_and_creates_are_read_as_porta_writes_them() {
        let listing = br#"{"access_tokens":[
            {"access_token":{"id":3,"name":"rotated 1","scopes":["account_management"],"permission":"rw","expires_at":"2027-01-01T00:00:00Z"}},
            {"access_token":{"id":4,"name":"ro","scopes":["account_management","stats"],"permission":"ro"}}]}"#;
        let tokens = parse_listing(listing).expect("listing");
        assert_eq!(tokens.len(), 2);
        assert_eq!(
            tokens[0].expires_at.as_deref(),
            Some("2027-01-01T00:00:00Z")
        );
        assert!(tokens[0].can_manage_accounts());
        assert!(!tokens[1].can_manage_accounts(), "read-only");
        assert_eq!(parse_listing(b"<html/>"), Err(ListingError));

        let created = br#"{"access_token":{"id":9,"name":"n","scopes":["account_management"],
            "permission":"rw","value":"0a1b2c3d4e5f"}}"#;
        let token = parse_created(created).expect("created");
        assert_eq!(
            (token.id, token.value.expose()),
            (TokenId(9), "0a1b2c3d4e5f")
        );
        assert_eq!(token.expires_at, None, "before 2.16 porta drops expires_at");
        assert!(!format!("{token:?}").contains("0a1b2c3d4e5f"));
        assert!(parse_created(br#"{"access_token":{"id":9,"value":"not a token!"}}"#).is_none());
    }
}
