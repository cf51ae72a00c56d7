//! Helpers of the tests and benchmarks (here and in the `tests` crate, through the
//! `test-support` feature): real git repositories and files.

use std::path::Path;
use std::process::Command;

/// Runs git in `dir` with a fixed author and committer; returns its trimmed output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Writes `text` to `file` under `dir`, creating its folders.
pub fn write(dir: &Path, file: &str, text: &str) {
    write_file(dir, file, text, false);
}

/// Writes `text` to `file` under `dir`, creating folders, and makes it executable when asked.
pub fn write_file(dir: &Path, file: &str, text: &str, executable: bool) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().expect("a file has a folder")).expect("folder made");
    std::fs::write(&path, text).expect("file written");
    if executable {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("file made executable");
    }
}
