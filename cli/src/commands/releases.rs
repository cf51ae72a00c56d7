//! `baton releases ...`: the Release Coordinator's routes.

use super::{CommandError, Outcome, cell, print, query, segment};
use crate::args::ReleasesCommand;
use crate::client::Client;
use crate::output::{self, Format};

/// Runs `baton releases COMMAND`.
pub async fn run(
    client: &Client,
    format: Format,
    command: ReleasesCommand,
) -> Result<Outcome, CommandError> {
    match command {
        ReleasesCommand::List { state, limit } => {
            let path = format!(
                "/releases{}",
                query(&[("limit", Some(limit.to_string())), ("state", state)])
            );
            let answer = client.get(&path).await?;
            print(format, &answer, |value| output::releases(value).to_string());
        }
        ReleasesCommand::Show { id } => {
            let answer = client.get(&format!("/releases/{}", segment(&id))).await?;
            print(format, &answer, output::release);
        }
        ReleasesCommand::Publish { id } => {
            let answer = client
                .post(&format!("/releases/{}/publish", segment(&id)), None)
                .await?;
            print(format, &answer, |value| cell(&value["message"]));
        }
        ReleasesCommand::Cancel { id } => {
            let answer = client
                .delete(&format!("/releases/{}", segment(&id)))
                .await?;
            print(format, &answer, |value| match value.get("kf_id") {
                Some(_) => output::release(value),
                None => cell(&value["message"]),
            });
        }
    }
    Ok(Outcome::Done)
}
