//! What the commands print: tables for people (one renderer per kind of answer), the API's
//! JSON unchanged for scripts (`--json`).
//!
//! - [`projects`]: the projects front's answers.

pub mod projects;

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

/// Longest text shown in a cell before it is cut.
const CELL_MAX: usize = 80;

/// How a command prints its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tables and lines for people.
    Human,
    /// The API's JSON, unchanged.
    Json,
}

/// A value as a cell: text without quotes, nothing for null, lists joined with commas,
/// objects as compact JSON; cut at [`CELL_MAX`] characters.
pub fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    };
    if text.chars().count() > CELL_MAX {
        format!("{}…", text.chars().take(CELL_MAX - 1).collect::<String>())
    } else {
        text
    }
}

/// A table with `headers` and `rows`.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().copied());
    for row in rows {
        table.add_row(row);
    }
    table
}

/// The items of a JSON array (none for anything else).
fn items(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

/// `GET /api/workflows`.
pub fn workflows(list: &Value) -> Table {
    let rows = items(list)
        .iter()
        .map(|run| {
            ["id", "fullname", "status", "created", "updated"]
                .iter()
                .map(|field| cell(&run[*field]))
                .collect()
        })
        .collect();
    table(&["ID", "WORKFLOW", "STATUS", "CREATED", "UPDATED"], rows)
}

/// `GET /api/workflows/{id}`: the run's fields, then its tasks.
pub fn workflow(run: &Value) -> String {
    let summary = table(
        &["ID", "WORKFLOW", "STATUS", "CREATED", "UPDATED"],
        vec![
            ["id", "fullname", "status", "created", "updated"]
                .iter()
                .map(|field| cell(&run[*field]))
                .collect(),
        ],
    );
    let tasks: Vec<Vec<String>> = items(&run["tasks"])
        .iter()
        .map(|task| {
            vec![
                cell(&task["key"]),
                cell(&task["status"]),
                if task["is_hook"] == Value::Bool(true) {
                    "hook".to_owned()
                } else {
                    String::new()
                },
                cell(&task["updated"]),
                cell(&task["result"]),
            ]
        })
        .collect();
    if tasks.is_empty() {
        return summary.to_string();
    }
    format!(
        "{summary}\n{}",
        table(&["TASK", "STATUS", "KIND", "UPDATED", "RESULT"], tasks)
    )
}

/// `GET /api/definitions`.
pub fn definitions(list: &Value) -> Table {
    let rows = items(list)
        .iter()
        .map(|definition| {
            let tasks = match &definition["tasks"] {
                Value::Array(tasks) => tasks
                    .iter()
                    .map(|task| match task {
                        Value::String(name) => name.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                other => cell(other),
            };
            vec![
                cell(&definition["fullname"]),
                tasks,
                cell(&definition["periodic"]),
            ]
        })
        .collect();
    table(&["WORKFLOW", "TASKS", "PERIODIC"], rows)
}

fn queue_row(queue: &Value) -> Vec<String> {
    let rate = &queue["rate"];
    let finished = rate["succeeded"].as_u64().unwrap_or(0) + rate["failed"].as_u64().unwrap_or(0);
    let window = rate["window_secs"].as_u64().unwrap_or(60);
    vec![
        cell(&queue["name"]),
        cell(&queue["waiting_total"]),
        cell(&queue["running"]),
        cell(&queue["delayed"]),
        cell(&queue["dead"]),
        if queue["paused"] == Value::Bool(true) {
            "yes".to_owned()
        } else {
            "no".to_owned()
        },
        if window == 60 {
            format!("{finished}/min")
        } else {
            format!("{finished}/{window}s")
        },
    ]
}

const QUEUE_HEADERS: [&str; 7] = [
    "QUEUE", "WAITING", "RUNNING", "DELAYED", "DEAD", "PAUSED", "RATE",
];

/// `GET /api/queues`.
pub fn queues(list: &Value) -> Table {
    table(&QUEUE_HEADERS, items(list).iter().map(queue_row).collect())
}

/// `GET /api/queues/{name}` (and pause, resume).
pub fn queue(queue: &Value) -> Table {
    table(&QUEUE_HEADERS, vec![queue_row(queue)])
}

/// `GET /api/queues/{name}/dead-letters`.
pub fn dead_letters(page: &Value) -> Table {
    let rows = items(&page["dead_letters"])
        .iter()
        .map(|letter| {
            let task = match &letter["task_key"] {
                Value::String(name) => name.clone(),
                _ => format!("task {}", cell(&letter["task"])),
            };
            vec![
                cell(&letter["id"]),
                cell(&letter["run_id"]),
                task,
                cell(&letter["attempt"]),
                cell(&letter["priority"]),
                cell(&letter["failed"]),
                cell(&letter["error"]),
            ]
        })
        .collect();
    table(
        &[
            "ID", "RUN", "TASK", "ATTEMPT", "PRIORITY", "FAILED", "ERROR",
        ],
        rows,
    )
}

/// `GET /api/workers`.
pub fn workers(list: &Value) -> Table {
    let rows = items(list)
        .iter()
        .map(|worker| {
            vec![
                cell(&worker["id"]),
                cell(&worker["host"]),
                cell(&worker["pid"]),
                cell(&worker["queues"]),
                format!(
                    "{}/{}",
                    cell(&worker["in_flight"]),
                    cell(&worker["concurrency"])
                ),
                cell(&worker["done"]),
                cell(&worker["last_seen"]),
                if worker["stale"] == Value::Bool(true) {
                    "stale".to_owned()
                } else {
                    "live".to_owned()
                },
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "HOST",
            "PID",
            "QUEUES",
            "JOBS",
            "DONE",
            "LAST SEEN",
            "STATE",
        ],
        rows,
    )
}

fn key_row(key: &Value) -> Vec<String> {
    ["id", "permissions", "created", "last_used", "revoked"]
        .iter()
        .map(|field| cell(&key[*field]))
        .collect()
}

const KEY_HEADERS: [&str; 5] = ["ID", "PERMISSIONS", "CREATED", "LAST USED", "REVOKED"];

/// `GET /api/keys`.
pub fn keys(list: &Value) -> Table {
    table(&KEY_HEADERS, items(list).iter().map(key_row).collect())
}

/// One key (created or revoked).
pub fn key(key: &Value) -> Table {
    table(&KEY_HEADERS, vec![key_row(key)])
}

/// The `data` of a reports-front answer (`{"status": "success", "data": ...}`).
pub fn data(answer: &Value) -> &Value {
    answer.get("data").unwrap_or(answer)
}

/// `GET /api/v1/reports/{key}/status/`.
pub fn report_status(answer: &Value) -> Table {
    let status = data(answer);
    table(
        &["KEY", "STATUS", "VERSION", "STARTED", "ERROR"],
        vec![
            ["key", "status", "version", "start_time", "error"]
                .iter()
                .map(|field| cell(&status[*field]))
                .collect(),
        ],
    )
}

fn release_row(release: &Value) -> Vec<String> {
    ["kf_id", "name", "state", "version", "author", "created_at"]
        .iter()
        .map(|field| cell(&release[*field]))
        .collect()
}

const RELEASE_HEADERS: [&str; 6] = ["ID", "NAME", "STATE", "VERSION", "AUTHOR", "CREATED"];

/// `GET /releases`: a page (`results`) or a list.
pub fn releases(answer: &Value) -> Table {
    let list = answer.get("results").unwrap_or(answer);
    table(
        &RELEASE_HEADERS,
        items(list).iter().map(release_row).collect(),
    )
}

/// `GET /releases/{id}`: the release, then its tasks.
pub fn release(release: &Value) -> String {
    let summary = table(&RELEASE_HEADERS, vec![release_row(release)]);
    let tasks: Vec<Vec<String>> = items(&release["tasks"])
        .iter()
        .map(|task| {
            ["kf_id", "state", "progress", "task_service"]
                .iter()
                .map(|field| cell(&task[*field]))
                .collect()
        })
        .collect();
    if tasks.is_empty() {
        return summary.to_string();
    }
    format!(
        "{summary}\n{}",
        table(&["TASK", "STATE", "PROGRESS", "SERVICE"], tasks)
    )
}

/// One log line: `TIME TASK MESSAGE`.
pub fn log_line(line: &Value) -> String {
    format!(
        "{} {} {}",
        cell(&line["time"]),
        cell(&line["task"]),
        line["message"].as_str().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_read_like_text() {
        assert_eq!(cell(&json!(null)), "");
        assert_eq!(cell(&json!("a")), "a");
        assert_eq!(cell(&json!(3)), "3");
        assert_eq!(cell(&json!(["a", "b"])), "a, b");
        assert_eq!(cell(&json!({"k": 1})), r#"{"k":1}"#);
        let long = cell(&json!("x".repeat(200)));
        assert_eq!(long.chars().count(), CELL_MAX);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn the_queues_table_has_a_row_per_queue_with_its_counts() {
        let answer = json!([
            {"name": "default", "paused": true, "waiting_total": 4, "running": 1, "delayed": 2,
             "dead": 3, "rate": {"window_secs": 60, "succeeded": 5, "failed": 1}},
            {"name": "reports", "paused": false, "waiting_total": 0, "running": 0, "delayed": 0,
             "dead": 0, "rate": {"window_secs": 60, "succeeded": 0, "failed": 0}}
        ]);
        let text = queues(&answer).to_string();
        let lines: Vec<&str> = text.lines().collect();
        let header = lines.iter().find(|line| line.contains("QUEUE")).unwrap();
        for name in QUEUE_HEADERS {
            assert!(header.contains(name), "{text}");
        }
        let row = |name: &str| -> Vec<String> {
            let line = lines.iter().find(|line| line.contains(name)).unwrap();
            line.split(|c: char| c == '│' || c.is_whitespace())
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            row("default"),
            ["default", "4", "1", "2", "3", "yes", "6/min"]
        );
        assert_eq!(
            row("reports"),
            ["reports", "0", "0", "0", "0", "no", "0/min"]
        );
    }

    #[test]
    fn a_run_shows_its_tasks_under_it() {
        let run = json!({"id": "r1", "fullname": "example.ETL", "status": "error",
            "created": "c", "updated": "u", "tasks": [
                {"key": "EXTRACT", "status": "success", "is_hook": false, "updated": "u", "result": 1},
                {"key": "NOTIFY", "status": "error", "is_hook": true, "updated": "u",
                 "result": {"exception": "boom"}}]});
        let text = workflow(&run);
        assert!(text.contains("example.ETL"), "{text}");
        let notify = text.lines().find(|line| line.contains("NOTIFY")).unwrap();
        assert!(notify.contains("hook") && notify.contains("boom"), "{text}");
        assert!(text.find("EXTRACT") < text.find("NOTIFY"));
    }

    #[test]
    fn empty_lists_are_tables_with_headers_only() {
        let text = keys(&json!([])).to_string();
        assert!(text.contains("PERMISSIONS"), "{text}");
        assert_eq!(text.lines().filter(|line| line.contains("ID")).count(), 1);
    }
}
