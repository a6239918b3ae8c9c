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

/// The applications API, with the maintenance token.
pub trait ApplicationsApi: Send + Sync {
    /// Sets the named extra fields of an application to empty.
    fn clear_extra_fields(
        &self,
        portal: &AdminPortal,
        maintenance: &AccessToken,
        application: ApplicationRef<'_>,
        fields: &[&str],
    ) -> impl Future<Output = Result<(), MaintenanceError>> + Send;
}

impl ApplicationsApi for AdminApiClient {
    /// `PUT …/accounts/{account}/applications/{application}.json` with `field=` for each field.
    async fn clear_extra_fields(
        &self,
        portal: &AdminPortal,
        maintenance: &AccessToken,
        application: ApplicationRef<'_>,
        fields: &[&str],
    ) -> Result<(), MaintenanceError> {
        let (Some(account), Some(app)) = (
            answers::parse_id(application.account_id),
            answers::parse_id(application.application_id),
        ) else {
            return Err(MaintenanceError::BadInput(
                "the event's account or application id is not a number",
            ));
        };
        let url = admin_api_url(
            portal.admin_url(),
            &[
                "accounts",
                &account.to_string(),
                "applications",
                &format!("{app}.json"),
            ],
        )?;
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|field| (*field, "")))
            .finish();
        let call = Call::new(Method::PUT, url, maintenance).with_form(form);
        done(self.call(portal, &call, self.deadline()).await?).map(drop)
    }
}
