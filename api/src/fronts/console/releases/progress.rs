//! How far along a task or a release is, for the progress bars, and how healthy a task
//! service is, as the pages say it. Pure functions of the stored records.

use common::releases::records::TaskService;
use common::releases::{ReleaseState, TaskState};

use crate::fronts::console::html::datetime;

/// How far along a task is, in percent of its way from `waiting` to `published` (five
/// steps of 20 %); `None` once it stopped short of publication (rejected, failed,
/// canceled). While `running`, the progress its service reports moves it within its step
/// (a service reports progress for its current work, and says `staged` itself when done).
pub fn task_percent(state: TaskState, reported: u8) -> Option<u8> {
    use TaskState::*;
    Some(match state {
        Waiting => 0,
        Initialized => 20,
        Running => 40 + reported.min(99) / 5,
        Staged => 60,
        Publishing => 80,
        Published => 100,
        Rejected | Failed | Canceled => return None,
    })
}

/// How far along a release is: its tasks' mean ([`task_percent`]; a release without tasks
/// by its own state), 100 once published; `None` once it stopped short of publication or
/// while it is being canceled.
pub fn release_percent(state: ReleaseState, tasks: &[(TaskState, u8)]) -> Option<u8> {
    use ReleaseState::*;
    let by_state = match state {
        Waiting | Initializing => 0,
        Initialized => 20,
        Running => 40,
        Staged => 60,
        Publishing => 80,
        Published => return Some(100),
        Canceling | Canceled | Failed => return None,
    };
    let percents: Vec<u32> = tasks
        .iter()
        .filter_map(|(state, reported)| task_percent(*state, *reported))
        .map(u32::from)
        .collect();
    if percents.is_empty() {
        return Some(by_state);
    }
    let mean = percents.iter().sum::<u32>() / percents.len() as u32;
    Some(mean.min(100) as u8)
}

/// A task service's health as the services page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// `up` or `down` (after more than 3 failed pings in a row).
    pub word: &'static str,
    /// When it last answered (a ping or an action), UTC.
    pub last_answer: String,
    /// Pings it failed since it last answered.
    pub failed_pings: u32,
}

/// The health the scheduler's pings and the services' answers recorded for `service`.
pub fn health_of(service: &TaskService) -> Health {
    Health {
        word: if service.health_status == "down" {
            "down"
        } else {
            "up"
        },
        last_answer: if service.last_ok_ms == 0 {
            String::new()
        } else {
            datetime(service.last_ok_ms)
        },
        failed_pings: service.last_ok_status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_moves_in_steps_and_within_running_by_what_its_service_reports() {
        assert_eq!(task_percent(TaskState::Waiting, 0), Some(0));
        assert_eq!(task_percent(TaskState::Initialized, 0), Some(20));
        assert_eq!(task_percent(TaskState::Running, 0), Some(40));
        assert_eq!(task_percent(TaskState::Running, 50), Some(50));
        // A running task never reads as staged, whatever its service says.
        assert_eq!(task_percent(TaskState::Running, 100), Some(59));
        // The 100 % a service reports with `staged` does not carry into publishing.
        assert_eq!(task_percent(TaskState::Staged, 100), Some(60));
        assert_eq!(task_percent(TaskState::Publishing, 100), Some(80));
        assert_eq!(task_percent(TaskState::Published, 0), Some(100));
        for stopped in [TaskState::Rejected, TaskState::Failed, TaskState::Canceled] {
            assert_eq!(task_percent(stopped, 40), None);
        }
    }

    #[test]
    fn a_release_is_its_tasks_mean_and_full_only_once_published() {
        let tasks = [(TaskState::Staged, 100), (TaskState::Running, 0)];
        assert_eq!(release_percent(ReleaseState::Running, &tasks), Some(50));
        assert_eq!(release_percent(ReleaseState::Published, &tasks), Some(100));
        assert_eq!(release_percent(ReleaseState::Canceled, &tasks), None);
        assert_eq!(release_percent(ReleaseState::Canceling, &tasks), None);
        assert_eq!(release_percent(ReleaseState::Failed, &tasks), None);
        // Without tasks, its own state says how far it is.
        assert_eq!(release_percent(ReleaseState::Staged, &[]), Some(60));
        assert_eq!(release_percent(ReleaseState::Waiting, &[]), Some(0));
        // A task that stopped short counts for nothing until the release follows it.
        let stopped = [(TaskState::Failed, 0), (TaskState::Staged, 100)];
        assert_eq!(release_percent(ReleaseState::Running, &stopped), Some(60));
    }

    #[test]
    fn health_says_up_or_down_with_the_last_answer_and_the_failed_pings() {
        let mut service = TaskService {
            kf_id: "TS_ABCD1234".into(),
            name: "n".into(),
            description: String::new(),
            author: String::new(),
            url: "http://127.0.0.1:1".into(),
            enabled: true,
            health_status: "ok".into(),
            last_ok_status: 0,
            last_ok_ms: 0,
            created_ms: 0,
        };
        assert_eq!(
            health_of(&service),
            Health {
                word: "up",
                last_answer: String::new(),
                failed_pings: 0
            }
        );
        service.health_status = "down".into();
        service.last_ok_status = 4;
        service.last_ok_ms = 1_764_618_129_000;
        let health = health_of(&service);
        assert_eq!(health.word, "down");
        assert_eq!(health.failed_pings, 4);
        assert_eq!(health.last_answer, "2025-12-01 19:42:09");
    }
}
