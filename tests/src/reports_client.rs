//! A client of the reports front (OrderlyWeb's API v1) for tests: logs in a user made with
//! `baton-api tokens create`, starts runs, waits for them and reads versions and files, over
//! the app's real socket.

use std::time::Duration;

use serde_json::Value;

use crate::TestApp;
use crate::wait::wait_for;

/// A logged-in user of the reports front.
#[derive(Debug, Clone)]
pub struct ReportsClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ReportsClient {
    /// Creates user `name` with `permissions` (comma-separated) and logs in.
    pub async fn login(app: &TestApp, name: &str, permissions: &str) -> Self {
        let (ok, output) = app
            .cli(
                "baton-api",
                &["tokens", "create", name, "--permissions", permissions],
            )
            .await;
        assert!(ok, "token creation failed: {output}");
        let user_token = output.lines().last().unwrap_or_default().trim().to_owned();
        let login: Value = app
            .http()
            .post(app.url("/api/v1/login/"))
            .header("authorization", format!("token {user_token}"))
            .send()
            .await
            .expect("the API answers")
            .json()
            .await
            .expect("a JSON login answer");
        Self {
            http: app.http().clone(),
            base: app.base().to_owned(),
            token: login["access_token"]
                .as_str()
                .expect("an access token")
                .to_owned(),
        }
    }

    /// A request with an optional JSON body: the status and the JSON answer (`Null` when
    /// the answer is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The bytes of a successful GET.
    pub async fn bytes(&self, path: &str) -> Vec<u8> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the API answers");
        assert_eq!(response.status(), 200, "{path}");
        response.bytes().await.expect("a body").to_vec()
    }

    /// Starts a run of `report` with `body`; returns its key.
    pub async fn run(&self, report: &str, body: Value) -> String {
        let (status, answer) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/reports/{report}/run/"),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        answer["data"]["key"]
            .as_str()
            .expect("a run key")
            .to_owned()
    }

    /// Waits (up to 60 s) until run `key` ends; returns its status payload, with its log.
    pub async fn finished(&self, key: &str) -> Value {
        wait_for(
            Duration::from_secs(60),
            &format!("run {key} ends"),
            || async {
                let (_, answer) = self
                    .call(
                        reqwest::Method::GET,
                        &format!("/api/v1/reports/{key}/status/?output=true"),
                        None,
                    )
                    .await;
                let data = answer["data"].clone();
                matches!(
                    data["status"].as_str(),
                    Some("success" | "error" | "killed")
                )
                .then_some(data)
            },
        )
        .await
    }

    /// A version's details.
    pub async fn version(&self, report: &str, version: &str) -> Value {
        let (status, answer) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/reports/{report}/versions/{version}/"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        answer["data"].clone()
    }
}
