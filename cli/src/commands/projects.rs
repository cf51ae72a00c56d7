//! `baton projects ...`: Orchestra's routes: a project's information, its management
//! (`/orchestra/api/interface/project_management/...`) and the human tasks and reviews
//! waiting for someone.

use serde_json::{Value, json};

use super::{CommandError, Outcome, cell, print, query};
use crate::args::ProjectsCommand;
use crate::client::Client;
use crate::output::{Format, projects};

/// Where Orchestra's project-management routes are.
const MANAGEMENT: &str = "/orchestra/api/interface/project_management";

/// Runs `baton projects COMMAND`.
pub async fn run(
    client: &Client,
    format: Format,
    command: ProjectsCommand,
) -> Result<Outcome, CommandError> {
    match command {
        ProjectsCommand::Show { id } => {
            let path = format!(
                "/orchestra/api/project/project_information{}",
                query(&[("project_id", Some(id.to_string()))])
            );
            let answer = client.get(&path).await?;
            print(format, &answer, projects::information);
        }
        ProjectsCommand::End { id } => {
            let answer = manage(client, "end_project", json!({"project_id": id})).await?;
            print(format, &answer, |value| {
                format!("project {id} ended: {}", cell(&value["status"]))
            });
        }
        ProjectsCommand::Pause { id } => set_status(client, format, id, "paused").await?,
        ProjectsCommand::Resume { id } => set_status(client, format, id, "active").await?,
        ProjectsCommand::Assign { task_id, person } => {
            let body = json!({"worker_username": person, "task_id": task_id});
            let answer = manage(client, "assign_task", body).await?;
            print(format, &answer, |value| {
                format!(
                    "task {} assigned to {} (assignment {})",
                    cell(&value["task_id"]),
                    cell(&value["worker_username"]),
                    cell(&value["assignment_id"])
                )
            });
        }
        ProjectsCommand::Reassign {
            assignment_id,
            person,
        } => {
            let body = json!({"worker_username": person, "assignment_id": assignment_id});
            let answer = manage(client, "reassign_assignment", body).await?;
            print(format, &answer, |value| {
                format!(
                    "assignment {} (task {}) reassigned to {}",
                    cell(&value["assignment_id"]),
                    cell(&value["task_id"]),
                    cell(&value["worker_username"])
                )
            });
        }
        ProjectsCommand::Tasks { queue, limit } => {
            let path = format!(
                "/orchestra/api/tasks/available{}",
                query(&[("queue", queue), ("limit", limit.map(|n| n.to_string()))])
            );
            let answer = client.get(&path).await?;
            print(format, &answer, |value| projects::tasks(value).to_string());
        }
        ProjectsCommand::Reviews { limit } => {
            let path = format!(
                "/orchestra/api/reviews/available{}",
                query(&[("limit", limit.map(|n| n.to_string()))])
            );
            let answer = client.get(&path).await?;
            print(format, &answer, |value| {
                projects::reviews(value).to_string()
            });
        }
    }
    Ok(Outcome::Done)
}

/// `POST` to the project-management route `action` with `body`.
async fn manage(client: &Client, action: &str, body: Value) -> Result<Value, CommandError> {
    Ok(client
        .post(&format!("{MANAGEMENT}/{action}"), Some(&body))
        .await?)
}

/// `set_project_status` of project `id` to `status` (`paused` or `active`).
async fn set_status(
    client: &Client,
    format: Format,
    id: u64,
    status: &str,
) -> Result<(), CommandError> {
    let body = json!({"project_id": id, "status": status});
    let answer = manage(client, "set_project_status", body).await?;
    print(format, &answer, |value| {
        format!("project {id}: {}", cell(&value["status"]))
    });
    Ok(())
}
