//! `baton reports ...`: OrderlyWeb's routes under `/api/v1`.

use serde_json::{Map, Value, json};

use super::{CommandError, Outcome, cell, print, query, segment};
use crate::args::ReportsCommand;
use crate::client::Client;
use crate::output::{self, Format};

/// `NAME=VALUE` pairs as a JSON object (values as text).
fn params(pairs: &[String]) -> Result<Map<String, Value>, CommandError> {
    pairs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .filter(|(name, _)| !name.is_empty())
                .map(|(name, value)| (name.to_owned(), Value::String(value.to_owned())))
                .ok_or_else(|| CommandError::Usage(format!("--param '{pair}' is not NAME=VALUE")))
        })
        .collect()
}

/// Runs `baton reports COMMAND`.
pub async fn run(
    client: &Client,
    format: Format,
    command: ReportsCommand,
) -> Result<Outcome, CommandError> {
    match command {
        ReportsCommand::Run {
            name,
            params: pairs,
            branch,
            commit,
        } => {
            let mut body = Map::new();
            body.insert("params".into(), Value::Object(params(&pairs)?));
            if let Some(branch) = branch {
                body.insert("gitBranch".into(), json!(branch));
            }
            if let Some(commit) = commit {
                body.insert("gitCommit".into(), json!(commit));
            }
            let answer = client
                .post(
                    &format!("/api/v1/reports/{}/run/", segment(&name)),
                    Some(&Value::Object(body)),
                )
                .await?;
            print(format, &answer, |value| {
                format!(
                    "started {} (key {})",
                    name,
                    cell(&output::data(value)["key"])
                )
            });
        }
        ReportsCommand::Status { key } => {
            let answer = client
                .get(&format!("/api/v1/reports/{}/status/", segment(&key)))
                .await?;
            print(format, &answer, |value| {
                output::report_status(value).to_string()
            });
        }
        ReportsCommand::Log { key } => {
            let mut after: Option<String> = None;
            let mut lines: Vec<Value> = Vec::new();
            let last = loop {
                let path = format!(
                    "/api/v1/reports/{}/status/{}",
                    segment(&key),
                    query(&[
                        ("output", Some("true".into())),
                        ("output_after", after.clone())
                    ])
                );
                let answer = client.get(&path).await?;
                let data = output::data(&answer);
                if let Some(page) = data["output"].as_array() {
                    lines.extend(page.iter().cloned());
                }
                after = data["output_next"].as_str().map(str::to_owned);
                if data["output_more"] != Value::Bool(true) || after.is_none() {
                    break answer;
                }
            };
            match format {
                Format::Json => {
                    let mut answer = last;
                    if let Some(data) = answer.get_mut("data").and_then(Value::as_object_mut) {
                        data.insert("output".into(), Value::Array(lines));
                    }
                    println!("{answer}");
                }
                Format::Human => {
                    for line in &lines {
                        println!(
                            "{}",
                            line.as_str()
                                .map_or_else(|| line.to_string(), str::to_owned)
                        );
                    }
                }
            }
        }
    }
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_name_value_pairs() {
        let parsed = params(&["a=1".into(), "b=x=y".into()]).unwrap();
        assert_eq!(parsed["a"], "1");
        assert_eq!(parsed["b"], "x=y");
        assert!(params(&["=1".into()]).is_err());
        assert!(params(&["novalue".into()]).is_err());
    }
}
