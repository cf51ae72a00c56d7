//! End-to-end tests of the API server and its workflows front (Celery Director's API), over a
//! real socket, against real `baton-api`, `baton-worker` and `baton-scheduler` processes and a
//! real `redis-server`.

use std::path::Path;
use std::time::Duration;

use baton_tests::signed_http::{Answer, send_signed};
use baton_tests::wait::wait_for;
use baton_tests::{TestApp, python};
use common::auth::signing::sign::Signer;
use serde_json::{Value, json};

/// A running API with its Redis, a worker, and keys.
struct Api {
    app: TestApp,
    base: String,
    http: reqwest::Client,
}

const DEFINITIONS: &str = r#"
example.ETL:
  tasks:
    - EXTRACT
    - TRANSFORM
    - LOAD
  periodic:
    interval: 3600
    payload:
      dry_run: false
example.RANDOMS:
  tasks:
    - GROUP_RANDOMS:
        type: group
        tasks:
          - RANDOM
          - RANDOM
    - ADD
example.STRICT:
  tasks:
    - EXTRACT
  schema:
    type: object
    required: [source]
    properties:
      source: {type: string}
      count: {type: integer}
example.HOOKED:
  tasks:
    - EXTRACT
  hooks:
    success: ADD
    failure: LOAD
example.SLOW:
  tasks:
    - SLEEPY
    - EXTRACT
executors:
  EXTRACT: {type: command, argv: ["sh", "-c", "echo extracted; echo 1 > \"$BATON_RESULT\""]}
  TRANSFORM: {type: command, argv: ["sh", "-c", "echo 2 > \"$BATON_RESULT\""]}
  LOAD: {type: command, argv: ["sh", "-c", "echo 3 > \"$BATON_RESULT\""]}
  RANDOM: {type: command, argv: ["sh", "-c", "echo 5 > \"$BATON_RESULT\""]}
  ADD: {type: command, argv: ["sh", "-c", "cat > \"$BATON_RESULT\""]}
  SLEEPY: {type: command, argv: ["sh", "-c", "sleep 60"]}
"#;

impl Api {
    async fn start() -> Self {
        // Only the API holds the master key: the worker refuses to start with it.
        let app = TestApp::builder()
            .definitions(DEFINITIONS)
            .api_env("BATON_SIGNATURE_SKEW_SECS", "60")
            .api_env("BATON_BODY_LIMIT", "65536")
            .workers(1)
            .worker_env("BATON_BLOCK_MS", "200")
            .spawn()
            .await;
        Self {
            base: app.base().to_owned(),
            http: app.http().clone(),
            app,
        }
    }

    /// Runs `baton-api` with arguments against this API's Redis and returns its output.
    async fn cli(&self, args: &[&str]) -> (bool, String) {
        self.app.cli("baton-api", args).await
    }

    /// A signer for a key with `workflows.read` and `workflows.run`.
    async fn director(&self) -> Signer {
        let secret = self
            .key("director", "workflows.read,workflows.run", &[])
            .await;
        Signer::new("director", secret.into_bytes())
    }

    /// `POST /api/workflows` for `example.NAME` with `payload`.
    async fn start_workflow(&self, signer: &Signer, name: &str, payload: Value) -> Answer {
        let body = json!({"project": "example", "name": name, "payload": payload});
        self.send(Some(signer), "POST", "/api/workflows", Some(&body))
            .await
    }

    /// Creates a key and returns its secret (the last line the command prints).
    async fn key(&self, id: &str, permissions: &str, extra: &[&str]) -> String {
        self.app.create_key(id, permissions, extra).await
    }

    async fn send(
        &self,
        signer: Option<&Signer>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Answer {
        let body_bytes = body
            .map(|body| serde_json::to_vec(body).unwrap())
            .unwrap_or_default();
        self.send_raw(signer, method, path, &body_bytes, &[]).await
    }

    async fn send_raw(
        &self,
        signer: Option<&Signer>,
        method: &str,
        path: &str,
        body: &[u8],
        extra_headers: &[(&str, &str)],
    ) -> Answer {
        send_signed(
            &self.http,
            &self.base,
            signer,
            method,
            path,
            body,
            extra_headers,
        )
        .await
    }
}

async fn wait_for_status(api: &Api, signer: &Signer, id: &str, status: &str) -> Value {
    wait_for(
        Duration::from_secs(20),
        &format!("workflow {id} is {status}"),
        || async {
            let answer = api
                .send(Some(signer), "GET", &format!("/api/workflows/{id}"), None)
                .await;
            (answer.body["status"] == status).then_some(answer.body)
        },
    )
    .await
}

fn assert_workflow_shape(workflow: &Value) {
    for field in [
        "created", "fullname", "id", "name", "periodic", "project", "status", "updated",
    ] {
        assert!(
            workflow.get(field).is_some(),
            "missing '{field}' in {workflow}"
        );
    }
}

#[tokio::test]
async fn director_endpoints_happy_paths_with_the_seed_bodies() {
    let api = Api::start().await;
    let signer = api.director().await;

    let ping = api.send(None, "GET", "/api/ping", None).await;
    assert_eq!(
        (ping.status, ping.body.clone()),
        (200, json!({"message": "pong"}))
    );

    let definitions = api
        .send(Some(&signer), "GET", "/api/definitions", None)
        .await;
    assert_eq!(definitions.status, 200);
    let etl = definitions
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["fullname"] == "example.ETL")
        .unwrap()
        .clone();
    assert_eq!(etl["name"], "ETL");
    assert_eq!(etl["project"], "example");
    assert_eq!(etl["tasks"], json!(["EXTRACT", "TRANSFORM", "LOAD"]));
    assert_eq!(
        etl["periodic"],
        json!({"interval": 3600, "payload": {"dry_run": false}})
    );
    let randoms = definitions
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["fullname"] == "example.RANDOMS")
        .unwrap()
        .clone();
    assert_eq!(
        randoms["tasks"],
        json!([{"GROUP_RANDOMS": {"type": "group", "tasks": ["RANDOM", "RANDOM"]}}, "ADD"])
    );

    // The seed's example request.
    let created = api.start_workflow(&signer, "ETL", json!({})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_workflow_shape(&created.body);
    assert_eq!(created.body["fullname"], "example.ETL");
    assert_eq!(created.body["status"], "pending");
    assert_eq!(created.body["periodic"], false);
    assert_eq!(created.body["payload"], json!({}));
    let id = created.body["id"].as_str().unwrap().to_owned();

    let done = wait_for_status(&api, &signer, &id, "success").await;
    let tasks = done["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3);
    assert_eq!(tasks[0]["key"], "EXTRACT");
    assert_eq!(tasks[0]["previous"], json!([]));
    assert_eq!(tasks[1]["previous"], json!([tasks[0]["id"]]));
    assert_eq!(tasks[2]["previous"], json!([tasks[1]["id"]]));
    for task in tasks {
        assert_eq!(task["status"], "success");
        assert_eq!(task["task"], task["id"]);
        for field in ["created", "updated", "result", "is_hook"] {
            assert!(task.get(field).is_some(), "task without '{field}'");
        }
    }

    let relaunched = api
        .send(
            Some(&signer),
            "POST",
            &format!("/api/workflows/{id}/relaunch"),
            None,
        )
        .await;
    assert_eq!(relaunched.status, 201);
    assert_ne!(relaunched.body["id"], json!(id));
    assert_eq!(relaunched.body["payload"], json!({}));
    assert_eq!(relaunched.body["fullname"], "example.ETL");

    let listed = api.send(Some(&signer), "GET", "/api/workflows", None).await;
    assert_eq!(listed.status, 200);
    let listed = listed.body.as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], relaunched.body["id"], "newest first");
    assert!(
        listed
            .iter()
            .all(|workflow| workflow.get("tasks").is_none())
    );
    let without_payload = api
        .send(
            Some(&signer),
            "GET",
            "/api/workflows?with_payload=False",
            None,
        )
        .await;
    assert!(
        without_payload
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w.get("payload").is_none())
    );
}

#[tokio::test]
async fn a_group_dag_finishes_with_correct_previous_lists() {
    let api = Api::start().await;
    let signer = api.director().await;
    let created = api
        .start_workflow(&signer, "RANDOMS", json!({"n": 1}))
        .await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap();
    let done = wait_for_status(&api, &signer, id, "success").await;
    let tasks = done["tasks"].as_array().unwrap();
    let keys: Vec<&str> = tasks
        .iter()
        .map(|task| task["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["RANDOM", "RANDOM", "ADD"]);
    assert_eq!(tasks[0]["previous"], json!([]));
    assert_eq!(tasks[1]["previous"], json!([]));
    assert_eq!(
        tasks[2]["previous"],
        json!([tasks[0]["id"], tasks[1]["id"]])
    );
    assert_eq!(
        tasks[2]["result"]["parents"],
        json!([5, 5]),
        "the join sees both group results"
    );
}

#[tokio::test]
async fn cancel_stops_a_running_workflow() {
    let api = Api::start().await;
    let signer = api.director().await;
    let created = api.start_workflow(&signer, "SLOW", json!({})).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    wait_for_status(&api, &signer, &id, "progress").await;
    let canceled = api
        .send(
            Some(&signer),
            "POST",
            &format!("/api/workflows/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(canceled.status, 200);
    assert_eq!(canceled.body["status"], "canceled");
    assert!(
        canceled.body["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|task| task["status"] == "canceled")
    );
    let missing = api
        .send(Some(&signer), "POST", "/api/workflows/nope/cancel", None)
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"], "Workflow nope not found");
}

#[tokio::test]
async fn payload_schema_and_body_errors_are_clear_400s_and_unknown_names_404() {
    let api = Api::start().await;
    let signer = api.director().await;
    let post = |body: Value| {
        let api = &api;
        let signer = &signer;
        async move {
            api.send(Some(signer), "POST", "/api/workflows", Some(&body))
                .await
        }
    };
    let bad = post(json!({"project": "example", "name": "STRICT", "payload": {"source": 5}})).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["error"], "Payload is not valid");
    assert!(
        bad.body["errors"][0]
            .as_str()
            .unwrap()
            .contains("payload/source"),
        "{}",
        bad.body
    );
    let missing = post(json!({"project": "example", "name": "STRICT", "payload": {}})).await;
    assert_eq!(missing.status, 400);
    assert!(
        missing.body["errors"][0]
            .as_str()
            .unwrap()
            .contains("source")
    );
    let good =
        post(json!({"project": "example", "name": "STRICT", "payload": {"source": "s3"}})).await;
    assert_eq!(good.status, 201);

    let unknown = post(json!({"project": "example", "name": "NOPE", "payload": {}})).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["error"], "Workflow example.NOPE not found");
    let wrong_types = post(json!({"project": 1, "name": "ETL", "payload": []})).await;
    assert_eq!(wrong_types.status, 400);
    let extra = post(json!({"project": "example", "name": "ETL", "payload": {}, "x": 1})).await;
    assert_eq!(extra.status, 400);
    let malformed = api
        .send_raw(Some(&signer), "POST", "/api/workflows", b"{not json", &[])
        .await;
    assert_eq!(malformed.status, 400);
    assert!(malformed.body["error"].as_str().is_some());
    let unknown_id = api
        .send(Some(&signer), "GET", "/api/workflows/does-not-exist", None)
        .await;
    assert_eq!(unknown_id.status, 404);
    let unknown_route = api.send(Some(&signer), "GET", "/api/nothing", None).await;
    assert_eq!(unknown_route.status, 404);
    // Last: the server answers 413 without reading the body and closes the connection.
    let huge = vec![b'x'; 70_000];
    let too_big = api
        .send_raw(Some(&signer), "POST", "/api/workflows", &huge, &[])
        .await;
    assert_eq!(too_big.status, 413);
}

#[tokio::test]
async fn pagination_edges() {
    let api = Api::start().await;
    let signer = api.director().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let created = api.start_workflow(&signer, "ETL", json!({"n": n})).await;
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    ids.reverse();
    let page = |query: &str| {
        let api = &api;
        let signer = &signer;
        let path = format!("/api/workflows?{query}");
        async move { api.send(Some(signer), "GET", &path, None).await }
    };
    let ids_of = |answer: &Answer| -> Vec<String> {
        answer
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids_of(&page("per_page=2&page=1").await), ids[0..2]);
    assert_eq!(ids_of(&page("per_page=2&page=2").await), ids[2..4]);
    assert_eq!(ids_of(&page("per_page=2&page=3").await), ids[4..5]);
    assert!(ids_of(&page("per_page=2&page=4").await).is_empty());
    assert_eq!(ids_of(&page("per_page=1000").await).len(), 5);
    for bad in [
        "per_page=0",
        "per_page=-1",
        "per_page=abc",
        "page=0",
        "per_page=1001",
        "status=weird",
    ] {
        assert_eq!(page(bad).await.status, 400, "{bad}");
    }
    assert_eq!(ids_of(&page("name=ETL&per_page=3").await), ids[0..3]);
    assert!(ids_of(&page("name=RANDOMS").await).is_empty());
    assert_eq!(
        ids_of(&page("name=example.ETL&project=example").await).len(),
        5
    );
}

#[tokio::test]
async fn signatures_are_checked_strictly() {
    let api = Api::start().await;
    let secret = api.key("reader", "workflows.read", &[]).await;
    let reader = Signer::new("reader", secret.as_bytes().to_vec());
    let writer_secret = api.key("writer", "workflows.read,workflows.run", &[]).await;
    let writer = Signer::new("writer", writer_secret.as_bytes().to_vec());
    let body = json!({"project": "example", "name": "ETL", "payload": {}});

    // Missing, unknown key, wrong secret.
    let missing = api.send(None, "GET", "/api/workflows", None).await;
    assert_eq!(missing.status, 401);
    assert!(missing.body["error"].as_str().unwrap().contains("missing"));
    let unknown = Signer::new("ghost", b"whatever".to_vec());
    assert_eq!(
        api.send(Some(&unknown), "GET", "/api/workflows", None)
            .await
            .status,
        401
    );
    let wrong = Signer::new("reader", b"not-the-secret".to_vec());
    let answer = api.send(Some(&wrong), "GET", "/api/workflows", None).await;
    assert_eq!(answer.status, 401);
    assert!(
        answer.body["error"]
            .as_str()
            .unwrap()
            .contains("does not match")
    );

    // Missing permission: 403.
    let forbidden = api
        .send(Some(&reader), "POST", "/api/workflows", Some(&body))
        .await;
    assert_eq!(forbidden.status, 403);
    assert!(
        forbidden.body["error"]
            .as_str()
            .unwrap()
            .contains("workflows.run")
    );

    // Tampered body: the digest no longer matches.
    let method = reqwest::Method::POST;
    let mut headers = http::HeaderMap::new();
    let signed_body = serde_json::to_vec(&body).unwrap();
    writer.sign_request(
        &method,
        "/api/workflows",
        &mut headers,
        &signed_body,
        chrono::Utc::now(),
    );
    let tampered = api
        .http
        .post(format!("{}/api/workflows", api.base))
        .headers(headers.clone())
        .body(
            serde_json::to_vec(&json!({"project": "example", "name": "RANDOMS", "payload": {}}))
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status().as_u16(), 401);

    // Replay: the same signed request twice.
    let first = api
        .http
        .post(format!("{}/api/workflows", api.base))
        .headers(headers.clone())
        .body(signed_body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 201);
    let replay = api
        .http
        .post(format!("{}/api/workflows", api.base))
        .headers(headers)
        .body(signed_body)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status().as_u16(), 401);
    assert!(replay.text().await.unwrap().contains("replayed"));

    // Stale and future Date.
    for offset in [-3600, 3600] {
        let mut headers = http::HeaderMap::new();
        let when = chrono::Utc::now() + chrono::Duration::seconds(offset);
        reader.sign_request(
            &reqwest::Method::GET,
            "/api/workflows",
            &mut headers,
            b"",
            when,
        );
        let answer = api
            .http
            .get(format!("{}/api/workflows", api.base))
            .headers(headers)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 401, "Date off by {offset} s");
    }

    // A strict key refuses a date-only signature; a mismatched X-Api-Key is refused.
    let date_only = Signer::date_only("reader", secret.as_bytes().to_vec());
    assert_eq!(
        api.send(Some(&date_only), "GET", "/api/workflows", None)
            .await
            .status,
        401
    );
    let mismatch = api
        .send_raw(
            Some(&reader),
            "GET",
            "/api/workflows",
            b"",
            &[("x-api-key", "writer")],
        )
        .await;
    assert_eq!(mismatch.status, 401);

    // Revoked key.
    let (ok, _) = api.cli(&["keys", "revoke", "reader"]).await;
    assert!(ok);
    let revoked = api.send(Some(&reader), "GET", "/api/workflows", None).await;
    assert_eq!(revoked.status, 401);
    assert!(revoked.body["error"].as_str().unwrap().contains("revoked"));

    // The key list shows keys, never secrets.
    let (ok, listing) = api.cli(&["keys", "list"]).await;
    assert!(ok);
    assert!(listing.contains("\"writer\"") && !listing.contains(&writer_secret));
}

#[tokio::test]
async fn date_only_keys_accept_orchestra_style_signatures_and_still_refuse_replayed_changes() {
    let api = Api::start().await;
    let secret = api
        .key(
            "orchestra",
            "workflows.read,workflows.run",
            &["--allow-date-only"],
        )
        .await;
    let signer = Signer::date_only("orchestra", secret.as_bytes().to_vec());
    let ok = api
        .send_raw(
            Some(&signer),
            "GET",
            "/api/workflows",
            b"",
            &[("x-api-key", "orchestra")],
        )
        .await;
    assert_eq!(ok.status, 200);
    // Two different calls in the same second both pass.
    let other = api
        .send_raw(
            Some(&signer),
            "GET",
            "/api/definitions",
            b"",
            &[("x-api-key", "orchestra")],
        )
        .await;
    assert_eq!(other.status, 200);
    // The exact same read twice passes (clients poll); the exact same change twice is a replay.
    let send_twice = |method: reqwest::Method, path: &'static str, body: &'static [u8]| {
        let mut headers = http::HeaderMap::new();
        signer.sign_request(&method, path, &mut headers, body, chrono::Utc::now());
        headers.insert("x-api-key", "orchestra".parse().unwrap());
        headers.insert("content-type", "application/json".parse().unwrap());
        let request = api
            .http
            .request(method, format!("{}{path}", api.base))
            .headers(headers)
            .body(body);
        let repeat = request.try_clone().unwrap();
        async move {
            let first = request.send().await.unwrap().status().as_u16();
            let second = repeat.send().await.unwrap().status().as_u16();
            (first, second)
        }
    };
    assert_eq!(
        send_twice(reqwest::Method::GET, "/api/workflows?page=1", b"").await,
        (200, 200)
    );
    let body = br#"{"project": "example", "name": "ETL", "payload": {}}"#;
    assert_eq!(
        send_twice(reqwest::Method::POST, "/api/workflows", body).await,
        (201, 401)
    );
    let runs = api.send(Some(&signer), "GET", "/api/workflows", None).await;
    assert_eq!(runs.body.as_array().map(Vec::len), Some(1), "{runs:?}");
}

#[tokio::test]
async fn the_python_httpsig_client_is_accepted() {
    let api = Api::start().await;
    let secret = api
        .key("pyclient", "workflows.read,workflows.run", &[])
        .await;
    let orchestra = api
        .key("orchestra", "workflows.read", &["--allow-date-only"])
        .await;
    let script = r#"
import json, sys, requests
from httpsig.requests_auth import HTTPSignatureAuth
base, key_id, secret = sys.argv[1], sys.argv[2], sys.argv[3]
auth = HTTPSignatureAuth(key_id=key_id, secret=secret, algorithm="hmac-sha256",
                         headers=["(request-target)", "date", "digest"])
import base64, hashlib
from email.utils import formatdate
body = json.dumps({"project": "example", "name": "ETL", "payload": {"from": "python"}}).encode()
digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
r = requests.post(base + "/api/workflows", data=body, auth=auth,
                  headers={"Content-Type": "application/json", "Digest": digest,
                           "Date": formatdate(usegmt=True)})
print(r.status_code, r.text)
get_auth = HTTPSignatureAuth(key_id=key_id, secret=secret, algorithm="hmac-sha256",
                             headers=["(request-target)", "date"])
r2 = requests.get(base + "/api/workflows/" + r.json()["id"], auth=get_auth,
                  headers={"Date": formatdate(usegmt=True)})
print(r2.status_code)
# Orchestra's client: only `date` signed, no headers= parameter, X-Api-Key sent.
date_only = HTTPSignatureAuth(key_id=sys.argv[4], secret=sys.argv[5], algorithm="hmac-sha256")
r3 = requests.get(base + "/api/definitions", auth=date_only,
                  headers={"Date": formatdate(usegmt=True), "X-Api-Key": sys.argv[4], "X-Api-Version": "v1"})
print(r3.status_code)
"#;
    let output = python(
        script,
        &[&api.base, "pyclient", &secret, "orchestra", &orchestra],
    )
    .await;
    let lines: Vec<&str> = output.lines().collect();
    assert!(
        lines[0].starts_with("201 "),
        "python client refused: {output}"
    );
    assert_eq!(lines[1], "200", "python GET refused: {output}");
    assert_eq!(
        lines[2], "200",
        "Orchestra-style date-only signature refused: {output}"
    );
}

/// Writes `value` to a temporary JSON file, removed when dropped.
fn write_temp_json(value: &Value) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), value.to_string()).unwrap();
    file
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    let api = Api::start().await;
    let secret = api.key("ops", "admin", &[]).await;
    let admin = Signer::new("ops", secret.as_bytes().to_vec());
    let health = api.send(None, "GET", "/healthz", None).await;
    assert_eq!(health.status, 200);
    let created = api
        .send(
            Some(&admin),
            "POST",
            "/api/workflows",
            Some(&json!({"project": "example", "name": "ETL", "payload": {}})),
        )
        .await;
    wait_for_status(
        &api,
        &admin,
        created.body["id"].as_str().unwrap(),
        "success",
    )
    .await;
    let metrics = api.send(Some(&admin), "GET", "/metrics", None).await;
    assert_eq!(metrics.status, 200);
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains("baton_jobs_succeeded_total{queue=\"default\"} 3"),
        "{text}"
    );
    assert!(
        text.contains(
            "baton_http_requests_total{route=\"/api/workflows\",method=\"POST\",status=\"201\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("baton_workers 1"), "{text}");
    assert!(text.contains("baton_queue_waiting{queue=\"default\"}"));

    let document = api.send(Some(&admin), "GET", "/openapi.json", None).await;
    assert_eq!(document.status, 200);
    assert_eq!(document.body["openapi"], "3.0.3");
    // Every documented operation of this front and Baton's own is served (not 404/405); the
    // other fronts' tables are checked against their routers by the API's unit tests.
    let paths = document.body["paths"].as_object().unwrap();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let tag = operation["tags"][0].as_str().unwrap();
            if tag != "workflows" && tag != "baton" {
                continue;
            }
            let concrete = path.replace("{id}", created.body["id"].as_str().unwrap());
            let body = (method == "post" && path == "/api/workflows")
                .then(|| json!({"project": "example", "name": "ETL", "payload": {}}));
            let answer = api
                .send(
                    Some(&admin),
                    &method.to_uppercase(),
                    &concrete,
                    body.as_ref(),
                )
                .await;
            assert!(
                answer.status != 404 && answer.status != 405,
                "{method} {path} is documented but answers {}",
                answer.status
            );
        }
    }
    // Every front is documented, and the whole document is valid OpenAPI 3.
    for (path, method, tag) in [
        ("/api/workflows", "post", "workflows"),
        ("/api/v1/reports/{name}/run/", "post", "reports"),
        ("/releases/{id}/publish", "post", "releases"),
        ("/orchestra/api/project/create_project", "post", "projects"),
        ("/orchestra/api/tasks/{id}/submit", "post", "projects"),
    ] {
        assert_eq!(paths[path][method]["tags"][0], tag, "{method} {path}");
    }
    let validated = python(
        "import json, sys\n\
         from openapi_spec_validator import validate\n\
         validate(json.load(open(sys.argv[1])))\n\
         print('valid')\n",
        &[write_temp_json(&document.body).path().to_str().unwrap()],
    )
    .await;
    assert!(validated.contains("valid"), "{validated}");
    assert_eq!(
        api.send(Some(&admin), "DELETE", "/api/workflows", None)
            .await
            .status,
        405
    );
}

#[tokio::test]
async fn malformed_requests_never_cause_a_server_error() {
    let api = Api::start().await;
    let secret = api.key("fuzz", "admin", &[]).await;
    let signer = Signer::new("fuzz", secret.as_bytes().to_vec());
    let routes = [
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/api/ping"),
        ("GET", "/api/definitions"),
        ("GET", "/api/workflows"),
        ("POST", "/api/workflows"),
        ("GET", "/api/workflows/x"),
        ("POST", "/api/workflows/x/relaunch"),
        ("POST", "/api/workflows/x/cancel"),
    ];
    let bodies: [&[u8]; 8] = [
        b"",
        b"{",
        b"null",
        b"[1,2,3]",
        b"\"text\"",
        b"{\"project\": {\"a\": 1}, \"name\": [], \"payload\": 7}",
        b"\xff\xfe\x00garbage",
        b"{\"project\":\"example\",\"name\":\"ETL\",\"payload\":{\"deep\":[[[[[[[[[[]]]]]]]]]]}}",
    ];
    let headers: [&[(&str, &str)]; 5] = [
        &[],
        &[("authorization", "Signature")],
        &[(
            "authorization",
            "Signature keyId=\"fuzz\",signature=\"%%%\"",
        )],
        &[("signature", "keyId=,headers=\"date\",signature=\"\"")],
        &[("date", "yesterday"), ("digest", "MD5=abc")],
    ];
    let mut seen = 0;
    for (method, path) in routes {
        for body in bodies {
            for extra in headers {
                let answer = api.send_raw(None, method, path, body, extra).await;
                assert!(
                    answer.status < 500,
                    "{method} {path} with {extra:?} answered {}",
                    answer.status
                );
                let signed = api.send_raw(Some(&signer), method, path, body, &[]).await;
                assert!(
                    signed.status < 500,
                    "signed {method} {path} answered {}: {}",
                    signed.status,
                    signed.body
                );
                seen += 2;
            }
        }
    }
    for path in [
        "/api/workflows/%ZZ",
        "/api/workflows?per_page=%FF",
        "/../../etc/passwd",
        "/api/workflows/a/b/c/d",
    ] {
        let answer = api.send_raw(Some(&signer), "GET", path, b"", &[]).await;
        assert!(answer.status < 500, "{path}: {}", answer.status);
    }
    assert!(seen > 700);
    let _ = Path::new("/");
}

#[tokio::test]
async fn periodic_workflows_are_fired_by_the_scheduler_and_marked_periodic() {
    let mut api = Api::start().await;
    let secret = api.key("director", "workflows.read", &[]).await;
    let signer = Signer::new("director", secret.as_bytes().to_vec());
    // example.ETL fires every hour: the scheduler fires its current slot at once.
    api.app.start_scheduler(&[("BATON_TICK_MS", "100")]);
    let periodic = wait_for(
        Duration::from_secs(15),
        "a periodic ETL run appears",
        || async {
            let answer = api
                .send(Some(&signer), "GET", "/api/workflows?name=ETL", None)
                .await;
            answer
                .body
                .as_array()
                .and_then(|runs| runs.first().cloned())
        },
    )
    .await;
    assert_eq!(periodic["periodic"], true);
    assert_eq!(periodic["payload"], json!({"dry_run": false}));
    assert_eq!(periodic["fullname"], "example.ETL");
}

#[tokio::test]
async fn an_invalid_definition_file_stops_the_server_with_file_and_line() {
    let app = TestApp::builder().api(false).spawn().await;
    let log = app
        .refused_api(
            &[
                ("good.yml", "p.A:\n  tasks: [noop]\n"),
                ("broken.yml", "p.B:\n  tasks:\n    - G: {type: group}\n"),
            ],
            &[],
        )
        .await;
    assert!(
        log.contains("broken.yml:1") && log.contains("group 'G' has no tasks"),
        "{log}"
    );
}

#[tokio::test]
async fn hooks_run_after_the_workflow_and_show_as_hook_tasks() {
    let api = Api::start().await;
    let signer = api.director().await;
    let created = api.start_workflow(&signer, "HOOKED", json!({})).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let done = wait_for(Duration::from_secs(20), "the success hook ran", || async {
        let answer = api
            .send(Some(&signer), "GET", &format!("/api/workflows/{id}"), None)
            .await;
        let tasks = answer.body["tasks"].as_array().cloned().unwrap_or_default();
        (answer.body["status"] == "success"
            && tasks
                .iter()
                .any(|t| t["is_hook"] == true && t["status"] == "success"))
        .then_some(answer.body)
    })
    .await;
    let tasks = done["tasks"].as_array().unwrap();
    assert_eq!(
        tasks.len(),
        2,
        "the failure hook that never ran is not listed: {done}"
    );
    assert_eq!(tasks[1]["key"], "ADD");
    assert_eq!(tasks[1]["is_hook"], true);
    assert_eq!(tasks[1]["previous"], json!([tasks[0]["id"]]));
    assert_eq!(
        tasks[1]["result"]["parents"],
        json!([1]),
        "the hook receives the workflow's result"
    );
}
