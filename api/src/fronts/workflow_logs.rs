//! `GET /api/workflows/{id}/logs?after=CURSOR&task=NAME&limit=N`: a run's log, paged (a Baton
//! addition to Director's API). Each line comes with its cursor, its task's name, its time and
//! its message; `next` is the cursor to ask after for the lines that follow, and `more` says
//! whether lines beyond this page were already written. A run that is `finished` with no
//! `more` has written its whole log.

use common::auth::permissions::Permission;
use common::operations::workflows;
use common::time::iso8601;
use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::{Filter, Reply};

use super::endpoint_with_id;
use crate::auth::authorize;
use crate::error::{ApiError, Front};
use crate::request::RequestParts;
use crate::state::AppState;

/// Default and largest page of lines.
const LIMIT_DEFAULT: usize = 100;
const LIMIT_MAX: usize = 1000;

/// The route, registered by the workflows front.
pub fn route(
    state: &AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone + use<> {
    endpoint_with_id(
        warp::path!("api" / "workflows" / String / "logs").and(warp::get()),
        state,
        Front::Workflows,
        "/api/workflows/{id}/logs",
        workflow_logs,
    )
}

/// A log cursor: a stream entry id, `MS-SEQ`, of at most 19 digits each (any such number
/// fits in a `u64`).
fn parse_cursor(text: &str) -> Option<(u64, u64)> {
    let (ms, seq) = text.split_once('-')?;
    let all_digits =
        |part: &str| (1..=19).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(ms) || !all_digits(seq) {
        return None;
    }
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

fn bad_query(message: String, detail: String) -> ApiError {
    ApiError::BadRequest {
        message,
        details: vec![detail],
    }
}

async fn workflow_logs(
    state: AppState,
    request: RequestParts,
    id: String,
) -> Result<warp::reply::Response, ApiError> {
    authorize(&state, &request, Permission::WorkflowsRead).await?;
    // Read back in its canonical form, as Redis takes it.
    let after = match request.query("after") {
        None => None,
        Some(text) => match parse_cursor(&text) {
            Some((ms, seq)) => Some(format!("{ms}-{seq}")),
            None => {
                return Err(bad_query(
                    "'after' must be a cursor from a previous page (MS-SEQ)".into(),
                    format!("after: got '{text}'"),
                ));
            }
        },
    };
    let limit = request.bounded_query("limit", LIMIT_DEFAULT, LIMIT_MAX)?;
    // The status is read before the lines: a run seen finished has written every line.
    let run = workflows::workflow_run(&state.store, &id).await?;
    let task = match request.query("task") {
        None => None,
        Some(name) => Some(
            run.tasks
                .iter()
                .position(|task| task.key == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = run.tasks.iter().map(|task| task.key.as_str()).collect();
                    ApiError::NotFound(format!(
                        "run {} has no task named '{name}' (its tasks: {})",
                        run.id,
                        names.join(", ")
                    ))
                })?,
        ),
    };
    // Every line of the page is read, then those of other tasks are left out, so that the
    // cursor moves past them too.
    let mut read = state
        .store
        .read_log(&run.id, None, after.as_deref(), limit + 1)
        .await?;
    let more = read.len() > limit;
    read.truncate(limit);
    let next = read.last().map(|line| line.id.clone()).or(after);
    let lines: Vec<Value> = read
        .into_iter()
        .filter(|line| task.is_none_or(|task| line.task as usize == task))
        .map(|line| {
            let at_ms = parse_cursor(&line.id).map_or(0, |(ms, _)| ms);
            json!({
                "cursor": line.id,
                "task": run
                    .tasks
                    .get(line.task as usize)
                    .map_or_else(|| format!("task {}", line.task), |task| task.key.clone()),
                "time": iso8601(at_ms),
                "message": line.line,
            })
        })
        .collect();
    let body = json!({
        "id": run.id,
        "status": run.status.as_str(),
        "finished": run.status.is_finished(),
        "lines": lines,
        "next": next,
        "more": more,
    });
    Ok(warp::reply::with_status(warp::reply::json(&body), StatusCode::OK).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_stream_entry_ids() {
        assert_eq!(
            parse_cursor("1700000000000-3"),
            Some((1_700_000_000_000, 3))
        );
        assert_eq!(parse_cursor("05-0"), Some((5, 0)));
        let longest = "9".repeat(19);
        assert!(parse_cursor(&format!("{longest}-{longest}")).is_some());
        let too_long = "1".repeat(20);
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "1-2-3",
            "a-1",
            "+1-0",
            "1 -0",
            &format!("{too_long}-0"),
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }
}
