//! Running the `baton` command against a [`TestApp`]'s API, signed with a given key, and
//! reading what it printed and how it exited.

use std::time::Duration;

use serde_json::Value;

use crate::app::TestApp;
use crate::process::binary_path;

/// How long one `baton` command may run.
const BATON_TIMEOUT: Duration = Duration::from_secs(90);

/// How a `baton` command ended.
#[derive(Debug, Clone)]
pub struct BatonOutput {
    /// Its exit status (`None` when killed by a signal).
    pub code: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl BatonOutput {
    /// Stdout read as one JSON document.
    ///
    /// Panics, with the output, when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("`baton` printed no JSON ({error}): {self:?}"))
    }

    /// Stdout read as one JSON document a line.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"))
            })
            .collect()
    }
}

/// Runs `baton args` against `base`, signed with `key_id` and `secret` from the environment
/// (`BATON_URL`, `BATON_KEY_ID`, `BATON_SECRET`; no config file is read), with `extra`
/// environment winning.
///
/// Panics when it runs longer than 90 s.
pub async fn run_baton(
    base: &str,
    key_id: &str,
    secret: &str,
    args: &[&str],
    extra: &[(&str, &str)],
) -> BatonOutput {
    let mut command = tokio::process::Command::new(binary_path("baton"));
    command
        .args(args)
        .env_remove("BATON_PROFILE")
        .env("BATON_URL", base)
        .env("BATON_KEY_ID", key_id)
        .env("BATON_SECRET", secret)
        .env("BATON_CONFIG", "/nonexistent/baton/config.toml")
        .kill_on_drop(true);
    for (name, value) in extra {
        command.env(name, value);
    }
    let output = tokio::time::timeout(BATON_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("`baton {args:?}` did not end within {BATON_TIMEOUT:?}"))
        .unwrap_or_else(|error| panic!("cannot run `baton`: {error}"));
    BatonOutput {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl TestApp {
    /// Runs `baton args` against the app's API, signed with `key_id` and `secret` (see
    /// [`run_baton`]).
    pub async fn baton(&self, key_id: &str, secret: &str, args: &[&str]) -> BatonOutput {
        run_baton(self.base(), key_id, secret, args, &[]).await
    }

    /// Runs `baton args` signed with the admin key.
    pub async fn baton_admin(&self, args: &[&str]) -> BatonOutput {
        let secret = self.admin_secret().await;
        run_baton(self.base(), crate::app::ADMIN_KEY_ID, &secret, args, &[]).await
    }
}
