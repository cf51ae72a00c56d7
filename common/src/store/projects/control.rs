//! Steering projects, as Orchestra's project-management API does: ending one (its run
//! canceled, its status `aborted`) and pausing or resuming it (a paused project's human tasks
//! are not offered to people).
//!
//! The status lives in the project's hash (`status`: absent for active, `paused` or
//! `aborted`), written by `project_status.lua`, so that a pause racing an end never revives
//! an ended project. An end cancels the run first (through the engine's cancel: its unfinished
//! tasks end `canceled`), then marks the hash: should it stop in between, the run reads as
//! aborted already and repeating the end marks it. Ending is idempotent.

use std::collections::HashMap;

use crate::engine::model::RunStatus;
use crate::projects::project::project_run_id;
use crate::scripts;
use crate::store::engine::runs::CancelOutcome;
use crate::store::{Store, StoreResult};
use crate::time::now_ms;

/// A project's status as its managers set it (the run's own status aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectState {
    /// Its tasks are offered (the default).
    Active,
    /// Paused: its human tasks are not offered nor claimed until it is resumed.
    Paused,
    /// Ended: its run was canceled.
    Aborted,
}

impl ProjectState {
    /// The state a project hash's `status` field records.
    pub fn parse(field: Option<&str>) -> Self {
        match field {
            Some("paused") => Self::Paused,
            Some("aborted") => Self::Aborted,
            _ => Self::Active,
        }
    }

    /// The state's name, as Orchestra's API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Aborted => "aborted",
        }
    }

    /// True when the project's human tasks may not be offered or claimed.
    pub fn withholds_tasks(self) -> bool {
        self != Self::Active
    }
}

/// What ending a project did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndProject {
    /// No such project (or its run does not exist).
    Missing,
    /// It had completed (every task succeeded): nothing to end.
    Completed,
    /// It is aborted; `now` is true when this call ended it, false when it had ended before.
    Aborted {
        /// True when its run was canceled by this call.
        now: bool,
    },
}

/// What pausing or resuming a project did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetProjectState {
    /// No such project (or its run does not exist).
    Missing,
    /// It has completed: its status no longer changes.
    Completed,
    /// It is aborted (ended, or its run failed or was canceled): its status no longer changes.
    Aborted,
    /// Done; its previous state.
    Set(ProjectState),
}

/// The project id of a project's run id (`project-ID`), if it is one.
pub fn project_id_of_run(run_id: &str) -> Option<u64> {
    let id: u64 = run_id.strip_prefix("project-")?.parse().ok()?;
    (project_run_id(id) == run_id).then_some(id)
}

impl Store {
    /// The states of projects `ids`, in order (`None` for an unknown id), in one round trip:
    /// what the claim paths ask before offering a project's task.
    pub async fn project_statuses(&self, ids: &[u64]) -> StoreResult<Vec<Option<ProjectState>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HMGET")
                .arg(self.keys.project(*id))
                .arg("run")
                .arg("status");
        }
        let all: Vec<(Option<String>, Option<String>)> = pipe.query_async(&mut conn).await?;
        Ok(all
            .into_iter()
            .map(|(run, status)| run.map(|_| ProjectState::parse(status.as_deref())))
            .collect())
    }

    /// The states of the projects whose runs are `run_ids` (`project-ID`), in order (`None`
    /// for a run that is not a known project's).
    pub async fn project_statuses_of_runs(
        &self,
        run_ids: &[String],
    ) -> StoreResult<Vec<Option<ProjectState>>> {
        let ids: Vec<Option<u64>> = run_ids.iter().map(|id| project_id_of_run(id)).collect();
        let known: Vec<u64> = ids.iter().flatten().copied().collect();
        let states: HashMap<u64, Option<ProjectState>> = known
            .iter()
            .copied()
            .zip(self.project_statuses(&known).await?)
            .collect();
        Ok(ids
            .into_iter()
            .map(|id| id.and_then(|id| states.get(&id).copied().flatten()))
            .collect())
    }

    /// Ends project `id`: cancels its run (its unfinished tasks end `canceled`) and marks it
    /// `aborted`. Repeating it is harmless; a completed project is left as it is.
    pub async fn end_project(&self, id: u64) -> StoreResult<EndProject> {
        let Some(project) = self.projects(&[id]).await?.pop().flatten() else {
            return Ok(EndProject::Missing);
        };
        let now = match self.cancel_run(&project.run_id).await? {
            CancelOutcome::NotFound => return Ok(EndProject::Missing),
            CancelOutcome::AlreadyFinished(RunStatus::Success) => {
                return Ok(EndProject::Completed);
            }
            CancelOutcome::AlreadyFinished(_) => false,
            CancelOutcome::Canceled { .. } => true,
        };
        match self.set_project_field(id, ProjectState::Aborted).await? {
            None => Ok(EndProject::Missing),
            Some(_) => {
                if now {
                    tracing::info!(project = id, run = %project.run_id, "project ended: its run is canceled");
                }
                Ok(EndProject::Aborted { now })
            }
        }
    }

    /// Pauses project `id` (`paused`) or resumes it (`active`), unless it has finished.
    pub async fn set_project_state(&self, id: u64, paused: bool) -> StoreResult<SetProjectState> {
        let Some(project) = self.projects(&[id]).await?.pop().flatten() else {
            return Ok(SetProjectState::Missing);
        };
        let Some(status) = self
            .run_statuses(std::slice::from_ref(&project.run_id))
            .await?
            .pop()
            .flatten()
        else {
            return Ok(SetProjectState::Missing);
        };
        match status {
            RunStatus::Success => return Ok(SetProjectState::Completed),
            RunStatus::Error | RunStatus::Canceled => return Ok(SetProjectState::Aborted),
            RunStatus::Pending | RunStatus::Progress => {}
        }
        let wanted = if paused {
            ProjectState::Paused
        } else {
            ProjectState::Active
        };
        Ok(match self.set_project_field(id, wanted).await? {
            None => SetProjectState::Missing,
            Some(None) => SetProjectState::Aborted,
            Some(Some(previous)) => {
                if previous != wanted {
                    tracing::info!(project = id, status = wanted.as_str(), "project status set");
                }
                SetProjectState::Set(previous)
            }
        })
    }

    /// Writes `state` as project `id`'s status: `None` when the project does not exist,
    /// `Some(None)` when it is aborted and stays so, else its previous state.
    async fn set_project_field(
        &self,
        id: u64,
        state: ProjectState,
    ) -> StoreResult<Option<Option<ProjectState>>> {
        let mut conn = self.conn().await?;
        let reply: Vec<String> = scripts::PROJECT_STATUS
            .key(self.keys.project(id))
            .arg(state.as_str())
            .arg(now_ms())
            .invoke_async(&mut conn)
            .await?;
        Ok(match reply.first().map(String::as_str) {
            Some("set") => Some(Some(ProjectState::parse(reply.get(1).map(String::as_str)))),
            Some("aborted") => Some(None),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_runs_name_their_projects() {
        assert_eq!(project_id_of_run("project-12"), Some(12));
        assert_eq!(project_id_of_run("project-012"), None);
        assert_eq!(project_id_of_run("project-"), None);
        assert_eq!(project_id_of_run("workflow-12"), None);
    }

    #[test]
    fn states_read_the_project_hash() {
        assert_eq!(ProjectState::parse(None), ProjectState::Active);
        assert_eq!(ProjectState::parse(Some("paused")), ProjectState::Paused);
        assert_eq!(ProjectState::parse(Some("aborted")), ProjectState::Aborted);
        assert!(ProjectState::Paused.withholds_tasks());
        assert!(!ProjectState::Active.withholds_tasks());
    }
}
