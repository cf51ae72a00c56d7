//! `baton-api keys create|list|revoke`: API key management for operators and deployment scripts.

use std::collections::BTreeSet;

use common::store::Store;
use common::store::apikeys::{NewApiKey, Permission};

use crate::config::{ApiOptions, KeysCommand};
use crate::server::{ServeError, master_key};

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
            let permissions: BTreeSet<Permission> = permissions
                .iter()
                .map(|name| name.trim().parse::<Permission>())
                .collect::<Result<_, _>>()
                .map_err(|error| ServeError::Invalid(error.to_string()))?;
            let master = master_key(options)?;
            let (key, secret) = store
                .create_api_key(
                    &master,
                    NewApiKey {
                        id: id.clone(),
                        permissions,
                        secret: secret.clone(),
                        allow_date_only: *allow_date_only,
                    },
                )
                .await?;
            let names: Vec<&str> = key
                .permissions
                .iter()
                .map(|permission| permission.as_str())
                .collect();
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
                        "permissions": key.permissions.iter().map(|permission| permission.as_str()).collect::<Vec<_>>(),
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
