use std::io::{Cursor, Read, Write};

use serde_json::json;
use zip::write::SimpleFileOptions;
use zip::{ZipArchive, ZipWriter};

use super::*;
use crate::reports::artefacts::{ArtefactStore, md5_hex};
use crate::reports::repo::ReportsRepo;
use crate::reports::version::DATA_FOLDER;
use crate::test_support::{git, write};

const VERSION_ID: &str = "20240102-030405-0a1b2c3d";

/// A repository with one report that makes an artefact, a data extract in csv and rds, and
/// reads a resource; returns the commit.
fn repository(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    git(dir, &["init", "-q", "-b", "main"]);
    write(
        dir,
        "src/example/orderly.yml",
        "script: run.sh\nartefacts:\n  - data:\n      description: The table\n      filenames: out.csv\nresources: [input.csv]\ndata:\n  dat:\n    csv: extract/dat.csv\n    rds: extract/dat.rds\nparameters:\n  n: ~\ndisplayname: Example\n",
    );
    write(dir, "src/example/input.csv", "name,number\n");
    write(dir, "src/example/README.md", "# Example\n");
    write(
        dir,
        "src/example/changelog.txt",
        "[public]\nFirst version\n",
    );
    write(
        dir,
        "src/example/run.sh",
        "#!/bin/sh\nset -e\necho \"making $n\"\ncp input.csv out.csv\necho \"x,$n\" >> out.csv\nmkdir -p extract\necho \"$ORDERLY_VERSION\" > extract/dat.csv\nprintf rds > extract/dat.rds\n",
    );
    std::fs::set_permissions(
        dir.join("src/example/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "reports"]);
    git(dir, &["rev-parse", "HEAD"])
}

fn packed(repo: &Path, commit: &str) -> Vec<u8> {
    pack_bundle(
        &ReportsRepo::new(repo),
        "example",
        commit,
        Some("main"),
        json!({"n": 7}).as_object().unwrap(),
        &Map::new(),
        VERSION_ID,
    )
    .unwrap()
}

/// The entries of a zip, by name.
fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|index| {
            let mut entry = archive.by_index(index).unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            (entry.name().to_owned(), content)
        })
        .collect()
}

/// A zip of the given entries.
fn zipped(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in entries {
        if name.ends_with('/') {
            writer
                .add_directory(name.as_str(), SimpleFileOptions::default())
                .unwrap();
        } else {
            writer
                .start_file(name.as_str(), SimpleFileOptions::default())
                .unwrap();
            writer.write_all(content).unwrap();
        }
    }
    writer.finish().unwrap().into_inner()
}

fn local_store() -> (tempfile::TempDir, ArtefactStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ArtefactStore::open(&dir.path().display().to_string()).unwrap();
    (dir, store)
}

#[tokio::test]
async fn a_bundle_is_packed_run_and_imported_with_every_file() {
    let repo = tempfile::tempdir().unwrap();
    let commit = repository(repo.path());
    let bundle = packed(repo.path(), &commit);
    let names: Vec<String> = entries(&bundle).into_iter().map(|(name, _)| name).collect();
    assert!(names.iter().all(|name| name.starts_with(VERSION_ID)));
    assert!(names.contains(&format!("{VERSION_ID}/pack/orderly.yml")));
    let info: BundleInfo = serde_json::from_slice(
        &entries(&bundle)
            .into_iter()
            .find(|(name, _)| name == &format!("{VERSION_ID}/{INFO}"))
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(info.id, VERSION_ID);
    assert_eq!(info.git_commit, commit);
    assert_eq!(info.parameters, *json!({"n": 7}).as_object().unwrap());

    let (_store_dir, store) = local_store();
    assert!(matches!(
        import_bundle(&bundle, &store).await,
        Err(BundleError::NotCompleted)
    ));

    let (completed, record) = run_bundle(&bundle, DEFAULT_MAX_UNPACKED).unwrap();
    assert!(matches!(
        run_bundle(&completed, DEFAULT_MAX_UNPACKED),
        Err(BundleError::AlreadyCompleted)
    ));
    assert_eq!(record.id, VERSION_ID);
    assert_eq!(record.git_commit.as_deref(), Some(commit.as_str()));
    assert_eq!(record.git_branch.as_deref(), Some("main"));
    assert_eq!(record.readme.as_deref(), Some("README.md"));
    assert_eq!(record.changelog[0].value, "First version");

    // A bundle is checked from its file as it is from memory.
    let on_disk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(on_disk.path(), &completed).unwrap();
    let checked = check_bundle(on_disk.path(), DEFAULT_MAX_UNPACKED)
        .await
        .unwrap();
    assert_eq!(checked.record, record);
    drop(checked);

    let imported = import_bundle(&completed, &store).await.unwrap();
    assert_eq!(imported, record);
    let out = store.get(VERSION_ID, "out.csv").await.unwrap();
    assert_eq!(&out[..], b"name,number\nx,7\n");
    assert_eq!(record.artefacts[0].files[0].md5, md5_hex(&out));
    assert_eq!(
        &store.get(VERSION_ID, "README.md").await.unwrap()[..],
        b"# Example\n"
    );
    let csv = format!("{VERSION_ID}\n");
    let data = &record.data[0];
    assert_eq!(data.csv.md5, md5_hex(csv.as_bytes()));
    assert_eq!(
        &store
            .get(DATA_FOLDER, &format!("{}.csv", data.csv.md5))
            .await
            .unwrap()[..],
        csv.as_bytes()
    );
    let rds = data.rds.as_ref().unwrap();
    assert_eq!(
        &store
            .get(DATA_FOLDER, &format!("{}.rds", rds.md5))
            .await
            .unwrap()[..],
        b"rds"
    );
    assert_eq!(
        store.list(VERSION_ID).await.unwrap(),
        vec!["README.md", "input.csv", "out.csv"]
    );

    // The file through the CLI's entry point gives the same version.
    let files = tempfile::tempdir().unwrap();
    let (input, output) = (files.path().join("in.zip"), files.path().join("out.zip"));
    std::fs::write(&input, &bundle).unwrap();
    let again = run_bundle_file(&input, &output, DEFAULT_MAX_UNPACKED).unwrap();
    assert_eq!(again, record);
    assert!(output.is_file());
}

#[tokio::test]
async fn a_completed_bundle_whose_files_were_changed_is_refused() {
    let repo = tempfile::tempdir().unwrap();
    let commit = repository(repo.path());
    let (completed, _) = run_bundle(&packed(repo.path(), &commit), DEFAULT_MAX_UNPACKED).unwrap();
    let tampered: Vec<(String, Vec<u8>)> = entries(&completed)
        .into_iter()
        .map(|(name, content)| {
            if name.ends_with("/pack/out.csv") {
                (name, b"forged\n".to_vec())
            } else {
                (name, content)
            }
        })
        .collect();
    let (_store_dir, store) = local_store();
    let error = import_bundle(&zipped(&tampered), &store).await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("'out.csv' does not match the version record"),
        "{error}"
    );
    assert!(error.is_client_error());
    assert!(store.list(VERSION_ID).await.unwrap().is_empty());
}

#[tokio::test]
async fn unsafe_or_malformed_zips_are_refused() {
    let (_store_dir, store) = local_store();
    let file = |name: &str| (name.to_owned(), b"x".to_vec());
    let import_error = |bytes: Vec<u8>, limit: u64| {
        let store = store.clone();
        async move {
            import_bundle_limited(&bytes, &store, limit)
                .await
                .unwrap_err()
        }
    };

    let error = import_error(b"not a zip".to_vec(), DEFAULT_MAX_UNPACKED).await;
    assert!(matches!(error, BundleError::NotZip(_)), "{error}");
    for escaping in [
        format!("{VERSION_ID}/../evil.txt"),
        "../evil.txt".to_owned(),
        "/etc/evil.txt".to_owned(),
        format!("{VERSION_ID}/pack/..\\evil.txt"),
    ] {
        let error = import_error(
            zipped(&[
                file(&format!("{VERSION_ID}/meta/info.json")),
                file(&escaping),
            ]),
            DEFAULT_MAX_UNPACKED,
        )
        .await;
        assert!(
            matches!(error, BundleError::UnsafePath(_)),
            "{escaping}: {error}"
        );
        assert!(error.is_client_error());
    }
    let error = import_error(
        zipped(&[file("a/pack/x"), file("b/pack/y")]),
        DEFAULT_MAX_UNPACKED,
    )
    .await;
    assert!(matches!(error, BundleError::NotOneFolder), "{error}");
    let error = import_error(zipped(&[file("loose.txt")]), DEFAULT_MAX_UNPACKED).await;
    assert!(matches!(error, BundleError::NotOneFolder), "{error}");
    let big = (format!("{VERSION_ID}/pack/big"), vec![0u8; 4096]);
    let error = import_error(zipped(&[big]), 1000).await;
    assert!(
        matches!(error, BundleError::TooLarge { limit: 1000 }),
        "{error}"
    );
}

#[tokio::test]
async fn a_bundle_carries_the_global_resources_its_report_uses() {
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    repository(dir);
    write(dir, "orderly_config.yml", "global_resources: global\n");
    write(dir, "global/shared/lookup.csv", "code\nA\n");
    write(
        dir,
        "src/example/orderly.yml",
        "script: run.sh\nartefacts:\n  - data:\n      description: The table\n      filenames: out.csv\nresources: [input.csv]\nglobal_resources:\n  lookup.csv: shared/lookup.csv\ndata:\n  dat:\n    csv: extract/dat.csv\n    rds: extract/dat.rds\nparameters:\n  n: ~\n",
    );
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "a global resource"]);
    let commit = git(dir, &["rev-parse", "HEAD"]);

    let bundle = packed(dir, &commit);
    let lookup = entries(&bundle)
        .into_iter()
        .find(|(name, _)| name == &format!("{VERSION_ID}/pack/lookup.csv"))
        .expect("the global resource is packed under its local name");
    assert_eq!(lookup.1, b"code\nA\n");

    let (completed, record) = run_bundle(&bundle, DEFAULT_MAX_UNPACKED).unwrap();
    assert_eq!(record.global_resources.len(), 1);
    assert_eq!(record.global_resources[0].source, "shared/lookup.csv");
    assert!(
        record
            .resources
            .iter()
            .any(|file| file.name == "lookup.csv")
    );
    let (_store_dir, store) = local_store();
    import_bundle(&completed, &store).await.unwrap();
    assert_eq!(
        &store.get(VERSION_ID, "lookup.csv").await.unwrap()[..],
        b"code\nA\n"
    );

    // A global file that is not there cannot be packed.
    write(
        dir,
        "src/example/orderly.yml",
        "script: run.sh\nglobal_resources:\n  lookup.csv: shared/gone.csv\nparameters:\n  n: ~\n",
    );
    git(dir, &["commit", "-q", "-am", "a missing global resource"]);
    let commit = git(dir, &["rev-parse", "HEAD"]);
    let error = pack_bundle(
        &ReportsRepo::new(dir),
        "example",
        &commit,
        None,
        json!({"n": 7}).as_object().unwrap(),
        &Map::new(),
        VERSION_ID,
    )
    .unwrap_err();
    assert!(error.is_client_error());
    assert!(error.to_string().contains("'shared/gone.csv'"), "{error}");
}
