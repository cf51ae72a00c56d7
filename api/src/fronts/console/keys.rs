//! API keys (admin): the list, creating one (its secret shown once, on the page that answers
//! the form, never again) and revoking one (its sessions end at once).

use std::collections::BTreeSet;

use askama::Template;
use common::auth::api_key::NewApiKey;
use common::auth::permissions::Permission;
use warp::http::StatusCode;

use super::form::Form;
use super::html::{Chrome, datetime, page, page_with_status, see_other};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// A key, as listed (never with its secret).
#[derive(Debug, Clone)]
struct KeyRow {
    id: String,
    permissions: String,
    date_only: bool,
    created: String,
    last_used: String,
    revoked: String,
}

/// A key just created, with the secret shown this once.
#[derive(Debug, Clone)]
struct Created {
    id: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct KeysPage {
    chrome: Chrome,
    keys: Vec<KeyRow>,
    permissions: Vec<&'static str>,
    created: Option<Created>,
    problem: Option<String>,
}

async fn keys_page(
    state: &AppState,
    caller: &Caller,
    query: &Form,
    created: Option<Created>,
    problem: Option<String>,
) -> Result<KeysPage, ApiError> {
    let keys = state
        .store
        .list_api_keys()
        .await?
        .into_iter()
        .map(|key| KeyRow {
            permissions: key.grant_names().join(", "),
            date_only: key.allow_date_only,
            created: datetime(key.created_ms),
            last_used: key.last_used_ms.map(datetime).unwrap_or_default(),
            revoked: key.revoked_ms.map(datetime).unwrap_or_default(),
            id: key.id,
        })
        .collect();
    Ok(KeysPage {
        chrome: Chrome::new(caller, "Keys", "keys").with_notice(super::notice(query)),
        keys,
        permissions: Permission::ALL
            .iter()
            .map(|permission| permission.as_str())
            .collect(),
        created,
        problem,
    })
}

/// `GET /ui/keys`.
pub async fn page_of_keys(
    state: &AppState,
    caller: &Caller,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    page(&keys_page(state, caller, query, None, None).await?)
}

/// `POST /ui/keys`: creates a key and shows its secret once; a refused key shows the form
/// again with why (400).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    form: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let id = form.text("id").unwrap_or_default().to_owned();
    let mut permissions = BTreeSet::new();
    for (name, value) in form.fields() {
        if name == "permission" {
            let permission = value
                .parse::<Permission>()
                .map_err(|error| ApiError::bad_request(error.to_string()))?;
            permissions.insert(permission);
        }
    }
    let new = NewApiKey {
        id: id.clone(),
        permissions,
        report_permissions: Default::default(),
        secret: None,
        allow_date_only: form.get("allow_date_only") == Some("true"),
    };
    let no_query = Form::default();
    match state.store.create_api_key(&state.master_key, new).await {
        Ok((key, secret)) => {
            tracing::info!(key = %key.id, by = %caller.key.id, "key created in the console");
            let created = Created { id: key.id, secret };
            page(&keys_page(state, caller, &no_query, Some(created), None).await?)
        }
        Err(common::error::StoreError::Invalid(invalid)) => page_with_status(
            &keys_page(state, caller, &no_query, None, Some(invalid.to_string())).await?,
            StatusCode::BAD_REQUEST,
        ),
        Err(other) => Err(other.into()),
    }
}

/// `POST /ui/keys/{id}/revoke`.
pub async fn revoke(state: &AppState, id: &str) -> Result<warp::reply::Response, ApiError> {
    if !state.store.revoke_api_key(id).await? {
        return Err(ApiError::NotFound(format!("no key '{id}'")));
    }
    crate::auth::forget_key(state, id);
    tracing::info!(key = %id, "key revoked in the console");
    Ok(see_other("/ui/keys?done=revoked"))
}
