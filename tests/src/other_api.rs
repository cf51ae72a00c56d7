//! Another `baton-api` on a test app's Redis, started with definition files of its own: how
//! the tests see what a server does with the definitions it is given (refuse them at their
//! line, agree with the published set, replace it).

use std::time::Duration;

use crate::TestApp;
use crate::process::BatonProcess;

/// How long a server given bad or conflicting definitions may take to exit.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(15);

/// A `baton-api` started with its own definitions directory, kept while it runs.
#[derive(Debug)]
pub struct OtherApi {
    /// The server.
    pub process: BatonProcess,
    /// Its definitions directory.
    pub definitions: tempfile::TempDir,
}

impl TestApp {
    /// Starts another `baton-api` on this app's Redis, listening on a free port, with the
    /// definition `files` (file name, YAML) in a new directory, and `extra` environment.
    pub fn other_api(&self, files: &[(&str, &str)], extra: &[(&str, &str)]) -> OtherApi {
        let definitions = tempfile::tempdir().expect("a temporary directory");
        for (name, yaml) in files {
            std::fs::write(definitions.path().join(name), yaml).expect("a definition file");
        }
        let dir = definitions.path().display().to_string();
        let mut env = vec![
            ("BATON_LISTEN", "127.0.0.1:0"),
            ("BATON_DEFINITIONS", dir.as_str()),
        ];
        env.extend_from_slice(extra);
        OtherApi {
            process: self.spawn_process("baton-api", &[], &env),
            definitions,
        }
    }

    /// Starts another `baton-api` as [`TestApp::other_api`] does, expects it to refuse to start
    /// (exit unsuccessfully) and returns its log.
    pub async fn refused_api(&self, files: &[(&str, &str)], extra: &[(&str, &str)]) -> String {
        let mut api = self.other_api(files, extra);
        let status = api
            .process
            .wait_exit_async(REFUSAL_TIMEOUT)
            .await
            .unwrap_or_else(|| panic!("the server kept running: {}", api.process.log()));
        assert!(!status.success(), "{}", api.process.log());
        api.process.log()
    }
}
