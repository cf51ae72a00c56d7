//! A signed HTTP client of one Baton API: every request signed with the key (HTTP signatures,
//! `(request-target) date x-request-id`, and `digest` with a body), a fresh `X-Request-Id`
//! each so that the same change sent twice is not refused as a replay.

use std::time::Duration;

use common::auth::signing::sign::Signer;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::Value;

use crate::config::Target;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a request gave no answer the command can use.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API could not be reached.
    #[error("cannot reach {url}: {cause}")]
    Connect {
        /// The URL tried.
        url: String,
        /// Why.
        cause: String,
    },
    /// The API answered with an error status.
    #[error("{method} {url} answered {status}: {message}")]
    Status {
        /// The method.
        method: Method,
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The API's error message.
        message: String,
    },
    /// The answer is not JSON.
    #[error("{url} answered {status} with a body that is not JSON: {excerpt}")]
    NotJson {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The start of the body.
        excerpt: String,
    },
    /// The request could not be signed (a key id that cannot be sent).
    #[error("cannot sign the request: {0}")]
    Sign(String),
}

/// A client of the API at one base URL, signing with one key.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    signer: Signer,
}

impl Client {
    /// A client of `target`.
    pub fn new(target: &Target) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ClientError::Connect {
                url: target.url.clone(),
                cause: describe(&error),
            })?;
        let mut signer = Signer::new(target.key_id.clone(), target.secret.clone().into_bytes());
        signer.headers.push("x-request-id".to_owned());
        Ok(Self {
            http,
            base: target.url.clone(),
            signer,
        })
    }

    /// The full URL of `path_and_query` (which starts with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// `GET path`, its JSON answer.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.send(Method::GET, path, None).await
    }

    /// `POST path` with an optional JSON body, its JSON answer.
    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        self.send(Method::POST, path, body).await
    }

    /// `DELETE path`, its JSON answer.
    pub async fn delete(&self, path: &str) -> Result<Value, ClientError> {
        self.send(Method::DELETE, path, None).await
    }

    /// Sends a signed request; an error status is a [`ClientError::Status`] with the API's
    /// own message, whatever the front's error format.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let url = self.url(path_and_query);
        let parsed = reqwest::Url::parse(&url).map_err(|error| ClientError::Connect {
            url: url.clone(),
            cause: error.to_string(),
        })?;
        let target = match parsed.query() {
            Some(query) => format!("{}?{query}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        let bytes = body.map(Value::to_string).unwrap_or_default().into_bytes();
        let mut headers = HeaderMap::new();
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        headers.insert(
            "x-request-id",
            HeaderValue::from_str(&request_id)
                .map_err(|error| ClientError::Sign(error.to_string()))?,
        );
        if !bytes.is_empty() {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        self.signer
            .try_sign_request(&method, &target, &mut headers, &bytes, chrono::Utc::now())
            .map_err(|error| ClientError::Sign(error.to_string()))?;
        let response = self
            .http
            .request(method.clone(), parsed)
            .headers(headers)
            .body(bytes)
            .send()
            .await
            .map_err(|error| ClientError::Connect {
                url: url.clone(),
                cause: describe(&error),
            })?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|error| ClientError::Connect {
                url: url.clone(),
                cause: describe(&error),
            })?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if !(200..300).contains(&status) {
            let message = json
                .as_ref()
                .and_then(error_message)
                .unwrap_or_else(|| excerpt(&text));
            return Err(ClientError::Status {
                method,
                url,
                status,
                message,
            });
        }
        json.ok_or_else(|| ClientError::NotJson {
            url,
            status,
            excerpt: excerpt(&text),
        })
    }
}

/// The start of a body, for an error message.
fn excerpt(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() > 200 {
        format!("{}...", text.chars().take(200).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// A reqwest error with its causes, which name what failed (refused, timed out, ...).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        // The URL is named by the error that wraps this one.
        text = text
            .replace(&format!(" for url ({url})"), "")
            .replace(&format!(" ({url})"), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The message of an error answer, in any front's format: Director's `{"error": "...",
/// "errors": [...]}`, OrderlyWeb's `{"errors": [{"code", "message"}]}`, the Release
/// Coordinator's `{"message"}`, Orchestra's `{"error": code, "message"}` and Baton's
/// `{"error": {"code", "message"}}`.
pub fn error_message(body: &Value) -> Option<String> {
    let details = |list: Option<&Value>| -> Vec<String> {
        list.and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| {
                        item.as_str()
                            .map(str::to_owned)
                            .or_else(|| item["message"].as_str().map(str::to_owned))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let with_details = |message: String, details: Vec<String>| {
        if details.is_empty() {
            message
        } else {
            format!("{message} ({})", details.join("; "))
        }
    };
    if let Some(message) = body["error"]["message"].as_str() {
        return Some(with_details(
            message.to_owned(),
            details(body["error"].get("details")),
        ));
    }
    if let Some(message) = body["message"].as_str() {
        return Some(message.to_owned());
    }
    if let Some(message) = body["error"].as_str() {
        return Some(with_details(
            message.to_owned(),
            details(body.get("errors")),
        ));
    }
    let listed = details(body.get("errors"));
    (!listed.is_empty()).then(|| listed.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_fronts_error_format_gives_its_message() {
        assert_eq!(
            error_message(
                &json!({"error": "Payload is not valid", "errors": ["'name' is a required property"]})
            ),
            Some("Payload is not valid ('name' is a required property)".into())
        );
        assert_eq!(
            error_message(
                &json!({"status": "failure", "data": null, "errors": [{"code": "not-found", "message": "no report"}]})
            ),
            Some("no report".into())
        );
        assert_eq!(
            error_message(&json!({"message": "not staged"})),
            Some("not staged".into())
        );
        assert_eq!(
            error_message(&json!({"error": "not_found", "message": "no project"})),
            Some("no project".into())
        );
        assert_eq!(
            error_message(
                &json!({"error": {"code": "not_found", "message": "no such route", "details": []}})
            ),
            Some("no such route".into())
        );
        assert_eq!(error_message(&json!({"x": 1})), None);
    }
}
