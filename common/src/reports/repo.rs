//! The git repository of reports: what reports exist at a commit, their `orderly.yml`, a
//! report's files exported into a fresh directory for one run, and the repository's status,
//! fetch and pull. It drives the `git` program, so every git feature and transport works.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::InvalidInput;
use crate::reports::config::ReportConfig;
use crate::reports::databases::{Databases, ORDERLY_CONFIG};
use crate::reports::globals;

/// Why a repository operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    /// The branch, commit or report does not exist, or a name is invalid.
    #[error("{0}")]
    NotFound(String),
    /// The repository's `orderly_config.yml` is broken (its databases or its global
    /// resources folder).
    #[error("{0}")]
    BadDatabases(String),
    /// The report's `orderly.yml` is broken.
    #[error("report '{report}': {message}")]
    BadConfig {
        /// The report.
        report: String,
        /// What is wrong.
        message: String,
    },
    /// git failed.
    #[error("git {command}: {message}")]
    Git {
        /// The git subcommand.
        command: String,
        /// What git said.
        message: String,
    },
}

/// What `git status` shows, as OrderlyWeb reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitStatus {
    /// The checked-out branch (`None` when detached).
    pub branch: Option<String>,
    /// The checked-out commit, abbreviated.
    pub hash: String,
    /// `git status --porcelain` lines.
    pub output: Vec<String>,
}

/// A commit as a run form offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSummary {
    /// The full hash.
    pub hash: String,
    /// The committer's date, `YYYY-MM-DD HH:MM:SS` in UTC.
    pub date: String,
    /// The first line of its message.
    pub subject: String,
}

/// A git repository of reports (`src/<name>/orderly.yml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportsRepo {
    path: PathBuf,
}

/// A report name: letters, digits, `_`, `-` and `.`, not starting with a dot.
pub fn valid_report_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A branch or commit name safe to hand to git (no option-like or range syntax).
fn valid_revision(revision: &str) -> bool {
    !revision.is_empty()
        && revision.len() <= 200
        && !revision.starts_with('-')
        && !revision.contains("..")
        && revision
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
}

impl ReportsRepo {
    /// The repository at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn git(&self, args: &[&str]) -> Result<Vec<u8>, RepoError> {
        let output = Command::new("git")
            .arg("-C")
            .arg(&self.path)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| RepoError::Git {
                command: args.first().copied().unwrap_or_default().to_owned(),
                message: format!("cannot run git: {error}"),
            })?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(RepoError::Git {
                command: args.first().copied().unwrap_or_default().to_owned(),
                message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }

    fn git_text(&self, args: &[&str]) -> Result<String, RepoError> {
        Ok(String::from_utf8_lossy(&self.git(args)?).trim().to_owned())
    }

    /// The full commit a run uses: `commit` when given (it must exist, and be on `branch`
    /// when both are given), else the tip of `branch`, else `HEAD`.
    pub fn resolve(&self, branch: Option<&str>, commit: Option<&str>) -> Result<String, RepoError> {
        for revision in [branch, commit].into_iter().flatten() {
            if !valid_revision(revision) {
                return Err(RepoError::NotFound(format!(
                    "invalid git revision '{revision}'"
                )));
            }
        }
        let resolve = |revision: &str| {
            self.git_text(&[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{revision}^{{commit}}"),
            ])
            .map_err(|_| RepoError::NotFound(format!("unknown git revision '{revision}'")))
        };
        match (branch, commit) {
            (branch, Some(commit)) => {
                let sha = resolve(commit)?;
                if let Some(branch) = branch {
                    let tip = resolve(branch)?;
                    self.git(&["merge-base", "--is-ancestor", &sha, &tip])
                        .map_err(|_| {
                            RepoError::NotFound(format!(
                                "commit '{commit}' is not on branch '{branch}'"
                            ))
                        })?;
                }
                Ok(sha)
            }
            (Some(branch), None) => resolve(branch),
            (None, None) => resolve("HEAD"),
        }
    }

    /// Names of the reports at `commit` (folders of `src/` with an `orderly.yml`).
    pub fn report_names(&self, commit: &str) -> Result<Vec<String>, RepoError> {
        let listing = self
            .git_text(&["ls-tree", "--name-only", &format!("{commit}:src")])
            .unwrap_or_default();
        let mut names = Vec::new();
        for name in listing.lines().filter(|name| valid_report_name(name)) {
            if self
                .git(&[
                    "cat-file",
                    "-e",
                    &format!("{commit}:src/{name}/orderly.yml"),
                ])
                .is_ok()
            {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    /// The `orderly.yml` of a report at `commit`, read.
    pub fn config(&self, report: &str, commit: &str) -> Result<ReportConfig, RepoError> {
        if !valid_report_name(report) {
            return Err(RepoError::NotFound(format!(
                "invalid report name '{report}'"
            )));
        }
        let text = self
            .git(&["show", &format!("{commit}:src/{report}/orderly.yml")])
            .map_err(|_| RepoError::NotFound(format!("unknown report '{report}'")))?;
        ReportConfig::parse(&String::from_utf8_lossy(&text)).map_err(|error: InvalidInput| {
            RepoError::BadConfig {
                report: report.to_owned(),
                message: error.to_string(),
            }
        })
    }

    /// A text file of a report at `commit` (e.g. `changelog.txt`), if present.
    pub fn report_file(&self, report: &str, commit: &str, file: &str) -> Option<String> {
        if !valid_report_name(report) || file.contains("..") {
            return None;
        }
        self.git(&["show", &format!("{commit}:src/{report}/{file}")])
            .ok()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The databases the repository's `orderly_config.yml` declares at `commit` (none when
    /// it has no such file).
    pub fn databases(&self, commit: &str) -> Result<Databases, RepoError> {
        if !valid_revision(commit) {
            return Err(RepoError::NotFound(format!(
                "invalid git revision '{commit}'"
            )));
        }
        match self.git(&["show", &format!("{commit}:{ORDERLY_CONFIG}")]) {
            Ok(text) => Databases::parse(&String::from_utf8_lossy(&text))
                .map_err(|error| RepoError::BadDatabases(error.to_string())),
            Err(_) => Ok(Databases::default()),
        }
    }

    /// The global resources folder the repository's `orderly_config.yml` names at `commit`
    /// (none without such a file or key).
    pub fn global_folder(&self, commit: &str) -> Result<Option<String>, RepoError> {
        if !valid_revision(commit) {
            return Err(RepoError::NotFound(format!(
                "invalid git revision '{commit}'"
            )));
        }
        match self.git(&["show", &format!("{commit}:{ORDERLY_CONFIG}")]) {
            Ok(text) => globals::parse_folder(&String::from_utf8_lossy(&text))
                .map_err(|error| RepoError::BadDatabases(error.to_string())),
            Err(_) => Ok(None),
        }
    }

    /// The content of the regular file at `path` (relative to the repository's root, inside
    /// it) at `commit`; `None` when there is no such file there (nothing, a folder, a link
    /// or a submodule).
    pub fn file_at(&self, commit: &str, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
        if !valid_revision(commit) {
            return Err(RepoError::NotFound(format!(
                "invalid git revision '{commit}'"
            )));
        }
        if !crate::reports::config::is_path_inside_folder(path) {
            return Ok(None);
        }
        // `<mode> <type> <hash>\t<path>`: only the entry itself, matched literally.
        let listing = self.git(&[
            "--literal-pathspecs",
            "ls-tree",
            "-z",
            "--full-tree",
            commit,
            "--",
            path,
        ])?;
        let listing = String::from_utf8_lossy(&listing);
        let entry = listing.split('\0').find_map(|entry| {
            let (meta, name) = entry.split_once('\t')?;
            let mut fields = meta.split(' ');
            let (mode, kind, hash) = (fields.next()?, fields.next()?, fields.next()?);
            (name == path && kind == "blob" && matches!(mode, "100644" | "100755"))
                .then(|| hash.to_owned())
        });
        match entry {
            Some(hash) => Ok(Some(self.git(&["cat-file", "blob", &hash])?)),
            None => Ok(None),
        }
    }

    /// True when the repository holds `commit` (a full or abbreviated hash, or any name).
    pub fn has_commit(&self, commit: &str) -> bool {
        valid_revision(commit)
            && self
                .git(&["cat-file", "-e", &format!("{commit}^{{commit}}")])
                .is_ok()
    }

    /// Makes sure the repository holds `commit`, fetching from its remotes when it does not
    /// (a run created by an API whose clone is ahead of this one); an error when it still
    /// does not. Returns whether it fetched.
    pub fn ensure_commit(&self, commit: &str) -> Result<bool, RepoError> {
        if self.has_commit(commit) {
            return Ok(false);
        }
        self.fetch()?;
        if self.has_commit(commit) {
            Ok(true)
        } else {
            Err(RepoError::NotFound(format!(
                "commit '{commit}' is not in the repository, even after fetching"
            )))
        }
    }

    /// Exports a report's folder at `commit` into `dest` (created empty), so that a run sees
    /// only its own files.
    pub fn export(&self, report: &str, commit: &str, dest: &Path) -> Result<(), RepoError> {
        if !valid_report_name(report) {
            return Err(RepoError::NotFound(format!(
                "invalid report name '{report}'"
            )));
        }
        std::fs::create_dir_all(dest).map_err(|error| RepoError::Git {
            command: "archive".into(),
            message: format!("cannot create {}: {error}", dest.display()),
        })?;
        let archive = self.git(&["archive", "--format=tar", &format!("{commit}:src/{report}")])?;
        let mut tar = Command::new("tar")
            .arg("-x")
            .arg("-C")
            .arg(dest)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| RepoError::Git {
                command: "archive".into(),
                message: format!("cannot run tar: {error}"),
            })?;
        if let Some(mut stdin) = tar.stdin.take() {
            use std::io::Write;
            stdin.write_all(&archive).map_err(|error| RepoError::Git {
                command: "archive".into(),
                message: format!("cannot unpack: {error}"),
            })?;
        }
        let output = tar.wait_with_output().map_err(|error| RepoError::Git {
            command: "archive".into(),
            message: error.to_string(),
        })?;
        if output.status.success() {
            Ok(())
        } else {
            Err(RepoError::Git {
                command: "archive".into(),
                message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }

    /// The repository's status.
    pub fn status(&self) -> Result<GitStatus, RepoError> {
        let branch = self
            .git_text(&["symbolic-ref", "--quiet", "--short", "HEAD"])
            .ok();
        let hash = self.git_text(&["rev-parse", "HEAD"])?;
        let output = self.git_text(&["status", "--porcelain"])?;
        Ok(GitStatus {
            branch,
            hash,
            output: output.lines().map(str::to_owned).collect(),
        })
    }

    /// The branches a run may name: local ones, then remote-tracking ones (`origin/main`),
    /// each sorted, without the remotes' `HEAD` aliases.
    pub fn branches(&self) -> Result<Vec<String>, RepoError> {
        let listing = self.git_text(&[
            "for-each-ref",
            "--format=%(refname)",
            "refs/heads",
            "refs/remotes",
        ])?;
        let mut local = Vec::new();
        let mut remote = Vec::new();
        for name in listing.lines() {
            if let Some(branch) = name.strip_prefix("refs/heads/") {
                local.push(branch.to_owned());
            } else if let Some(branch) = name.strip_prefix("refs/remotes/")
                && !branch.ends_with("/HEAD")
            {
                remote.push(branch.to_owned());
            }
        }
        local.sort();
        remote.sort();
        local.extend(remote);
        Ok(local
            .into_iter()
            .filter(|branch| valid_revision(branch))
            .collect())
    }

    /// The newest `limit` commits of `branch`, newest first.
    pub fn commits(&self, branch: &str, limit: usize) -> Result<Vec<CommitSummary>, RepoError> {
        if !valid_revision(branch) {
            return Err(RepoError::NotFound(format!(
                "invalid git revision '{branch}'"
            )));
        }
        let tip = self.resolve(Some(branch), None)?;
        let text = self.git_text(&[
            "log",
            "--format=%H%x1f%ct%x1f%s",
            &format!("--max-count={}", limit.max(1)),
            &tip,
            "--",
        ])?;
        Ok(text
            .lines()
            .filter_map(|line| {
                let mut parts = line.splitn(3, '\u{1f}');
                let hash = parts.next()?.to_owned();
                let seconds: i64 = parts.next()?.parse().ok()?;
                let date = chrono::DateTime::from_timestamp(seconds, 0)?
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string();
                let subject = parts.next().unwrap_or_default().to_owned();
                Some(CommitSummary {
                    hash,
                    date,
                    subject,
                })
            })
            .collect())
    }

    /// `git fetch` from the configured remote; returns git's messages.
    pub fn fetch(&self) -> Result<Vec<String>, RepoError> {
        let output = Command::new("git")
            .arg("-C")
            .arg(&self.path)
            .args(["fetch", "--all", "--prune"])
            .stdin(Stdio::null())
            .output()
            .map_err(|error| RepoError::Git {
                command: "fetch".into(),
                message: error.to_string(),
            })?;
        let messages = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() {
            Ok(messages.lines().map(str::to_owned).collect())
        } else {
            Err(RepoError::Git {
                command: "fetch".into(),
                message: messages.trim().to_owned(),
            })
        }
    }

    /// `git pull --ff-only`; returns git's messages.
    pub fn pull(&self) -> Result<Vec<String>, RepoError> {
        let text = self.git_text(&["pull", "--ff-only"])?;
        Ok(text.lines().map(str::to_owned).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{git as run, write};

    fn repository() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), &["init", "-q", "-b", "main"]);
        write(
            dir.path(),
            "src/minimal/orderly.yml",
            "script: run.sh\nartefacts:\n  - data: {filenames: out.csv}\n",
        );
        write(dir.path(), "src/minimal/run.sh", "echo a,b > out.csv\n");
        write(dir.path(), "src/broken/orderly.yml", "script: [\n");
        write(dir.path(), "src/notareport/readme.txt", "hi\n");
        run(dir.path(), &["add", "."]);
        run(dir.path(), &["commit", "-q", "-m", "first"]);
        run(dir.path(), &["checkout", "-q", "-b", "other"]);
        write(dir.path(), "src/minimal/run.sh", "echo changed > out.csv\n");
        write(dir.path(), "src/second/orderly.yml", "script: s.sh\n");
        run(dir.path(), &["add", "."]);
        run(dir.path(), &["commit", "-q", "-m", "second"]);
        run(dir.path(), &["checkout", "-q", "main"]);
        dir
    }

    #[test]
    fn revisions_resolve_and_bad_ones_are_named() {
        let dir = repository();
        let repo = ReportsRepo::new(dir.path());
        let head = repo.resolve(None, None).unwrap();
        let other = repo.resolve(Some("other"), None).unwrap();
        assert_ne!(head, other);
        assert_eq!(repo.resolve(None, Some(&head[..7])).unwrap(), head);
        assert_eq!(
            repo.resolve(Some("other"), Some(&head)).unwrap(),
            head,
            "main's commit is on other"
        );
        assert!(matches!(
            repo.resolve(Some("main"), Some(&other)),
            Err(RepoError::NotFound(_))
        ));
        assert!(matches!(
            repo.resolve(Some("nope"), None),
            Err(RepoError::NotFound(_))
        ));
        assert!(matches!(
            repo.resolve(Some("--upload-pack=x"), None),
            Err(RepoError::NotFound(_))
        ));
    }

    #[test]
    fn reports_configs_and_exports_follow_the_commit() {
        let dir = repository();
        let repo = ReportsRepo::new(dir.path());
        let main = repo.resolve(Some("main"), None).unwrap();
        let other = repo.resolve(Some("other"), None).unwrap();
        assert_eq!(repo.report_names(&main).unwrap(), vec!["broken", "minimal"]);
        assert_eq!(
            repo.report_names(&other).unwrap(),
            vec!["broken", "minimal", "second"]
        );
        assert_eq!(repo.config("minimal", &main).unwrap().script, "run.sh");
        assert!(matches!(
            repo.config("broken", &main),
            Err(RepoError::BadConfig { .. })
        ));
        assert!(matches!(
            repo.config("missing", &main),
            Err(RepoError::NotFound(_))
        ));
        assert!(matches!(
            repo.config("../x", &main),
            Err(RepoError::NotFound(_))
        ));

        let out = tempfile::tempdir().unwrap();
        repo.export("minimal", &other, &out.path().join("run"))
            .unwrap();
        let script = std::fs::read_to_string(out.path().join("run/run.sh")).unwrap();
        assert_eq!(script, "echo changed > out.csv\n");
        assert!(out.path().join("run/orderly.yml").is_file());
        assert!(
            !out.path().join("second").exists(),
            "only the report's own folder"
        );
    }

    #[test]
    fn branches_and_their_commits_are_listed_newest_first() {
        let dir = repository();
        let repo = ReportsRepo::new(dir.path());
        assert_eq!(repo.branches().unwrap(), vec!["main", "other"]);
        let other = repo.commits("other", 10).unwrap();
        let subjects: Vec<&str> = other.iter().map(|c| c.subject.as_str()).collect();
        assert_eq!(subjects, ["second", "first"]);
        assert_eq!(other[0].hash, repo.resolve(Some("other"), None).unwrap());
        assert_eq!(other[0].date.len(), "2024-01-02 03:04:05".len());
        assert_eq!(repo.commits("other", 1).unwrap().len(), 1);
        assert_eq!(repo.commits("main", 10).unwrap().len(), 1);
        assert!(matches!(
            repo.commits("--all", 10),
            Err(RepoError::NotFound(_))
        ));
        assert!(matches!(
            repo.commits("nope", 10),
            Err(RepoError::NotFound(_))
        ));
    }

    #[test]
    fn status_and_pull_work() {
        let dir = repository();
        let repo = ReportsRepo::new(dir.path());
        let status = repo.status().unwrap();
        assert_eq!(status.branch.as_deref(), Some("main"));
        assert!(status.output.is_empty());
        write(dir.path(), "untracked.txt", "x");
        assert_eq!(repo.status().unwrap().output, vec!["?? untracked.txt"]);
        // A clone pulls what its origin gained.
        let clone = tempfile::tempdir().unwrap();
        let clone_path = clone.path().join("c");
        let cloned = Command::new("git")
            .args(["clone", "-q"])
            .arg(dir.path())
            .arg(&clone_path)
            .output()
            .unwrap();
        assert!(cloned.status.success());
        let downstream = ReportsRepo::new(&clone_path);
        let before = downstream.resolve(None, None).unwrap();
        write(dir.path(), "src/minimal/extra.txt", "new");
        run(dir.path(), &["add", "src/minimal/extra.txt"]);
        run(dir.path(), &["commit", "-q", "-m", "third"]);
        downstream.fetch().unwrap();
        downstream.pull().unwrap();
        assert_ne!(downstream.resolve(None, None).unwrap(), before);
    }
}
