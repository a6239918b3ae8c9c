//! The application extra fields the function reads, as the admin API defines them
//! (`app/controllers/admin/api/fields_definitions_controller.rb`): list, create, update.
//!
//! porta wraps flat body parameters into `fields_definition[...]`
//! (`wrap_parameters include: FieldsDefinition.attribute_names + ['position']`); `name` is
//! permitted on create only. Applications are the target `Cinstance`.

use super::answers::{ListingError, MAX_LISTING_BODY, visit_objects};
use super::maintenance::{MaintenanceError, admin_api_url, done, written};
use super::{AdminApiClient, Call};
use crate::portal::AdminPortal;
use crate::sensitive::AccessToken;
use reqwest::Method;
use std::future::Future;

/// The target of an application's fields: porta's model name (`app/lib/fields/fields.rb`).
pub const APPLICATION: &str = "Cinstance";

/// One field definition, as porta shows it (`app/representers/fields_definition_representer.rb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldsDefinition {
    /// Its id, for the update.
    pub id: u64,
    /// `Account`, `User` or `Cinstance` (applications).
    pub target: String,
    /// The field's name, the key of the extra field.
    pub name: String,
    /// What the portals show as its label.
    pub label: String,
    /// Hidden from developers in the developer portal.
    pub hidden: bool,
    /// Developers must fill it in.
    pub required: bool,
}

/// A field to create.
#[derive(Debug, Clone, Copy)]
pub struct NewField<'a> {
    /// `Cinstance` for applications.
    pub target: &'a str,
    /// The extra field's name.
    pub name: &'a str,
    /// Its label.
    pub label: &'a str,
    /// Hidden from developers.
    pub hidden: bool,
    /// Required of developers.
    pub required: bool,
}

/// The fields definitions API.
pub trait FieldsDefinitionsApi: Send + Sync {
    /// Every field definition of the tenant, all targets, in porta's order.
    fn fields_definitions(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
    ) -> impl Future<Output = Result<Vec<FieldsDefinition>, MaintenanceError>> + Send;

    /// Creates a field definition; 422 `Unprocessable` names what porta refused.
    fn create_fields_definition(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        new: NewField<'_>,
    ) -> impl Future<Output = Result<FieldsDefinition, MaintenanceError>> + Send;

    /// Sets a field definition's `hidden` and `required`; answers it as porta saved it.
    fn update_fields_definition(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        id: u64,
        hidden: bool,
        required: bool,
    ) -> impl Future<Output = Result<FieldsDefinition, MaintenanceError>> + Send;
}

impl FieldsDefinitionsApi for AdminApiClient {
    /// `GET …/fields_definitions.json`.
    async fn fields_definitions(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
    ) -> Result<Vec<FieldsDefinition>, MaintenanceError> {
        let url = admin_api_url(portal.admin_url(), &["fields_definitions.json"])?;
        let call = Call::new(Method::GET, url, token).reading(MAX_LISTING_BODY);
        let answer = done(self.call(&call, self.deadline()).await?)?;
        if answer.truncated {
            return Err(MaintenanceError::Unreadable(
                "the fields definitions are over 256 KiB",
            ));
        }
        parse_listing(&answer.body).map_err(|_| {
            MaintenanceError::Unreadable("the fields definitions are not porta's JSON")
        })
    }

    /// `POST …/fields_definitions.json`, flat: 201 with the definition.
    async fn create_fields_definition(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        new: NewField<'_>,
    ) -> Result<FieldsDefinition, MaintenanceError> {
        let url = admin_api_url(portal.admin_url(), &["fields_definitions.json"])?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("target", new.target)
            .append_pair("name", new.name)
            .append_pair("label", new.label)
            .append_pair("hidden", flag(new.hidden))
            .append_pair("required", flag(new.required))
            .finish();
        // Not retried: a lost answer is found on the next run, as an existing field.
        let call = Call::new(Method::POST, url, token).with_form(form).once();
        let answer = written(self.call(&call, self.deadline()).await?)?;
        parse_one(&answer.body)
    }

    /// `PUT …/fields_definitions/{id}.json`, flat: 200 with the definition as saved.
    async fn update_fields_definition(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        id: u64,
        hidden: bool,
        required: bool,
    ) -> Result<FieldsDefinition, MaintenanceError> {
        let url = admin_api_url(
            portal.admin_url(),
            &["fields_definitions", &format!("{id}.json")],
        )?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("hidden", flag(hidden))
            .append_pair("required", flag(required))
            .finish();
        let call = Call::new(Method::PUT, url, token).with_form(form);
        let answer = written(self.call(&call, self.deadline()).await?)?;
        parse_one(&answer.body)
    }
}

/// A boolean as Rails casts it back (`ActiveModel::Type::Boolean`).
fn flag(on: bool) -> &'static str {
    if on { "true" } else { "false" }
}

/// Every definition of a listing (`{"fields_definitions":[{"fields_definition":{…}}]}`): any
/// object with a numeric `id` and string `target` and `name`, at any depth.
///
/// ```
/// use access_token_revoker::admin_api::fields_definitions::parse_listing;
///
/// let listing = br#"{"fields_definitions":[{"fields_definition":{"id":7,"target":"Cinstance",
///     "name":"token_value","label":"Token","required":false,"hidden":true}}]}"#;
/// let fields = parse_listing(listing).unwrap();
/// assert_eq!((fields[0].id, fields[0].hidden), (7, true));
/// ```
pub fn parse_listing(body: &[u8]) -> Result<Vec<FieldsDefinition>, ListingError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| ListingError)?;
    let mut fields = Vec::new();
    visit_objects(&value, |object| match definition(object) {
        Some(field) => {
            fields.push(field);
            false
        }
        None => true,
    });
    Ok(fields)
}

/// One definition: `{"fields_definition":{…}}`.
fn parse_one(body: &[u8]) -> Result<FieldsDefinition, MaintenanceError> {
    let unreadable = MaintenanceError::Unreadable("the field definition is not porta's JSON");
    match parse_listing(body).map(|fields| fields.into_iter().next()) {
        Ok(Some(field)) => Ok(field),
        _ => Err(unreadable),
    }
}

fn definition(object: &serde_json::Map<String, serde_json::Value>) -> Option<FieldsDefinition> {
    let text = |key: &str| object.get(key).and_then(serde_json::Value::as_str);
    // The columns are nullable booleans; NULL acts as false.
    let on = |key: &str| {
        object
            .get(key)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    };
    Some(FieldsDefinition {
        id: object.get("id").and_then(serde_json::Value::as_u64)?,
        target: text("target")?.to_owned(),
        name: text("name")?.to_owned(),
        label: text("label").unwrap_or_default().to_owned(),
        hidden: on("hidden"),
        required: on("required"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_read_as_porta_writes_them() {
        let porta = br#"{"fields_definitions":[
            {"fields_definition":{"id":1,"target":"Account","name":"org_name","label":"Organization","required":true,"hidden":false,"read_only":false,"choices":[],"position":0}},
            {"fields_definition":{"id":5,"target":"Cinstance","name":"token_value","label":"Token","required":null,"hidden":true,"read_only":false,"choices":[],"position":2}}]}"#;
        let fields = parse_listing(porta).expect("listing");
        assert_eq!(fields.len(), 2);
        assert_eq!(
            fields[1],
            FieldsDefinition {
                id: 5,
                target: APPLICATION.to_owned(),
                name: "token_value".to_owned(),
                label: "Token".to_owned(),
                hidden: true,
                required: false,
            }
        );
        assert!(fields[0].required && !fields[0].hidden);
        assert_eq!(parse_listing(br#"{"fields_definitions":[]}"#), Ok(vec![]));
        assert_eq!(parse_listing(b"<fields_definitions/>"), Err(ListingError));

        let one = br#"{"fields_definition":{"id":9,"target":"Cinstance","name":"token_id","label":"Token id","hidden":true,"required":false}}"#;
        assert_eq!(parse_one(one).map(|f| f.id), Ok(9));
        assert!(parse_one(br#"{"errors":{}}"#).is_err());
    }
}
