//! Running each command against the API: one request (or a few, paging or waiting), then the
//! answer printed as a table or as the API's JSON. One module per group of commands.

mod operator;
mod projects;
mod releases;
mod reports;
mod workflows;

use serde_json::Value;

use crate::args::{Command, QueueCommand};
use crate::client::{Client, ClientError};
use crate::output::{self, Format};

/// Why a command failed (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The request failed or the API refused it.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// An argument is not what the command takes.
    #[error("{0}")]
    Usage(String),
    /// The answer lacks what the command needs.
    #[error("unexpected answer: {0}")]
    Answer(String),
}

/// How a command ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (exit 0).
    Done,
    /// A waited-for run failed or was canceled (exit 1).
    RunFailed,
}

/// A path segment, percent-encoded.
fn segment(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// A query string (with its `?`) of the pairs given a value; empty when none is.
fn query(pairs: &[(&str, Option<String>)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (name, value) in pairs {
        if let Some(value) = value {
            serializer.append_pair(name, value);
            any = true;
        }
    }
    if any {
        format!("?{}", serializer.finish())
    } else {
        String::new()
    }
}

/// Prints `value` as JSON, or as `human` renders it.
fn print(format: Format, value: &Value, human: impl FnOnce(&Value) -> String) {
    match format {
        Format::Json => println!("{value}"),
        Format::Human => println!("{}", human(value)),
    }
}

/// Runs `command` (all but `completions`, which needs no API).
pub async fn run(
    client: &Client,
    format: Format,
    command: Command,
) -> Result<Outcome, CommandError> {
    match command {
        Command::Workflows(command) => workflows::run(client, format, command).await,
        Command::Definitions => {
            let answer = client.get("/api/definitions").await?;
            print(format, &answer, |value| {
                output::definitions(value).to_string()
            });
            Ok(Outcome::Done)
        }
        Command::Queues => {
            let answer = client.get("/api/queues").await?;
            print(format, &answer, |value| output::queues(value).to_string());
            Ok(Outcome::Done)
        }
        Command::Queue(command) => {
            let (method, path) = match &command {
                QueueCommand::Show { name } => ("GET", format!("/api/queues/{}", segment(name))),
                QueueCommand::Pause { name } => {
                    ("POST", format!("/api/queues/{}/pause", segment(name)))
                }
                QueueCommand::Resume { name } => {
                    ("POST", format!("/api/queues/{}/resume", segment(name)))
                }
            };
            let answer = if method == "GET" {
                client.get(&path).await?
            } else {
                client.post(&path, None).await?
            };
            print(format, &answer, |value| output::queue(value).to_string());
            Ok(Outcome::Done)
        }
        Command::DeadLetters(command) => operator::dead_letters(client, format, command).await,
        Command::Workers => {
            let answer = client.get("/api/workers").await?;
            print(format, &answer, |value| output::workers(value).to_string());
            Ok(Outcome::Done)
        }
        Command::Keys(command) => operator::keys(client, format, command).await,
        Command::Reports(command) => reports::run(client, format, command).await,
        Command::Releases(command) => releases::run(client, format, command).await,
        Command::Projects(command) => projects::run(client, format, command).await,
        Command::Completions { .. } => Err(CommandError::Usage(
            "completions are printed without the API".into(),
        )),
    }
}

/// A value as a table cell.
fn cell(value: &Value) -> String {
    output::cell(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_queries_are_encoded() {
        assert_eq!(segment("1700000000000-0.3"), "1700000000000-0.3");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(query(&[("a", None)]), "");
        assert_eq!(
            query(&[
                ("a", Some("x y".into())),
                ("b", None),
                ("c", Some("1".into()))
            ]),
            "?a=x+y&c=1"
        );
    }
}
