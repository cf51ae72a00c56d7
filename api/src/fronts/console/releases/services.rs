//! `/ui/services`: the task services with their health (a table polled while the page is
//! open), registering one from a form, and enabling or disabling one, each through the
//! releases front's own registration and change of `/task-services`.

use askama::Template;
use common::outbound::redact;
use serde_json::{Map, Value};
use warp::http::StatusCode;

use super::progress::{Health, health_of};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::fronts::console::form::Form;
use crate::fronts::console::html::{Chrome, page, page_with_status, see_other};
use crate::fronts::releases::services::{change, register_with_token};
use crate::state::AppState;

/// A task service as the page lists it.
#[derive(Debug, Clone)]
pub struct ServiceRow {
    /// `TS_...`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its URL, without credentials.
    pub url: String,
    /// Its health.
    pub health: Health,
    /// Whether new releases get a task for it.
    pub enabled: bool,
}

/// The services table (the live part of the page).
#[derive(Debug, Clone)]
pub struct ServicesTable {
    /// Every service, oldest first.
    pub rows: Vec<ServiceRow>,
    /// May enable and disable them.
    pub can_write: bool,
    /// The session's CSRF token, for the buttons' forms.
    pub csrf: String,
}

/// What the registration form holds (kept when it is shown again with a problem).
#[derive(Debug, Clone, Default)]
pub struct ServiceForm {
    /// Name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Description.
    pub description: String,
    /// What was wrong with it, if it was refused.
    pub problem: Option<String>,
}

#[derive(Template)]
#[template(path = "console/releases/services_table.html")]
struct ServicesTableFragment {
    table: ServicesTable,
}

#[derive(Template)]
#[template(path = "console/releases/services.html")]
struct ServicesPage {
    chrome: Chrome,
    table: ServicesTable,
    form: ServiceForm,
    registered: Option<RegisteredService>,
}

/// A service just registered, with the token it reports progress with (shown this once).
#[derive(Debug, Clone)]
pub struct RegisteredService {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: String,
    /// Its token.
    pub token: String,
}

async fn table(state: &AppState, caller: &Caller) -> Result<ServicesTable, ApiError> {
    let services = state.store.task_services(false).await?;
    Ok(ServicesTable {
        rows: services
            .iter()
            .map(|service| ServiceRow {
                id: service.kf_id.clone(),
                name: service.name.clone(),
                description: service.description.clone(),
                url: redact(&service.url),
                health: health_of(service),
                enabled: service.enabled,
            })
            .collect(),
        can_write: super::can_write(caller),
        csrf: super::csrf_of(caller),
    })
}

async fn services_page(
    state: &AppState,
    caller: &Caller,
    query: &Form,
    form: ServiceForm,
    status: StatusCode,
) -> Result<warp::reply::Response, ApiError> {
    page_with_status(
        &ServicesPage {
            chrome: Chrome::new(caller, "Task services", "releases")
                .with_notice(super::notice(query)),
            table: table(state, caller).await?,
            form,
            registered: None,
        },
        status,
    )
}

/// `GET /ui/services`.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    services_page(state, caller, query, ServiceForm::default(), StatusCode::OK).await
}

/// `GET /ui/services/live`: the table, polled.
pub async fn live(state: &AppState, caller: &Caller) -> Result<warp::reply::Response, ApiError> {
    page(&ServicesTableFragment {
        table: table(state, caller).await?,
    })
}

/// `POST /ui/services`: registers a service (its author is the signed-in key) once its
/// `/status` answers and shows its token this once (not redirected: the token must not reach
/// a URL or the history), or shows the form again with what was wrong (400).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    form: &Form,
) -> Result<warp::reply::Response, ApiError> {
    let typed = ServiceForm {
        name: form.get("name").unwrap_or_default().to_owned(),
        url: form.get("url").unwrap_or_default().to_owned(),
        description: form.get("description").unwrap_or_default().to_owned(),
        problem: None,
    };
    let fields = Map::from_iter(
        [
            ("name", typed.name.trim()),
            ("url", typed.url.trim()),
            ("description", typed.description.trim()),
            ("author", caller.key.id.as_str()),
        ]
        .map(|(name, value)| (name.to_owned(), Value::String(value.to_owned()))),
    );
    match register_with_token(state, &fields).await {
        Ok(registered) => page(&ServicesPage {
            chrome: Chrome::new(caller, "Task services", "releases"),
            table: table(state, caller).await?,
            form: ServiceForm::default(),
            registered: Some(RegisteredService {
                name: registered.service.name.clone(),
                id: registered.service.kf_id.clone(),
                token: registered.token.reveal(),
            }),
        }),
        Err(error @ ApiError::BadRequest { .. }) => {
            let form = ServiceForm {
                problem: Some(error.to_string()),
                ..typed
            };
            services_page(
                state,
                caller,
                &Form::default(),
                form,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(other) => Err(other),
    }
}

/// `POST /ui/services/{id}/enable` and `/disable`: whether new releases get a task for it.
pub async fn set_enabled(
    state: &AppState,
    id: &str,
    enabled: bool,
) -> Result<warp::reply::Response, ApiError> {
    let fields = Map::from_iter([("enabled".to_owned(), Value::Bool(enabled))]);
    change(state, id, &fields).await?;
    let done = if enabled { "enabled" } else { "disabled" };
    Ok(see_other(&format!("/ui/services?done={done}")))
}
