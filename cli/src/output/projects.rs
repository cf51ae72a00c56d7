//! The projects front's answers as tables: a project with its steps' tasks, and the human
//! tasks and reviews waiting for someone.

use comfy_table::Table;
use serde_json::Value;

use super::{cell, items, table};

/// What the STATUS of a step without a task says: its task does not exist (yet), as the steps
/// before it have not completed.
const NO_TASK: &str = "(no task)";

/// What the WORKER of a machine step's assignment says.
const MACHINE: &str = "(machine)";

/// `project_information`: the project's fields, then each step of its workflow, in order,
/// with its task's id and status, its assignment and who holds it (the person who claimed it,
/// and a reviewed step's reviewer).
pub fn information(answer: &Value) -> String {
    let project = &answer["project"];
    let summary = table(
        &[
            "ID",
            "DESCRIPTION",
            "WORKFLOW",
            "PRIORITY",
            "STATUS",
            "STARTED",
        ],
        vec![
            [
                "id",
                "short_description",
                "workflow_slug",
                "priority",
                "status",
                "start_datetime",
            ]
            .iter()
            .map(|field| cell(&project[*field]))
            .collect(),
        ],
    );
    let tasks = &answer["tasks"];
    let mut slugs: Vec<String> = items(&answer["steps"])
        .iter()
        .filter_map(|step| step[0].as_str().map(str::to_owned))
        .collect();
    // A task whose step the workflow no longer names still shows, after the others.
    if let Some(named) = tasks.as_object() {
        for slug in named.keys() {
            if !slugs.contains(slug) {
                slugs.push(slug.clone());
            }
        }
    }
    let rows: Vec<Vec<String>> = slugs
        .iter()
        .map(|slug| step_row(slug, &tasks[slug.as_str()]))
        .collect();
    if rows.is_empty() {
        return summary.to_string();
    }
    format!(
        "{summary}\n{}",
        table(
            &["STEP", "TASK", "STATUS", "ASSIGNMENT", "WORKER", "REVIEWER"],
            rows
        )
    )
}

/// One step's row: its task (`null` when it has none yet) with its assignments, the
/// claimant's first, then the reviewer's.
fn step_row(slug: &str, task: &Value) -> Vec<String> {
    if task.is_null() {
        return vec![
            slug.to_owned(),
            String::new(),
            NO_TASK.to_owned(),
            String::new(),
            String::new(),
            String::new(),
        ];
    }
    let assignments = items(&task["assignments"]);
    let holder = |assignment: Option<&Value>| match assignment {
        None => String::new(),
        Some(assignment) if assignment["worker"].is_null() => MACHINE.to_owned(),
        Some(assignment) => cell(&assignment["worker"]),
    };
    vec![
        slug.to_owned(),
        cell(&task["id"]),
        cell(&task["status"]),
        assignments
            .first()
            .map_or_else(String::new, |assignment| cell(&assignment["id"])),
        holder(assignments.first()),
        assignments
            .get(1)
            .map_or_else(String::new, |review| cell(&review["worker"])),
    ]
}

/// `GET /orchestra/api/tasks/available`: `{"tasks": [...]}`.
pub fn tasks(answer: &Value) -> Table {
    task_table(
        answer,
        &[
            ("TASK", "id"),
            ("PROJECT", "project"),
            ("WORKFLOW", "workflow_slug"),
            ("STEP", "step_slug"),
            ("PRIORITY", "priority"),
            ("STATUS", "status"),
            ("DESCRIPTION", "short_description"),
        ],
    )
}

/// `GET /orchestra/api/reviews/available`: `{"tasks": [...]}`, each with the person whose work
/// waits (`worker`).
pub fn reviews(answer: &Value) -> Table {
    task_table(
        answer,
        &[
            ("TASK", "id"),
            ("PROJECT", "project"),
            ("WORKFLOW", "workflow_slug"),
            ("STEP", "step_slug"),
            ("PRIORITY", "priority"),
            ("WORKER", "worker"),
            ("STATUS", "status"),
            ("DESCRIPTION", "short_description"),
        ],
    )
}

/// A table of the answer's `tasks`, one column per (header, field).
fn task_table(answer: &Value, columns: &[(&str, &str)]) -> Table {
    let rows = items(&answer["tasks"])
        .iter()
        .map(|task| {
            columns
                .iter()
                .map(|(_, field)| cell(&task[*field]))
                .collect()
        })
        .collect();
    let headers: Vec<&str> = columns.iter().map(|(header, _)| *header).collect();
    table(&headers, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The cells of the table line whose first cell is `first`: columns are apart by two
    /// spaces at least (their padding), words of a cell by one.
    fn row(text: &str, first: &str) -> Vec<String> {
        text.lines()
            .map(|line| -> Vec<String> {
                line.trim_matches(|c: char| c == '│' || c.is_whitespace())
                    .split("  ")
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .find(|cells| cells.first().is_some_and(|cell| cell == first))
            .unwrap_or_else(|| panic!("no row of {first}: {text}"))
    }

    #[test]
    fn a_project_shows_its_steps_in_order_with_who_holds_each_task() {
        let answer = json!({
            "project": {"id": 4, "short_description": "An article", "workflow_slug": "edited",
                "priority": 2, "status": "paused", "start_datetime": "2024-01-02T03:04:05.000000Z"},
            "steps": [["write", "Write"], ["gather", "Gather"], ["use", "Use"], ["publish", "P"]],
            "tasks": {
                "gather": {"id": 6, "status": "Complete", "step_slug": "gather",
                    "assignments": [{"id": 7, "worker": null, "status": "Submitted"}]},
                "write": {"id": 5, "status": "Reviewing", "step_slug": "write",
                    "assignments": [{"id": 8, "worker": "alice"}, {"id": 9, "worker": "bob"}]},
                "use": {"id": 10, "status": "Awaiting Processing", "step_slug": "use",
                    "assignments": []}
            }
        });
        let text = information(&answer);
        assert_eq!(
            row(&text, "4"),
            [
                "4",
                "An article",
                "edited",
                "2",
                "paused",
                "2024-01-02T03:04:05.000000Z"
            ]
        );
        assert_eq!(
            row(&text, "write"),
            ["write", "5", "Reviewing", "8", "alice", "bob"]
        );
        assert_eq!(
            row(&text, "gather"),
            ["gather", "6", "Complete", "7", "(machine)"]
        );
        assert_eq!(row(&text, "use"), ["use", "10", "Awaiting Processing"]);
        assert_eq!(row(&text, "publish"), ["publish", "(no task)"]);
        let order: Vec<usize> = ["write", "gather", "use", "publish"]
            .iter()
            .map(|slug| text.find(&format!("│ {slug}")).unwrap())
            .collect();
        assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    }

    #[test]
    fn waiting_tasks_and_reviews_are_rows() {
        let task = json!({"id": 5, "project": 4, "workflow_slug": "decide", "step_slug": "decide",
            "priority": 1, "status": "Awaiting Processing", "short_description": "A choice"});
        let text = tasks(&json!({"tasks": [task]})).to_string();
        assert_eq!(
            row(&text, "5"),
            [
                "5",
                "4",
                "decide",
                "decide",
                "1",
                "Awaiting Processing",
                "A choice"
            ]
        );
        let mut review = task.clone();
        review["worker"] = json!("alice");
        review["status"] = json!("Pending Review");
        let text = reviews(&json!({"tasks": [review]})).to_string();
        assert_eq!(row(&text, "5")[5..7], ["alice", "Pending Review"]);
        let empty = reviews(&json!({"tasks": []})).to_string();
        assert!(
            empty.contains("WORKER") && !empty.contains("alice"),
            "{empty}"
        );
    }
}
