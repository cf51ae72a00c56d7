//! The coordinator's side of the task-service protocol over HTTP: `GET /status` and
//! `POST /tasks` with an action, used by the API (registration), the workers (phases) and the
//! scheduler (polling and health). Every call follows the [outbound policy](crate::outbound),
//! and what a service answers is quoted only as a short, sanitised excerpt.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::outbound::{self, OutboundClient, excerpt};
use crate::releases::{Action, TaskState};

/// How long one call to a task service may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a `/status` ping may take.
pub const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest answer read from a service, in bytes.
const MAX_ANSWER: usize = 1024 * 1024;
/// Most characters of a reported state quoted in a failure.
const STATE_CHARS: usize = 40;

/// What a task service answered to an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// 200 with a JSON body.
    Ok(Value),
    /// Another status, with a sanitised excerpt of the body.
    Status(u16, String),
    /// No answer at all (refused by the outbound policy, connection refused, timeout,
    /// unreadable body), and why.
    Unreachable(String),
}

impl Answer {
    /// The `state` the service reports, when it answered 200 with one.
    pub fn state(&self) -> Option<&str> {
        match self {
            Self::Ok(body) => body.get("state").and_then(Value::as_str),
            _ => None,
        }
    }

    /// The `progress` the service reports, clamped to 0..=100.
    pub fn progress(&self) -> Option<u8> {
        match self {
            Self::Ok(body) => body
                .get("progress")
                .and_then(Value::as_u64)
                .map(|p| p.min(100) as u8),
            _ => None,
        }
    }

    /// True when the service answered at all (any HTTP status).
    pub fn answered(&self) -> bool {
        !matches!(self, Self::Unreachable(_))
    }

    /// A short description, for events and logs: a 200's body, or any other answer's, is
    /// quoted only as a bounded excerpt.
    pub fn describe(&self) -> String {
        match self {
            Self::Ok(body) => format!(
                "answered {}",
                excerpt(
                    body.to_string().as_bytes(),
                    outbound::summary::EXCERPT_CHARS
                )
            ),
            Self::Status(status, body) if body.is_empty() => format!("answered HTTP {status}"),
            Self::Status(status, body) => format!("answered HTTP {status}: {body}"),
            Self::Unreachable(error) => format!("did not answer ({error})"),
        }
    }
}

/// The body of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionBody {
    /// The action.
    pub action: Action,
    /// The task.
    pub task_id: String,
    /// The release.
    pub release_id: String,
    /// The release's studies.
    pub studies: Vec<String>,
}

/// What an answer to `action` means for the task: the state to record, or why it fails (the
/// task is then rejected for `initialize`, canceled anyway for `cancel`, failed otherwise).
pub fn interpret(action: Action, answer: &Answer) -> Result<TaskState, String> {
    let Some((expected, state)) = action.expected_answer() else {
        return match answer.state().map(str::parse::<TaskState>) {
            Some(Ok(state)) => Ok(state),
            _ => Err(format!("the service {}", answer.describe())),
        };
    };
    let further = |got: &str| {
        got.parse::<TaskState>()
            .ok()
            .filter(|got| state.steps_to(*got).is_some())
    };
    match answer.state() {
        Some(got) if got == expected => Ok(state),
        // A repeated call (after a crash) finds the service further along: that is progress.
        Some(got) => further(got).ok_or_else(|| {
            format!(
                "the service answered state '{}' to {action} (expected '{expected}')",
                outbound::summary::excerpt_str(got, STATE_CHARS)
            )
        }),
        None => Err(format!("the service {} to {action}", answer.describe())),
    }
}

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// `GET <url>/status`: `Ok` when it answers 200, else why not (the policy's refusal, the
/// connection's failure or the status answered).
pub async fn ping(client: &OutboundClient, url: &str) -> Result<(), String> {
    let request = client
        .request(reqwest::Method::GET, &format!("{}/status", base(url)))
        .map_err(|refusal| refusal.to_string())?;
    let response = request
        .timeout(PING_TIMEOUT)
        .send()
        .await
        .map_err(|error| outbound::describe(&error))?;
    if response.status() == reqwest::StatusCode::OK {
        Ok(())
    } else {
        Err(format!(
            "/status answered HTTP {}",
            response.status().as_u16()
        ))
    }
}

/// `POST <url>/tasks` with `body`.
pub async fn call(client: &OutboundClient, url: &str, body: &ActionBody) -> Answer {
    let request = match client.request(reqwest::Method::POST, &format!("{}/tasks", base(url))) {
        Ok(request) => request,
        Err(refusal) => return Answer::Unreachable(refusal.to_string()),
    };
    let sent = request
        .timeout(CALL_TIMEOUT)
        .json(&json!(body))
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(error) => return Answer::Unreachable(outbound::describe(&error)),
    };
    let status = response.status();
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if bytes.len() + chunk.len() <= MAX_ANSWER => {
                bytes.extend_from_slice(&chunk);
            }
            Ok(Some(_)) => {
                return Answer::Unreachable(format!("answer larger than {MAX_ANSWER} bytes"));
            }
            Ok(None) => break,
            Err(error) => return Answer::Unreachable(outbound::describe(&error)),
        }
    }
    let quoted = || excerpt(&bytes, outbound::summary::EXCERPT_CHARS);
    if status != reqwest::StatusCode::OK {
        return Answer::Status(status.as_u16(), quoted());
    }
    match serde_json::from_slice(&bytes) {
        Ok(body) => Answer::Ok(body),
        Err(_) => Answer::Status(status.as_u16(), format!("not JSON: {}", quoted())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_the_protocol_says() {
        let pending = Answer::Ok(json!({"state": "pending", "progress": 0}));
        assert_eq!(
            interpret(Action::Initialize, &pending),
            Ok(TaskState::Initialized)
        );
        assert!(interpret(Action::Start, &pending).is_err());
        let running = Answer::Ok(json!({"state": "running"}));
        assert_eq!(interpret(Action::Start, &running), Ok(TaskState::Running));
        let staged_already = Answer::Ok(json!({"state": "staged"}));
        assert_eq!(
            interpret(Action::Start, &staged_already),
            Ok(TaskState::Staged),
            "a repeated start finds the work done"
        );
        assert!(
            interpret(Action::Start, &Answer::Ok(json!({"state": "published"}))).is_err(),
            "never past staged without a publish"
        );
        let staged = Answer::Ok(json!({"state": "staged", "progress": 150}));
        assert_eq!(interpret(Action::GetStatus, &staged), Ok(TaskState::Staged));
        assert_eq!(staged.progress(), Some(100));
        let refused = Answer::Status(500, "boom".into());
        assert!(interpret(Action::Publish, &refused).is_err());
        assert!(!Answer::Unreachable("refused".into()).answered());
    }

    #[test]
    fn what_a_service_says_is_quoted_short() {
        let long_state = Answer::Ok(json!({"state": "x\n".repeat(5000)}));
        let reason = interpret(Action::Start, &long_state).unwrap_err();
        assert!(reason.len() < 200, "{reason}");
        assert!(!reason.contains('\n'), "{reason}");
        let reason = interpret(Action::GetStatus, &long_state).unwrap_err();
        assert!(reason.len() < 300, "{reason}");
        let big = Answer::Ok(json!({"junk": "y".repeat(100_000)}));
        assert!(big.describe().len() < 300);
    }
}
