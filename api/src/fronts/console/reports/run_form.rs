//! The form that runs a report: a branch and a commit of the repository, the report's
//! parameters at that commit (with their defaults, from its `orderly.yml` as a run reads
//! it), and a changelog entry. Changing the branch or commit reloads the commits and
//! parameters ([`options`]).

use askama::Template;
use common::auth::permissions::Permission;
use common::reports::config::{Parameter, ReportConfig};
use serde_json::Value;

use super::{report_url, repository};
use crate::error::ApiError;
use crate::fronts::console::form::Form;
use crate::fronts::console::html::page;
use crate::fronts::reports::access::Access;
use crate::state::AppState;

/// The form field of parameter `name`.
pub fn parameter_field(name: &str) -> String {
    format!("param.{name}")
}

/// A branch to choose.
#[derive(Debug, Clone)]
pub struct BranchChoice {
    /// Its name.
    pub name: String,
    /// Chosen.
    pub selected: bool,
}

/// A commit to choose.
#[derive(Debug, Clone)]
pub struct CommitChoice {
    /// The full hash, sent.
    pub hash: String,
    /// The abbreviated hash, shown.
    pub short: String,
    /// Its date (UTC).
    pub date: String,
    /// The first line of its message.
    pub subject: String,
    /// Chosen.
    pub selected: bool,
}

/// A parameter's input.
#[derive(Debug, Clone)]
pub struct ParameterInput {
    /// The parameter's name.
    pub name: String,
    /// What the input holds: what was sent, else the default.
    pub value: String,
    /// Its default, as text (empty when it has none).
    pub default: String,
    /// It has no default.
    pub required: bool,
}

/// The part of the form that follows the branch and commit.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Where the form asks for them again.
    pub url: String,
    /// The branch's newest commits.
    pub commits: Vec<CommitChoice>,
    /// The report's parameters at the chosen commit.
    pub parameters: Vec<ParameterInput>,
    /// Why the report cannot run at the chosen commit, if it cannot.
    pub problem: Option<String>,
}

/// The whole form.
#[derive(Debug, Clone, Default)]
pub struct RunForm {
    /// Where it posts.
    pub action: String,
    /// Where the branch select asks for commits and parameters.
    pub options_url: String,
    /// The repository's branches.
    pub branches: Vec<BranchChoice>,
    /// The changelog message sent, if any.
    pub changelog_message: String,
    /// The changelog type sent (`internal` unless `public` was chosen).
    pub changelog_public: bool,
    /// Why the run was refused, if it was.
    pub problem: Option<String>,
}

#[derive(Template)]
#[template(path = "console/reports/run_options.html")]
struct OptionsFragment {
    options: RunOptions,
}

/// A JSON value as a form shows it: text as it is, anything else as JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The value a parameter's input stands for: a number or boolean when its default is one and
/// the text reads as one, else the text.
pub fn parameter_value(text: &str, default: Option<&Value>) -> Value {
    let typed = serde_json::from_str::<Value>(text).ok();
    match (default, typed) {
        (Some(Value::Number(_)), Some(number @ Value::Number(_))) => number,
        (Some(Value::Bool(_)), Some(flag @ Value::Bool(_))) => flag,
        _ => Value::String(text.to_owned()),
    }
}

fn parameter_inputs(parameters: &[Parameter], sent: Option<&Form>) -> Vec<ParameterInput> {
    parameters
        .iter()
        .map(|parameter| {
            let default = parameter
                .default
                .as_ref()
                .map(value_text)
                .unwrap_or_default();
            let value = sent
                .map(|form| {
                    form.get(&parameter_field(&parameter.name))
                        .unwrap_or_default()
                        .to_owned()
                })
                .unwrap_or_else(|| default.clone());
            ParameterInput {
                name: parameter.name.clone(),
                value,
                default,
                required: parameter.default.is_none(),
            }
        })
        .collect()
}

/// The commits and parameters for `branch` (the checked-out one when `None`) and `commit`
/// (the branch's tip when `None` or not among its newest), with the inputs of `sent`.
pub async fn run_options(
    state: &AppState,
    name: &str,
    branch: Option<&str>,
    commit: Option<&str>,
    sent: Option<&Form>,
) -> Result<RunOptions, ApiError> {
    let mut options = RunOptions {
        url: format!("{}/run-options", report_url(name)),
        ..RunOptions::default()
    };
    let commits = repository::commits(state, branch.unwrap_or("HEAD")).await?;
    let chosen = commit
        .and_then(|wanted| commits.iter().position(|found| found.hash == wanted))
        .unwrap_or(0);
    options.commits = commits
        .into_iter()
        .enumerate()
        .map(|(index, found)| CommitChoice {
            short: found.hash.chars().take(8).collect(),
            hash: found.hash,
            date: found.date,
            subject: found.subject,
            selected: index == chosen,
        })
        .collect();
    let Some(at) = options
        .commits
        .get(chosen)
        .map(|choice| choice.hash.clone())
    else {
        options.problem = Some("The branch has no commits.".into());
        return Ok(options);
    };
    match repository::config(state, name, &at).await {
        Ok(Some(ReportConfig { parameters, .. })) => {
            options.parameters = parameter_inputs(&parameters, sent);
        }
        Ok(None) => {
            options.problem = Some(format!(
                "Report '{name}' does not exist at commit {}.",
                &at[..at.len().min(8)]
            ));
        }
        Err(error) => options.problem = Some(error),
    }
    Ok(options)
}

/// The form for report `name`, with what `sent` holds (a refused submission) and `problem`;
/// and its commits and parameters.
pub async fn run_form(
    state: &AppState,
    name: &str,
    sent: Option<&Form>,
    problem: Option<String>,
) -> Result<(RunForm, RunOptions), ApiError> {
    let (names, current) = repository::branches(state).await?;
    let wanted = sent.and_then(|form| form.text("branch"));
    let branch = wanted
        .filter(|wanted| names.iter().any(|name| name == wanted))
        .map(str::to_owned)
        .or(current.filter(|current| names.contains(current)))
        .or_else(|| names.first().cloned());
    let commit = sent.and_then(|form| form.text("commit"));
    let options = run_options(state, name, branch.as_deref(), commit, sent).await?;
    let form = RunForm {
        action: format!("{}/run", report_url(name)),
        options_url: options.url.clone(),
        branches: names
            .into_iter()
            .map(|name| BranchChoice {
                selected: Some(&name) == branch.as_ref(),
                name,
            })
            .collect(),
        changelog_message: sent
            .and_then(|form| form.get("changelog_message"))
            .unwrap_or_default()
            .to_owned(),
        changelog_public: sent.and_then(|form| form.get("changelog_type")) == Some("public"),
        problem,
    };
    Ok((form, options))
}

/// `GET /ui/reports/{name}/run-options?branch=&commit=`: the commit select and parameter
/// inputs for that branch and commit.
pub async fn options(
    state: &AppState,
    access: &Access,
    name: &str,
    query: &Form,
) -> Result<warp::reply::Response, ApiError> {
    access.require(name, Permission::ReportsRun)?;
    let (branches, _) = repository::branches(state).await?;
    let branch = query
        .text("branch")
        .filter(|wanted| branches.iter().any(|branch| branch == wanted));
    let options = run_options(state, name, branch, query.text("commit"), None).await?;
    page(&OptionsFragment { options })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inputs_keep_the_type_of_their_default() {
        assert_eq!(parameter_value("7", Some(&json!(1))), json!(7));
        assert_eq!(parameter_value("2.5", Some(&json!(1))), json!(2.5));
        assert_eq!(parameter_value("many", Some(&json!(1))), json!("many"));
        assert_eq!(parameter_value("true", Some(&json!(false))), json!(true));
        assert_eq!(parameter_value("7", Some(&json!("plain"))), json!("7"));
        assert_eq!(parameter_value("7", None), json!("7"));
    }

    #[test]
    fn parameter_inputs_show_what_was_sent_or_the_default() {
        let parameters = vec![
            Parameter {
                name: "nmin".into(),
                default: None,
            },
            Parameter {
                name: "label".into(),
                default: Some(json!("plain")),
            },
        ];
        let fresh = parameter_inputs(&parameters, None);
        assert_eq!(fresh[0].value, "");
        assert!(fresh[0].required);
        assert_eq!(fresh[1].value, "plain");
        assert_eq!(fresh[1].default, "plain");
        let form = Form::parse(b"param.nmin=3&param.label=").unwrap();
        let sent = parameter_inputs(&parameters, Some(&form));
        assert_eq!(sent[0].value, "3");
        assert_eq!(sent[1].value, "");
    }
}
