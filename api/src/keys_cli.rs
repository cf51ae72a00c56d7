//! `baton-api keys create|list|revoke` and `baton-api tokens create`: API key and user token
//! management for operators and deployment scripts.

use common::auth::api_key::{ApiKey, NewApiKey, user_token};
use common::auth::permissions::{Grant, split_grants};
use common::store::Store;

use crate::config::{ApiOptions, KeysCommand, TokensCommand};
use crate::server::{ServeError, master_key};

/// Creates a key with the grants named in `permissions`; returns it and its secret.
async fn create_key(
    options: &ApiOptions,
    store: &Store,
    id: &str,
    permissions: &[String],
    secret: Option<String>,
    allow_date_only: bool,
) -> Result<(ApiKey, String), ServeError> {
    let grants: Vec<Grant> = permissions
        .iter()
        .map(|name| name.trim().parse::<Grant>())
        .collect::<Result<_, _>>()
        .map_err(|error| ServeError::Invalid(error.to_string()))?;
    let (permissions, report_permissions) = split_grants(grants);
    let master = master_key(options)?;
    Ok(store
        .create_api_key(
            &master,
            NewApiKey {
                id: id.to_owned(),
                permissions,
                report_permissions,
                secret,
                allow_date_only,
            },
        )
        .await?)
}

/// Runs a token command and returns what to print on stdout.
pub async fn run_tokens(
    options: &ApiOptions,
    command: &TokensCommand,
) -> Result<String, ServeError> {
    let store = Store::connect(&options.store).await?;
    match command {
        TokensCommand::Create { user, permissions } => {
            let (key, secret) = create_key(options, &store, user, permissions, None, false).await?;
            Ok(format!(
                "created user {} with permissions {}\n{}",
                key.id,
                key.grant_names().join(","),
                user_token(&key.id, &secret)
            ))
        }
    }
}

/// Runs a key command and returns what to print on stdout.
pub async fn run(options: &ApiOptions, command: &KeysCommand) -> Result<String, ServeError> {
    let store = Store::connect(&options.store).await?;
    match command {
        KeysCommand::Create {
            id,
            permissions,
            secret,
            allow_date_only,
        } => {
            let (key, secret) = create_key(
                options,
                &store,
                id,
                permissions,
                secret.clone(),
                *allow_date_only,
            )
            .await?;
            let names = key.grant_names();
            Ok(format!(
                "created key {} with permissions {}{}\n{secret}",
                key.id,
                names.join(","),
                if key.allow_date_only {
                    " (date-only signatures allowed)"
                } else {
                    ""
                }
            ))
        }
        KeysCommand::List => {
            let keys = store.list_api_keys().await?;
            let lines: Vec<String> = keys
                .iter()
                .map(|key| {
                    serde_json::json!({
                        "id": key.id,
                        "permissions": key.grant_names(),
                        "allow_date_only": key.allow_date_only,
                        "created": common::time::iso8601(key.created_ms),
                        "last_used": key.last_used_ms.map(common::time::iso8601),
                        "revoked": key.revoked_ms.map(common::time::iso8601),
                    })
                    .to_string()
                })
                .collect();
            Ok(lines.join("\n"))
        }
        KeysCommand::Revoke { id } => {
            if store.revoke_api_key(id).await? {
                Ok(format!("revoked key {id}"))
            } else {
                Err(ServeError::Invalid(format!("no key '{id}'")))
            }
        }
    }
}
