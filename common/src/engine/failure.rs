//! Why a task failed, in Celery Director's shape: `{"exception": "...", "traceback": "..."}`.
//!
//! A task's error is kept as one text: its first line says what went wrong (the exception),
//! the lines after it give the details (for a command, its exit status and the last lines of
//! its stderr): the traceback.

use serde::Serialize;
use serde_json::Value;

/// A task's failure, split into Director's two fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// What went wrong, in one line.
    pub exception: String,
    /// The details (empty when there are none).
    pub traceback: String,
}

impl Failure {
    /// The failure an error text describes: its first line, then the rest.
    pub fn from_error(error: &str) -> Self {
        let (exception, traceback) = error.split_once('\n').unwrap_or((error, ""));
        Self {
            exception: exception.trim_end().to_owned(),
            traceback: traceback.to_owned(),
        }
    }

    /// An error text made of `exception` and `details` (the lines of the traceback).
    pub fn error_text(exception: &str, details: &[String]) -> String {
        std::iter::once(exception.replace('\n', " "))
            .chain(details.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// As JSON.
    pub fn to_json(&self) -> Value {
        serde_json::json!({ "exception": self.exception, "traceback": self.traceback })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_is_the_exception_and_the_rest_the_traceback() {
        let failure = Failure::from_error("command exited with status 3\nstderr:\nboom");
        assert_eq!(failure.exception, "command exited with status 3");
        assert_eq!(failure.traceback, "stderr:\nboom");
        let one_line = Failure::from_error("no handler named 'LAOD' is registered");
        assert_eq!(one_line.exception, "no handler named 'LAOD' is registered");
        assert_eq!(one_line.traceback, "");
    }

    #[test]
    fn an_error_text_parses_back() {
        let text = Failure::error_text("exited\nwith 2", &["a".into(), "b".into()]);
        assert_eq!(text, "exited with 2\na\nb");
        assert_eq!(
            Failure::from_error(&text).to_json(),
            serde_json::json!({"exception": "exited with 2", "traceback": "a\nb"})
        );
    }
}
