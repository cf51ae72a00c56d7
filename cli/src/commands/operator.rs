//! `baton dead-letters ...` and `baton keys ...`: the operator routes.

use serde_json::{Map, Value, json};

use super::{CommandError, Outcome, cell, print, query, segment};
use crate::args::{DeadLetterTarget, DeadLettersCommand, KeysCommand};
use crate::client::Client;
use crate::output::{self, Format};

/// Runs `baton dead-letters COMMAND`.
pub async fn dead_letters(
    client: &Client,
    format: Format,
    command: DeadLettersCommand,
) -> Result<Outcome, CommandError> {
    let answer = match command {
        DeadLettersCommand::List {
            queue,
            page,
            per_page,
        } => {
            let path = format!(
                "/api/queues/{}/dead-letters{}",
                segment(&queue),
                query(&[
                    ("page", Some(page.to_string())),
                    ("per_page", Some(per_page.to_string())),
                ])
            );
            let answer = client.get(&path).await?;
            print(format, &answer, |value| {
                let table = output::dead_letters(value);
                format!(
                    "{table}\n{} dead letter(s) in {}",
                    cell(&value["total"]),
                    cell(&value["queue"])
                )
            });
            return Ok(Outcome::Done);
        }
        DeadLettersCommand::Requeue(DeadLetterTarget { queue, id, .. }) => {
            let base = format!("/api/queues/{}/dead-letters", segment(&queue));
            match id {
                Some(id) => {
                    client
                        .post(&format!("{base}/{}/requeue", segment(&id)), None)
                        .await?
                }
                None => client.post(&format!("{base}/requeue-all"), None).await?,
            }
        }
        DeadLettersCommand::Delete(DeadLetterTarget { queue, id, .. }) => {
            let base = format!("/api/queues/{}/dead-letters", segment(&queue));
            match id {
                Some(id) => client.delete(&format!("{base}/{}", segment(&id))).await?,
                None => client.post(&format!("{base}/delete-all"), None).await?,
            }
        }
    };
    print(format, &answer, |value| {
        let done: Map<String, Value> = value.as_object().cloned().unwrap_or_default();
        done.iter()
            .map(|(name, value)| format!("{name}: {}", cell(value)))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(Outcome::Done)
}

/// Runs `baton keys COMMAND`.
pub async fn keys(
    client: &Client,
    format: Format,
    command: KeysCommand,
) -> Result<Outcome, CommandError> {
    match command {
        KeysCommand::List => {
            let answer = client.get("/api/keys").await?;
            print(format, &answer, |value| output::keys(value).to_string());
        }
        KeysCommand::Create {
            id,
            permissions,
            allow_date_only,
        } => {
            let body =
                json!({"id": id, "permissions": permissions, "allow_date_only": allow_date_only});
            let answer = client.post("/api/keys", Some(&body)).await?;
            print(format, &answer, |value| {
                format!(
                    "{}\nThe secret is shown this once; keep it safe:\n{}",
                    output::key(value),
                    cell(&value["secret"])
                )
            });
        }
        KeysCommand::Revoke { id } => {
            let answer = client
                .post(&format!("/api/keys/{}/revoke", segment(&id)), None)
                .await?;
            print(format, &answer, |value| output::key(value).to_string());
        }
    }
    Ok(Outcome::Done)
}
