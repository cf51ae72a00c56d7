//! What scripts and tasks can reach: report scripts and `command` tasks see an explicit
//! environment with none of the worker's secrets, report parameters cannot shadow the
//! variables programs read as configuration, only the API holds the master key, and Redis is
//! reached with a password and over TLS, the password never shown.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use baton_tests::process::BatonProcess;
use baton_tests::signed_http::{Answer, free_port, send_signed};
use baton_tests::wait::wait_for;
use baton_tests::{TestApp, TestAppBuilder, unique_prefix};
use common::auth::signing::sign::Signer;
use common::config::RedisTlsOptions;
use common::test_support::{git, write_file};
use serde_json::{Value, json};
use tempfile::TempDir;

const MASTER_KEY: &str = "environment-test-master-key-0123456789";
/// The Redis password every process but the refused ones is given.
const REDIS_PASSWORD: &str = "redis-password-5b1c0e9f";
/// Cloud credentials the worker holds for its artefact store.
const AWS_SECRET: &str = "aws-secret-9d3e7a41c2";
const AWS_KEY_ID: &str = "AKIAENVIRONMENTTEST";
/// Any other setting of the worker's.
const WORKER_SETTING: &str = "worker-only-setting-77f0";

const DEFINITIONS: &str = r#"security.ENV:
  tasks:
    - PRINT_ENV
executors:
  PRINT_ENV: {type: command, argv: ["env"], env: {GIVEN: "by-the-spec"}}
"#;

/// A report that prints its environment, and one that declares parameters shadowing it.
fn reports_repository(dir: &Path) {
    git(dir, &["init", "-q", "-b", "master"]);
    write_file(
        dir,
        "src/envdump/orderly.yml",
        "script: run.sh\nparameters:\n  nmin: ~\nartefacts:\n  - data: {description: Out, filenames: out.txt}\n",
        false,
    );
    write_file(
        dir,
        "src/envdump/run.sh",
        "#!/bin/sh\nenv\necho done > out.txt\n",
        true,
    );
    write_file(
        dir,
        "src/shadow/orderly.yml",
        "script: run.sh\nparameters:\n  PATH: {default: /usr/bin}\n  LD_PRELOAD: {default: ''}\nartefacts:\n  - data: {description: Out, filenames: out.txt}\n",
        false,
    );
    write_file(
        dir,
        "src/shadow/run.sh",
        "#!/bin/sh\necho done > out.txt\n",
        true,
    );
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "reports"]);
}

/// How a test's Redis is reached: the settings of a deployment on it.
struct Redis {
    /// A deployment's settings, pointing at this Redis.
    builder: TestAppBuilder,
    /// Certificates, kept while the server runs.
    certificates: Option<TempDir>,
}

impl Redis {
    /// A server that requires [`REDIS_PASSWORD`] of every new connection.
    fn with_password() -> Self {
        Self {
            builder: TestApp::builder().redis_password(REDIS_PASSWORD),
            certificates: None,
        }
    }

    /// A server that also listens with TLS, authenticating clients by certificate, all signed
    /// by a CA made here; the URL is the `rediss://` one, with the password.
    fn with_tls_and_password() -> Self {
        let certificates = tempfile::tempdir().unwrap();
        make_certificates(certificates.path());
        let file = |name: &str| certificates.path().join(name).display().to_string();
        let tls_port = free_port().to_string();
        let builder = TestApp::builder()
            .redis_args(&[
                "--tls-port",
                &tls_port,
                "--tls-cert-file",
                &file("server.crt"),
                "--tls-key-file",
                &file("server.key"),
                "--tls-ca-cert-file",
                &file("ca.crt"),
                "--tls-auth-clients",
                "yes",
            ])
            .redis_password(REDIS_PASSWORD)
            .redis_url(&format!("rediss://:{REDIS_PASSWORD}@127.0.0.1:{tls_port}"))
            .redis_tls(RedisTlsOptions {
                redis_ca_cert: Some(certificates.path().join("ca.crt")),
                redis_client_cert: Some(certificates.path().join("client.crt")),
                redis_client_key: Some(certificates.path().join("client.key")),
            });
        Self {
            builder,
            certificates: Some(certificates),
        }
    }
}

/// A CA, and a server certificate (for 127.0.0.1) and a client certificate it signed, made
/// with the openssl command.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=Baton test CA",
    ]);
    for (name, extensions) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN=baton-test-{name}"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &format!("{name}.crt"),
            "-extfile",
            &format!("{name}.ext"),
        ]);
    }
}

/// A deployment: Redis, the API, a worker holding secrets, and a scheduler.
struct Deployment {
    app: TestApp,
    base: String,
    http: reqwest::Client,
    _repo: TempDir,
    _certificates: Option<TempDir>,
}

impl Deployment {
    async fn start(redis: Redis) -> Self {
        let repo = tempfile::tempdir().unwrap();
        reports_repository(repo.path());
        let app = redis
            .builder
            .master_key(MASTER_KEY)
            .definitions(DEFINITIONS)
            .reports_repo(repo.path())
            .workers(1)
            .worker_env("BATON_BLOCK_MS", "200")
            .worker_env("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
            .worker_env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
            .worker_env("BATON_WORKER_SETTING", WORKER_SETTING)
            .scheduler(true)
            .scheduler_env("BATON_TICK_MS", "100")
            .spawn()
            .await;
        Self {
            base: app.base().to_owned(),
            http: app.http().clone(),
            app,
            _repo: repo,
            _certificates: redis.certificates,
        }
    }

    /// Runs `baton-api ARGS` against this deployment and returns the last line it printed.
    async fn api_command(&self, args: &[&str]) -> String {
        let (ok, output) = self.app.cli("baton-api", args).await;
        assert!(ok, "the command failed: {output}");
        output.lines().last().unwrap_or_default().trim().to_owned()
    }

    /// A signer for a key with `workflows.read` and `workflows.run`.
    async fn director(&self) -> Signer {
        let secret = self
            .api_command(&[
                "keys",
                "create",
                "director",
                "--permissions",
                "workflows.read,workflows.run",
            ])
            .await;
        Signer::new("director", secret.into_bytes())
    }

    /// A bearer token of a user who may run reports.
    async fn report_runner(&self) -> String {
        let token = self
            .api_command(&[
                "tokens",
                "create",
                "runner",
                "--permissions",
                "reports.read,reports.run",
            ])
            .await;
        let login = self
            .send(
                None,
                "POST",
                "/api/v1/login/",
                &[],
                &[("authorization", &format!("token {token}"))],
            )
            .await;
        assert_eq!(login.status, 200, "{}", login.body);
        login.body["access_token"].as_str().unwrap().to_owned()
    }

    async fn send(
        &self,
        signer: Option<&Signer>,
        method: &str,
        path: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Answer {
        send_signed(&self.http, &self.base, signer, method, path, body, headers).await
    }

    /// A reports request with a bearer token.
    async fn reports_call(&self, token: &str, method: &str, path: &str, body: Value) -> Answer {
        let bearer = format!("Bearer {token}");
        let body = serde_json::to_vec(&body).unwrap();
        self.send(None, method, path, &body, &[("authorization", &bearer)])
            .await
    }

    /// Runs workflow `security.NAME` to success and returns its log lines.
    async fn workflow_log(&self, signer: &Signer, name: &str) -> Vec<String> {
        let body = serde_json::to_vec(&json!({"project": "security", "name": name, "payload": {}}))
            .unwrap();
        let started = self
            .send(Some(signer), "POST", "/api/workflows", &body, &[])
            .await;
        assert_eq!(started.status, 201, "{}", started.body);
        let id = started.body["id"].as_str().unwrap().to_owned();
        wait_for(
            Duration::from_secs(30),
            &format!("workflow {id} succeeds"),
            || async {
                let answer = self
                    .send(
                        Some(signer),
                        "GET",
                        &format!("/api/workflows/{id}"),
                        &[],
                        &[],
                    )
                    .await;
                assert_ne!(answer.body["status"], "error", "{}", answer.body);
                (answer.body["status"] == "success").then_some(())
            },
        )
        .await;
        let store = self.app.store().await;
        store
            .read_log(&id, None, None, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|line| line.line)
            .collect()
    }

    /// Runs report `name` with `params` to success and returns its output lines.
    async fn report_output(&self, token: &str, name: &str, params: Value) -> Vec<String> {
        let started = self
            .reports_call(
                token,
                "POST",
                &format!("/api/v1/reports/{name}/run/"),
                json!({"params": params}),
            )
            .await;
        assert_eq!(started.status, 200, "{}", started.body);
        let key = started.body["data"]["key"].as_str().unwrap().to_owned();
        let status = wait_for(
            Duration::from_secs(30),
            &format!("report run {key} succeeds"),
            || async {
                let bearer = format!("Bearer {token}");
                let answer = self
                    .send(
                        None,
                        "GET",
                        &format!("/api/v1/reports/{key}/status/?output=true"),
                        &[],
                        &[("authorization", &bearer)],
                    )
                    .await;
                let data = &answer.body["data"];
                assert_ne!(data["status"], "error", "{}", answer.body);
                (data["status"] == "success").then(|| data.clone())
            },
        )
        .await;
        status["output"]
            .as_array()
            .expect("the output lines")
            .iter()
            .map(|line| line.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The logs of the API, the worker and the scheduler.
    fn logs(&self) -> String {
        let processes = [self.app.api_process(), &self.app.workers()[0]];
        processes
            .into_iter()
            .chain(self.app.scheduler())
            .map(|process| process.log())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Asserts that an environment printed by `env` holds none of the worker's secrets and
/// settings, and holds `PATH` and each of `expected` (`NAME=value`).
fn assert_clean_environment(lines: &[String], expected: &[&str]) {
    let text = lines.join("\n");
    for secret in [
        REDIS_PASSWORD,
        AWS_SECRET,
        AWS_KEY_ID,
        WORKER_SETTING,
        MASTER_KEY,
    ] {
        assert!(!text.contains(secret), "'{secret}' leaked into:\n{text}");
    }
    for name in [
        "BATON_REDIS_URL=",
        "AWS_SECRET_ACCESS_KEY=",
        "AWS_ACCESS_KEY_ID=",
        "BATON_WORKER_SETTING=",
        "BATON_PREFIX=",
        "BATON_ARTEFACTS=",
        "BATON_REPORTS_REPO=",
        "RUST_LOG=",
    ] {
        assert!(
            !lines.iter().any(|line| line.starts_with(name)),
            "{name} leaked into:\n{text}"
        );
    }
    assert!(
        lines.iter().any(|line| line.starts_with("PATH=")),
        "no PATH in:\n{text}"
    );
    for wanted in expected {
        assert!(
            lines.iter().any(|line| line == wanted),
            "no {wanted} in:\n{text}"
        );
    }
}

#[tokio::test]
async fn a_report_script_that_prints_its_environment_shows_none_of_the_workers_secrets() {
    let deployment = Deployment::start(Redis::with_password()).await;
    let token = deployment.report_runner().await;
    let output = deployment
        .report_output(&token, "envdump", json!({"nmin": 3}))
        .await;
    assert_clean_environment(&output, &["nmin=3"]);
    assert!(
        output
            .iter()
            .any(|line| line.starts_with("ORDERLY_VERSION=")),
        "{output:?}"
    );
}

#[tokio::test]
async fn a_workflow_command_that_prints_env_shows_none_of_the_workers_secrets() {
    let deployment = Deployment::start(Redis::with_password()).await;
    let signer = deployment.director().await;
    let log = deployment.workflow_log(&signer, "ENV").await;
    assert_clean_environment(&log, &["GIVEN=by-the-spec"]);
    assert!(
        log.iter().any(|line| line.starts_with("BATON_RESULT=")),
        "{log:?}"
    );
}

#[tokio::test]
async fn report_parameters_that_would_shadow_the_environment_are_refused() {
    let deployment = Deployment::start(Redis::with_password()).await;
    let token = deployment.report_runner().await;
    for (report, params) in [
        ("shadow", json!({"LD_PRELOAD": "/tmp/evil.so"})),
        ("shadow", json!({"PATH": "/tmp/evil"})),
        ("envdump", json!({"nmin": 1, "LD_PRELOAD": "/tmp/evil.so"})),
        ("envdump", json!({"nmin": 1, "BATON_PAYLOAD": "forged"})),
        ("envdump", json!({"nmin": 1, "x=y": 1})),
    ] {
        for path in [
            format!("/api/v1/reports/{report}/run/"),
            format!("/api/v1/bundle/pack/{report}/"),
        ] {
            let answer = deployment
                .reports_call(&token, "POST", &path, json!({"params": params}))
                .await;
            assert_eq!(answer.status, 400, "{path} {params}: {}", answer.body);
            assert_eq!(answer.body["status"], "failure", "{}", answer.body);
            let message = answer.body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default();
            assert!(
                message.contains("parameter name '"),
                "{path} {params}: {message}"
            );
        }
    }
}

#[tokio::test]
async fn workers_and_the_scheduler_refuse_to_start_with_the_master_key() {
    let app = Redis::with_password().builder.api(false).spawn().await;
    for binary in ["baton-worker", "baton-scheduler"] {
        let mut process = app.spawn_process(binary, &[], &[("BATON_MASTER_KEY", MASTER_KEY)]);
        let status = process
            .wait_exit_async(Duration::from_secs(15))
            .await
            .unwrap_or_else(|| panic!("{binary} started with the master key"));
        assert!(!status.success(), "{binary}: {status}");
        let log = process.log();
        assert!(
            log.contains("BATON_MASTER_KEY is set"),
            "{binary} did not name the variable: {log}"
        );
        assert!(!log.contains(MASTER_KEY), "{binary} logged the key: {log}");
    }
}

/// The whole engine (API, scheduler, worker; workflows and reports) against `redis`; no
/// process shows the password, even in `--help`. Gives the deployment back, still running.
async fn the_engine_works_against(redis: Redis) -> TestApp {
    let deployment = Deployment::start(redis).await;
    let signer = deployment.director().await;
    let log = deployment.workflow_log(&signer, "ENV").await;
    assert!(
        log.iter().any(|line| line == "GIVEN=by-the-spec"),
        "{log:?}"
    );
    let token = deployment.report_runner().await;
    let output = deployment
        .report_output(&token, "envdump", json!({"nmin": 5}))
        .await;
    assert!(output.iter().any(|line| line == "nmin=5"), "{output:?}");

    let logs = deployment.logs();
    assert!(
        !logs.contains(REDIS_PASSWORD),
        "a log shows the password:\n{logs}"
    );
    assert!(
        logs.contains(":***@127.0.0.1"),
        "no masked URL logged:\n{logs}"
    );
    for binary in ["baton-api", "baton-worker", "baton-scheduler"] {
        let mut help =
            deployment
                .app
                .spawn_process(binary, &["--help"], &[("BATON_MASTER_KEY", MASTER_KEY)]);
        help.wait_exit_async(Duration::from_secs(15))
            .await
            .expect("--help ends");
        let text = help.log();
        assert!(text.contains("BATON_REDIS_URL"), "{binary} --help: {text}");
        assert!(
            !text.contains(REDIS_PASSWORD),
            "{binary} --help shows the password: {text}"
        );
    }
    deployment.app
}

#[tokio::test]
async fn the_engine_works_against_a_redis_that_requires_a_password_and_not_without_it() {
    let app = the_engine_works_against(Redis::with_password()).await;
    let port = app.redis().port();

    for (url, answer) in [
        (format!("redis://127.0.0.1:{port}"), "auth"),
        (
            format!("redis://:wrong-password-31c4@127.0.0.1:{port}"),
            "auth",
        ),
    ] {
        let prefix = unique_prefix();
        let env = [("BATON_REDIS_URL", url.as_str()), ("BATON_PREFIX", &prefix)];
        let mut worker = BatonProcess::spawn("baton-worker", &[], &env);
        let status = worker
            .wait_exit_async(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("a worker started with {url}"));
        assert!(!status.success());
        let log = worker.log();
        assert!(log.to_lowercase().contains(answer), "{url}: {log}");
        assert!(!log.contains("wrong-password-31c4"), "{log}");
    }
}

#[tokio::test]
async fn the_engine_works_over_tls_with_a_password_and_client_certificates() {
    let app = the_engine_works_against(Redis::with_tls_and_password()).await;
    let plain = app.redis_url().replace("rediss://", "redis://");

    // The TLS port speaks nothing but TLS. (Its resets look like a Redis that is away, which
    // a starting service waits for: this one is told not to.)
    let prefix = unique_prefix();
    let env = [
        ("BATON_REDIS_URL", plain.as_str()),
        ("BATON_PREFIX", &prefix),
        ("BATON_CONNECT_PATIENCE_SECS", "0"),
    ];
    let mut worker = BatonProcess::spawn("baton-worker", &[], &env);
    let status = worker
        .wait_exit_async(Duration::from_secs(20))
        .await
        .expect("a worker without TLS gives up");
    assert!(!status.success(), "{}", worker.log());
}
