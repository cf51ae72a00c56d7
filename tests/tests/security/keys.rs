//! Keys, secrets and logins: a weak master key or a short secret is refused, and logins are
//! throttled per user and per address.

use std::time::Duration;

use baton_tests::{BatonProcess, TestApp};

/// A passphrase long enough to be stretched into a master key.
const MASTER_KEY: &str = "the-security-tests-master-key";

/// One Redis and the environment every `baton-api` of a test shares.
struct Deployment {
    app: TestApp,
}

impl Deployment {
    /// Redis and settings only: each test starts its own `baton-api` processes.
    async fn new() -> Self {
        let app = TestApp::builder()
            .api(false)
            .master_key(MASTER_KEY)
            .spawn()
            .await;
        Self { app }
    }

    fn spawn(&self, args: &[&str], extra: &[(&str, &str)]) -> BatonProcess {
        self.app.spawn_process("baton-api", args, extra)
    }

    /// Runs a `baton-api` command; returns whether it succeeded and its output.
    async fn cli(&self, args: &[&str], extra: &[(&str, &str)]) -> (bool, String) {
        self.app.cli_with("baton-api", args, extra).await
    }
}

#[tokio::test]
async fn a_short_master_key_is_refused_by_the_server_and_the_key_commands() {
    let deployment = Deployment::new().await;
    for weak in ["abc", "sixteen-chars-ok", "twenty-three-characters"] {
        let mut api = deployment.spawn(
            &[],
            &[("BATON_MASTER_KEY", weak), ("BATON_LISTEN", "127.0.0.1:0")],
        );
        let status = api
            .wait_exit_async(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("baton-api served with the master key {weak:?}"));
        assert!(!status.success());
        assert!(api.log().contains("64 hex characters"), "{}", api.log());

        let (ok, output) = deployment
            .cli(
                &["keys", "create", "ops", "--permissions", "admin"],
                &[("BATON_MASTER_KEY", weak)],
            )
            .await;
        assert!(
            !ok,
            "a key was created under the master key {weak:?}: {output}"
        );
    }
    // A random key (64 hex characters) and a long passphrase both serve.
    let random = "8f4c2b7a1e9d3c6f0a5b8e2d7c4f1a9b3e6d0c8f2a5b7e1d4c9f3a6b0e8d2c5f";
    for good in [random, MASTER_KEY] {
        let (ok, output) = deployment
            .cli(
                &["keys", "create", "ops", "--permissions", "admin"],
                &[("BATON_MASTER_KEY", good)],
            )
            .await;
        assert!(ok, "{output}");
        let mut redis = deployment.app.redis().connection().await;
        let _: () = redis::cmd("FLUSHALL")
            .query_async(&mut redis)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_short_secret_is_refused_and_generated_ones_are_256_bits() {
    let deployment = Deployment::new().await;
    for short in ["abc", "twenty-three-characters"] {
        let (ok, output) = deployment
            .cli(
                &[
                    "keys",
                    "create",
                    "ops",
                    "--permissions",
                    "admin",
                    "--secret",
                    short,
                ],
                &[],
            )
            .await;
        assert!(!ok, "a key was created with the secret {short:?}: {output}");
        assert!(output.contains("at least 24 characters"), "{output}");
    }

    let (ok, output) = deployment
        .cli(&["keys", "create", "ops", "--permissions", "admin"], &[])
        .await;
    assert!(ok, "{output}");
    let secret = output.lines().last().unwrap().trim();
    // 32 random bytes in unpadded base64.
    assert_eq!(secret.len(), 43, "{secret}");
}

/// A serving API (with `extra` settings) and a user `reader`: the deployment, its API's base
/// URL and the reader's user token.
async fn serving_a_reader(extra: &[(&str, &str)]) -> (TestApp, String, String) {
    let mut builder = TestApp::builder().master_key(MASTER_KEY);
    for (name, value) in extra {
        builder = builder.api_env(name, value);
    }
    let app = builder.spawn().await;
    let token = app.create_token("reader", "reports.read").await;
    let base = app.base().to_owned();
    (app, base, token)
}

/// Answers `POST /api/v1/login/` with `token`: the status and `Retry-After`, if any.
async fn login(http: &reqwest::Client, base: &str, token: &str) -> (u16, Option<String>) {
    let response = http
        .post(format!("{base}/api/v1/login/"))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .expect("the API answers");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    (response.status().as_u16(), retry_after)
}

#[tokio::test]
async fn logins_are_throttled_per_user_and_per_address() {
    let (app, base, token) = serving_a_reader(&[
        ("BATON_LOGIN_ATTEMPTS_PER_USER", "3"),
        ("BATON_LOGIN_ATTEMPTS_PER_ADDRESS", "8"),
    ])
    .await;
    let http = reqwest::Client::new();

    // A guesser gets three tries at one user; then even the right token waits for the window.
    for _ in 0..3 {
        assert_eq!(login(&http, &base, "reader:wrong-guess").await.0, 401);
    }
    let (status, retry_after) = login(&http, &base, "reader:another-guess").await;
    assert_eq!(status, 429);
    let retry_after: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(login(&http, &base, &token).await.0, 429);

    // Unknown users are answered as known ones are, and count against the address: three more
    // make the eight this address may try; a ninth is refused, whichever user it names.
    for user in ["nobody-1", "nobody-2", "nobody-3"] {
        assert_eq!(login(&http, &base, &format!("{user}:guess")).await.0, 401);
    }
    assert_eq!(login(&http, &base, "nobody-4:guess").await.0, 429);
    // The address counted is the client's own.
    let mut redis = app.redis().connection().await;
    let from_loopback: Option<u64> = redis::cmd("GET")
        .arg(format!("{}:{{auth}}:login:addr:127.0.0.1", app.prefix()))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(from_loopback, Some(9));
}

#[tokio::test]
async fn a_right_token_logs_in_and_unknown_and_known_users_are_refused_alike() {
    let (_app, base, token) = serving_a_reader(&[]).await;
    let http = reqwest::Client::new();

    let known = http
        .post(format!("{base}/api/v1/login/"))
        .header("authorization", "token reader:wrong-secret")
        .send()
        .await
        .unwrap();
    let unknown = http
        .post(format!("{base}/api/v1/login/"))
        .header("authorization", "token stranger:wrong-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(known.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(login(&http, &base, &token).await.0, 200);
}
