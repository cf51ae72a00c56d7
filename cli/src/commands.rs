//! Running each command against the API: one request (or a few, paging or waiting), then the
//! answer printed as a table or as the API's JSON.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value, json};

use crate::args::{
    Command, DeadLetterTarget, DeadLettersCommand, KeysCommand, ListArgs, QueueCommand,
    ReleasesCommand, ReportsCommand, WorkflowsCommand,
};
use crate::client::{Client, ClientError};
use crate::output::{self, Format};

/// How often a waited-for run and a followed log are polled.
const POLL: Duration = Duration::from_millis(300);
/// Lines asked per page of a log.
const LOG_PAGE: usize = 500;

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
        Command::Workflows(command) => workflows(client, format, command).await,
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
        Command::DeadLetters(command) => dead_letters(client, format, command).await,
        Command::Workers => {
            let answer = client.get("/api/workers").await?;
            print(format, &answer, |value| output::workers(value).to_string());
            Ok(Outcome::Done)
        }
        Command::Keys(command) => keys(client, format, command).await,
        Command::Reports(command) => reports(client, format, command).await,
        Command::Releases(command) => releases(client, format, command).await,
        Command::Completions { .. } => Err(CommandError::Usage(
            "completions are printed without the API".into(),
        )),
    }
}

async fn workflows(
    client: &Client,
    format: Format,
    command: WorkflowsCommand,
) -> Result<Outcome, CommandError> {
    match command {
        WorkflowsCommand::List(ListArgs {
            name,
            project,
            status,
            per_page,
            page,
        }) => {
            let path = format!(
                "/api/workflows{}",
                query(&[
                    ("per_page", Some(per_page.to_string())),
                    ("page", Some(page.to_string())),
                    ("with_payload", Some("false".into())),
                    ("name", name),
                    ("project", project),
                    ("status", status),
                ])
            );
            let answer = client.get(&path).await?;
            print(format, &answer, |value| {
                output::workflows(value).to_string()
            });
            Ok(Outcome::Done)
        }
        WorkflowsCommand::Show { id } => {
            let answer = client
                .get(&format!("/api/workflows/{}", segment(&id)))
                .await?;
            print(format, &answer, output::workflow);
            Ok(Outcome::Done)
        }
        WorkflowsCommand::Run {
            workflow,
            payload,
            wait,
        } => {
            let (project, name) = workflow.split_once('.').ok_or_else(|| {
                CommandError::Usage(format!(
                    "'{workflow}' is not PROJECT.NAME (see `baton definitions`)"
                ))
            })?;
            let payload: Value = serde_json::from_str(&payload)
                .map_err(|error| CommandError::Usage(format!("--payload is not JSON: {error}")))?;
            if !payload.is_object() {
                return Err(CommandError::Usage(
                    "--payload must be a JSON object".into(),
                ));
            }
            let body = json!({"project": project, "name": name, "payload": payload});
            let started = client.post("/api/workflows", Some(&body)).await?;
            finish_start(client, format, started, wait).await
        }
        WorkflowsCommand::Relaunch { id, wait } => {
            let started = client
                .post(&format!("/api/workflows/{}/relaunch", segment(&id)), None)
                .await?;
            finish_start(client, format, started, wait).await
        }
        WorkflowsCommand::Cancel { id } => {
            let answer = client
                .post(&format!("/api/workflows/{}/cancel", segment(&id)), None)
                .await?;
            print(format, &answer, output::workflow);
            Ok(Outcome::Done)
        }
        WorkflowsCommand::Logs { id, task, follow } => {
            logs(client, format, &id, task.as_deref(), follow).await
        }
    }
}

/// A run's id from an answer that shows it.
fn run_id(run: &Value) -> Result<String, CommandError> {
    run["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| CommandError::Answer(format!("no run id in {run}")))
}

/// After a run started: prints it, or waits for it to finish and prints how it ended.
async fn finish_start(
    client: &Client,
    format: Format,
    started: Value,
    wait: bool,
) -> Result<Outcome, CommandError> {
    if !wait {
        print(format, &started, |run| {
            format!("started {} ({})", cell(&run["id"]), cell(&run["fullname"]))
        });
        return Ok(Outcome::Done);
    }
    let id = run_id(&started)?;
    let run = wait_for_run(client, &id).await?;
    print(format, &run, output::workflow);
    Ok(if run["status"] == "success" {
        Outcome::Done
    } else {
        Outcome::RunFailed
    })
}

fn cell(value: &Value) -> String {
    output::cell(value)
}

/// True for a run or task status that will not change.
fn is_finished(status: &Value) -> bool {
    matches!(status.as_str(), Some("success" | "error" | "canceled"))
}

/// Polls a run until it finishes, with a progress bar of its finished tasks on stderr (hidden
/// when stderr is not a terminal).
async fn wait_for_run(client: &Client, id: &str) -> Result<Value, CommandError> {
    let path = format!("/api/workflows/{}", segment(id));
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} tasks {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(id.to_owned());
    loop {
        let run = client.get(&path).await?;
        let tasks = run["tasks"].as_array().map_or(&[][..], Vec::as_slice);
        let work: Vec<&Value> = tasks
            .iter()
            .filter(|task| task["is_hook"] != Value::Bool(true))
            .collect();
        bar.set_length(work.len() as u64);
        bar.set_position(
            work.iter()
                .filter(|task| is_finished(&task["status"]))
                .count() as u64,
        );
        bar.set_message(cell(&run["status"]));
        if is_finished(&run["status"]) {
            bar.finish_and_clear();
            return Ok(run);
        }
        bar.tick();
        tokio::time::sleep(POLL).await;
    }
}

/// Prints a run's log: every line written so far, or (following) every line until the run
/// finishes.
async fn logs(
    client: &Client,
    format: Format,
    id: &str,
    task: Option<&str>,
    follow: bool,
) -> Result<Outcome, CommandError> {
    let mut after: Option<String> = None;
    let mut collected: Vec<Value> = Vec::new();
    loop {
        let path = format!(
            "/api/workflows/{}/logs{}",
            segment(id),
            query(&[
                ("after", after.clone()),
                ("task", task.map(str::to_owned)),
                ("limit", Some(LOG_PAGE.to_string())),
            ])
        );
        let mut page = client.get(&path).await?;
        let lines = match page.get_mut("lines").map(Value::take) {
            Some(Value::Array(lines)) => lines,
            _ => return Err(CommandError::Answer(format!("no lines in {page}"))),
        };
        let more = page["more"] == Value::Bool(true);
        let finished = page["finished"] == Value::Bool(true);
        if let Some(next) = page["next"].as_str() {
            after = Some(next.to_owned());
        }
        if follow {
            for line in &lines {
                match format {
                    Format::Json => println!("{line}"),
                    Format::Human => println!("{}", output::log_line(line)),
                }
            }
            if finished && !more {
                return Ok(Outcome::Done);
            }
            if !more {
                tokio::time::sleep(POLL).await;
            }
            continue;
        }
        collected.extend(lines);
        if !more {
            match format {
                Format::Json => {
                    if let Value::Object(fields) = &mut page {
                        fields.insert("lines".into(), Value::Array(collected));
                    }
                    println!("{page}");
                }
                Format::Human => {
                    for line in &collected {
                        println!("{}", output::log_line(line));
                    }
                }
            }
            return Ok(Outcome::Done);
        }
    }
}

async fn dead_letters(
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

async fn keys(
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

/// `NAME=VALUE` pairs as a JSON object (values as text).
fn params(pairs: &[String]) -> Result<Map<String, Value>, CommandError> {
    pairs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .filter(|(name, _)| !name.is_empty())
                .map(|(name, value)| (name.to_owned(), Value::String(value.to_owned())))
                .ok_or_else(|| CommandError::Usage(format!("--param '{pair}' is not NAME=VALUE")))
        })
        .collect()
}

async fn reports(
    client: &Client,
    format: Format,
    command: ReportsCommand,
) -> Result<Outcome, CommandError> {
    match command {
        ReportsCommand::Run {
            name,
            params: pairs,
            branch,
            commit,
        } => {
            let mut body = Map::new();
            body.insert("params".into(), Value::Object(params(&pairs)?));
            if let Some(branch) = branch {
                body.insert("gitBranch".into(), json!(branch));
            }
            if let Some(commit) = commit {
                body.insert("gitCommit".into(), json!(commit));
            }
            let answer = client
                .post(
                    &format!("/api/v1/reports/{}/run/", segment(&name)),
                    Some(&Value::Object(body)),
                )
                .await?;
            print(format, &answer, |value| {
                format!(
                    "started {} (key {})",
                    name,
                    cell(&output::data(value)["key"])
                )
            });
        }
        ReportsCommand::Status { key } => {
            let answer = client
                .get(&format!("/api/v1/reports/{}/status/", segment(&key)))
                .await?;
            print(format, &answer, |value| {
                output::report_status(value).to_string()
            });
        }
        ReportsCommand::Log { key } => {
            let mut after: Option<String> = None;
            let mut lines: Vec<Value> = Vec::new();
            let last = loop {
                let path = format!(
                    "/api/v1/reports/{}/status/{}",
                    segment(&key),
                    query(&[
                        ("output", Some("true".into())),
                        ("output_after", after.clone())
                    ])
                );
                let answer = client.get(&path).await?;
                let data = output::data(&answer);
                if let Some(page) = data["output"].as_array() {
                    lines.extend(page.iter().cloned());
                }
                after = data["output_next"].as_str().map(str::to_owned);
                if data["output_more"] != Value::Bool(true) || after.is_none() {
                    break answer;
                }
            };
            match format {
                Format::Json => {
                    let mut answer = last;
                    if let Some(data) = answer.get_mut("data").and_then(Value::as_object_mut) {
                        data.insert("output".into(), Value::Array(lines));
                    }
                    println!("{answer}");
                }
                Format::Human => {
                    for line in &lines {
                        println!(
                            "{}",
                            line.as_str()
                                .map_or_else(|| line.to_string(), str::to_owned)
                        );
                    }
                }
            }
        }
    }
    Ok(Outcome::Done)
}

async fn releases(
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

    #[test]
    fn params_are_name_value_pairs() {
        let parsed = params(&["a=1".into(), "b=x=y".into()]).unwrap();
        assert_eq!(parsed["a"], "1");
        assert_eq!(parsed["b"], "x=y");
        assert!(params(&["=1".into()]).is_err());
        assert!(params(&["novalue".into()]).is_err());
    }
}
