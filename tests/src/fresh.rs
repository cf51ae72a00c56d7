//! The fresh-binary check: the end-to-end tests spawn the binaries `cargo build --workspace
//! --bins` left in the target directory, and `cargo test` does not rebuild them. A binary
//! older than one of its sources would test old code while the test reads the new, so
//! [`check_fresh`] fails loudly, saying how to rebuild.
//!
//! A binary's sources are the files under `src/`, `templates/`, `assets/` and `static/` (and
//! `build.rs`) of its crate and of `common`, the crate every binary builds on. Manifests are not
//! compared: cargo does not relink a binary when only another target's dependencies change.
//! `BATON_BIN_DIR` (binaries from elsewhere) or `BATON_TEST_ALLOW_STALE=1` skip the check.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// The folders of a crate whose files a binary is built from.
const SOURCE_FOLDERS: [&str; 4] = ["src", "templates", "assets", "static"];

/// Binaries already found fresh by this test process.
static CHECKED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// The workspace crates (folders under the workspace root) the workspace binary `name` is
/// built from; empty for binaries this check does not know (such as the benchmarks).
pub fn source_crates(name: &str) -> &'static [&'static str] {
    match name {
        "baton-api" => &["api", "common"],
        "baton-worker" => &["worker", "common"],
        "baton-scheduler" => &["scheduler", "common"],
        "baton" => &["cli", "common"],
        _ => &[],
    }
}

/// The workspace root the test crate was compiled in.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Panics, naming the newer source and the command that rebuilds, when the workspace binary
/// `name` at `binary` is older than one of its sources (see the module's documentation).
/// Checks each binary once per test process.
pub fn check_fresh(name: &str, binary: &Path) {
    if std::env::var_os("BATON_BIN_DIR").is_some()
        || std::env::var("BATON_TEST_ALLOW_STALE").is_ok_and(|value| value == "1")
    {
        return;
    }
    let mut checked = CHECKED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let checked = checked.get_or_insert_with(HashSet::new);
    if checked.contains(binary) {
        return;
    }
    let Some(built) = modified(binary) else {
        return;
    };
    let root = workspace_root();
    if let Some(source) = newer_source(&root, source_crates(name), built) {
        panic!(
            "`{name}` at {} is older than its source {}: the tests would run old code. \
             Rebuild with `cargo build --workspace --bins` (`scripts/test` does), or set \
             BATON_TEST_ALLOW_STALE=1 to test this binary anyway",
            binary.display(),
            source.display()
        );
    }
    checked.insert(binary.to_path_buf());
}

/// The first source file of `crates` under `root` modified after `built`, if any.
pub fn newer_source(root: &Path, crates: &[&str], built: SystemTime) -> Option<PathBuf> {
    crates.iter().find_map(|krate| {
        let dir = root.join(krate);
        let build_script = dir.join("build.rs");
        let folders = SOURCE_FOLDERS.iter().map(|folder| dir.join(folder));
        std::iter::once(build_script)
            .filter(|path| path.is_file())
            .chain(folders.flat_map(|folder| {
                walkdir::WalkDir::new(folder)
                    .into_iter()
                    .filter_map(Result::ok)
                    .filter(|entry| entry.file_type().is_file())
                    .map(walkdir::DirEntry::into_path)
            }))
            .find(|path| modified(path).is_some_and(|time| time > built))
    })
}

/// A file's modification time; `None` when it cannot be read.
fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_source_newer_than_the_binary_is_named() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("api/src/fronts/mod.rs");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "// source").unwrap();
        std::fs::create_dir_all(root.path().join("common/src")).unwrap();
        std::fs::write(root.path().join("api/README.md"), "not a source").unwrap();
        let written = modified(&file).unwrap();

        let before = written - Duration::from_secs(10);
        assert_eq!(
            newer_source(root.path(), &["api", "common"], before),
            Some(file)
        );
        let after = written + Duration::from_secs(10);
        assert_eq!(newer_source(root.path(), &["api", "common"], after), None);
        assert_eq!(
            newer_source(root.path(), &["common"], before),
            None,
            "another crate's sources do not count"
        );
    }

    #[test]
    fn the_three_services_have_sources_and_the_benchmarks_none() {
        for name in ["baton-api", "baton-worker", "baton-scheduler"] {
            let crates = source_crates(name);
            assert!(crates.contains(&"common"), "{name}");
            assert!(
                workspace_root().join(crates[0]).join("src").is_dir(),
                "{name}"
            );
        }
        assert!(source_crates("baton-bench").is_empty());
    }
}
