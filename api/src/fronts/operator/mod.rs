//! The operator routes under `/api/`: queues (counts, pausing), dead letters (listing,
//! requeueing, deleting), workers and API keys, signed and in Director's error format, for
//! the `baton` command and other scripts. Queues, dead letters and workers need `operator`
//! (or `admin`); keys need `admin`.

mod keys;
mod queues;
mod route;
mod workers;

use common::auth::permissions::Permission;
use serde_json::Value;
use warp::Filter;
use warp::Reply;
use warp::http::StatusCode;

use super::routed;
use crate::auth::authorize;
use crate::error::{ApiError, Front};
use crate::request::RequestParts;
use crate::state::AppState;

pub use route::OperatorRoute;

/// Every operator route: the requests under `/api/queues`, `/api/workers` and `/api/keys`.
pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let prefix = warp::path("api").and(
        warp::path("queues")
            .or(warp::path("workers"))
            .unify()
            .or(warp::path("keys"))
            .unify(),
    );
    routed(prefix, &state, Front::Workflows, dispatch)
}

async fn dispatch(
    state: AppState,
    request: RequestParts,
    route: OperatorRoute,
) -> Result<warp::reply::Response, ApiError> {
    use OperatorRoute as R;
    authorize(&state, &request, route.permission()).await?;
    match route {
        R::Queues => queues::list(&state).await,
        R::Queue(name) => queues::show(&state, &name).await,
        R::Pause(name) => queues::pause(&state, &name, true).await,
        R::Resume(name) => queues::pause(&state, &name, false).await,
        R::DeadLetters(name) => queues::dead_letters(&state, &request, &name).await,
        R::RequeueDead(name, id) => queues::requeue(&state, &name, Some(&id)).await,
        R::DeleteDead(name, id) => queues::delete(&state, &name, Some(&id)).await,
        R::RequeueAllDead(name) => queues::requeue(&state, &name, None).await,
        R::DeleteAllDead(name) => queues::delete(&state, &name, None).await,
        R::Workers => workers::list(&state).await,
        R::Keys => keys::list(&state).await,
        R::CreateKey => keys::create(&state, &request).await,
        R::RevokeKey(id) => keys::revoke(&state, &request, &id).await,
    }
}

impl OperatorRoute {
    /// The permission the route needs: `admin` for keys, `operator` for the rest.
    pub fn permission(&self) -> Permission {
        match self {
            Self::Keys | Self::CreateKey | Self::RevokeKey(_) => Permission::Admin,
            _ => Permission::Operator,
        }
    }
}

/// A JSON answer with `status`.
fn json_response(status: StatusCode, body: &Value) -> warp::reply::Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}
