//! `baton workflows ...`: Director's routes, waiting for a run with a progress bar, and a
//! run's log, paged or followed.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::{CommandError, Outcome, cell, print, query, segment};
use crate::args::{ListArgs, WorkflowsCommand};
use crate::client::Client;
use crate::output::{self, Format};

/// How often a waited-for run and a followed log are polled.
const POLL: Duration = Duration::from_millis(300);
/// Lines asked per page of a log.
const LOG_PAGE: usize = 500;

/// Runs `baton workflows COMMAND`.
pub async fn run(
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
