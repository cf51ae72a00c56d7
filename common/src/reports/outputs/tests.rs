use serde_json::json;

use super::*;
use crate::reports::artefacts::md5_hex;
use crate::test_support::write;

const ORDERLY_YML: &str = "script: run.sh\nartefacts:\n  - staticgraph:\n      description: A graph\n      filenames: mygraph.png\n  - data:\n      filenames: [a.csv, out/b.csv]\nresources: [source/input.csv]\ndata:\n  dat:\n    query: SELECT 1\n    csv: extracts/dat.csv\n  other:\n    csv: extracts/other.csv\n    rds: extracts/other.rds\ndisplayname: Example\nauthor: Someone\n";

/// A report folder as its script leaves it.
fn finished_report() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("orderly.yml", ORDERLY_YML),
        ("mygraph.png", "png"),
        ("a.csv", "a\n1\n"),
        ("out/b.csv", "b\n2\n"),
        ("source/input.csv", "x\n"),
        ("extracts/dat.csv", "d\n"),
        ("extracts/other.csv", "o\n"),
        ("extracts/other.rds", "rds"),
        ("README.md", "# Example\n"),
    ] {
        write(dir.path(), name, text);
    }
    dir
}

fn inputs() -> VersionInputs {
    VersionInputs {
        name: "example".into(),
        version: "20240102-030405-0a1b2c3d".into(),
        parameters: json!({"n": 7}).as_object().unwrap().clone(),
        instances: Map::new(),
        branch: Some("main".into()),
        commit: Some("abc123".into()),
        changelog: Some(RunChangelog {
            message: "Rerun with 2020 data".into(),
            label: "internal".into(),
        }),
        depends: Vec::new(),
    }
}

fn config() -> ReportConfig {
    ReportConfig::parse(ORDERLY_YML).unwrap()
}

#[test]
fn a_finished_report_is_recorded_with_every_file() {
    let dir = finished_report();
    let outputs = collect(
        dir.path(),
        &config(),
        &inputs(),
        Some("[public]\nFirst version\n"),
    )
    .unwrap();
    let record = &outputs.record;
    assert_eq!(record.id, "20240102-030405-0a1b2c3d");
    assert_eq!(record.date, "2024-01-02 03:04:05.0");
    assert_eq!(record.displayname.as_deref(), Some("Example"));
    assert_eq!(record.author.as_deref(), Some("Someone"));
    assert_eq!(record.git_branch.as_deref(), Some("main"));
    assert_eq!(record.parameter_values["n"], 7);
    assert_eq!(record.artefacts.len(), 2);
    assert_eq!(
        record.artefacts[0].files,
        vec![VersionFile {
            name: "mygraph.png".into(),
            size: 3,
            md5: md5_hex(b"png"),
        }]
    );
    let resources: Vec<&str> = record.resources.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(resources, ["source/input.csv"]);
    assert_eq!(record.readme.as_deref(), Some("README.md"));
    assert_eq!(record.data.len(), 2);
    assert_eq!(record.data[0].csv.md5, md5_hex(b"d\n"));
    assert_eq!(record.data[0].rds, None);
    assert_eq!(record.data[1].rds.as_ref().unwrap().md5, md5_hex(b"rds"));
    assert_eq!(
        record.changelog,
        vec![
            ChangelogEntry {
                label: "internal".into(),
                value: "Rerun with 2020 data".into(),
                from_file: false,
            },
            ChangelogEntry {
                label: "public".into(),
                value: "First version".into(),
                from_file: true,
            },
        ]
    );

    let stored: Vec<(String, String, String)> = outputs
        .files
        .iter()
        .map(|f| (f.folder.clone(), f.name.clone(), f.source.clone()))
        .collect();
    let version = |name: &str| (record.id.clone(), name.to_owned(), name.to_owned());
    let data = |name: String, source: &str| (DATA_FOLDER.to_owned(), name, source.to_owned());
    assert_eq!(
        stored,
        vec![
            version("mygraph.png"),
            version("a.csv"),
            version("out/b.csv"),
            version("source/input.csv"),
            version("README.md"),
            data(format!("{}.csv", md5_hex(b"d\n")), "extracts/dat.csv"),
            data(format!("{}.csv", md5_hex(b"o\n")), "extracts/other.csv"),
            data(format!("{}.rds", md5_hex(b"rds")), "extracts/other.rds"),
        ]
    );
    verify(&outputs.files).unwrap();
}

#[test]
fn missing_outputs_and_broken_changelogs_are_named() {
    let cases: [(&str, &str); 4] = [
        (
            "mygraph.png",
            "report 'example' did not produce its declared staticgraph artefact 'mygraph.png'",
        ),
        (
            "source/input.csv",
            "report 'example': resource 'source/input.csv' does not exist",
        ),
        (
            "extracts/dat.csv",
            "report 'example' did not produce the csv file 'extracts/dat.csv' of its data extract 'dat'",
        ),
        (
            "extracts/other.rds",
            "report 'example' did not produce the rds file 'extracts/other.rds' of its data extract 'other'",
        ),
    ];
    for (missing, expected) in cases {
        let dir = finished_report();
        std::fs::remove_file(dir.path().join(missing)).unwrap();
        let error = collect(dir.path(), &config(), &inputs(), None).unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
    let dir = finished_report();
    let error = collect(dir.path(), &config(), &inputs(), Some("oops\n[public]\nx")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "report 'example': changelog.txt line 1: text before the first [label] line"
    );
    let mut bad_id = inputs();
    bad_id.version = "latest".into();
    assert!(matches!(
        collect(dir.path(), &config(), &bad_id, None),
        Err(OutputError::BadVersionId(_))
    ));
}

#[tokio::test]
async fn stored_files_keep_their_bytes_and_changed_files_are_caught() {
    let dir = finished_report();
    let outputs = collect(dir.path(), &config(), &inputs(), None).unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let artefacts = ArtefactStore::open(&store_dir.path().display().to_string()).unwrap();
    store(&outputs.files, &artefacts).await.unwrap();
    let id = &outputs.record.id;
    assert_eq!(
        &artefacts.get(id, "out/b.csv").await.unwrap()[..],
        b"b\n2\n"
    );
    assert_eq!(
        &artefacts.get(id, "README.md").await.unwrap()[..],
        b"# Example\n"
    );
    let csv = format!("{}.csv", md5_hex(b"o\n"));
    assert_eq!(&artefacts.get(DATA_FOLDER, &csv).await.unwrap()[..], b"o\n");

    write(dir.path(), "a.csv", "tampered\n");
    let error = verify(&outputs.files).unwrap_err().to_string();
    assert!(
        error.starts_with("'a.csv' does not match the version record"),
        "{error}"
    );
    assert!(matches!(
        store(&outputs.files, &artefacts).await,
        Err(OutputError::Mismatch { .. })
    ));
}

#[test]
fn records_naming_paths_outside_the_folder_are_refused() {
    let dir = finished_report();
    let mut record = collect(dir.path(), &config(), &inputs(), None)
        .unwrap()
        .record;
    record.resources[0].name = "../../etc/passwd".into();
    assert!(matches!(
        record_files(&record, &config(), dir.path()),
        Err(OutputError::Inconsistent(_))
    ));
    let mut record = collect(dir.path(), &config(), &inputs(), None)
        .unwrap()
        .record;
    record.data[0].name = "undeclared".into();
    assert!(matches!(
        record_files(&record, &config(), dir.path()),
        Err(OutputError::Inconsistent(_))
    ));
}

#[test]
fn global_resources_are_recorded_among_the_resources_and_kept_apart() {
    let dir = finished_report();
    write(dir.path(), "shared/data.csv", "g\n1\n");
    let config = ReportConfig::parse(&format!(
        "{ORDERLY_YML}global_resources:\n  shared/data.csv: inputs/global.csv\n"
    ))
    .unwrap();
    let outputs = collect(dir.path(), &config, &inputs(), None).unwrap();
    let record = &outputs.record;
    let md5 = md5_hex(b"g\n1\n");
    assert_eq!(
        record.resources.last(),
        Some(&VersionFile {
            name: "shared/data.csv".into(),
            size: 4,
            md5: md5.clone(),
        })
    );
    assert_eq!(
        record.global_resources,
        vec![GlobalResourceUsed {
            name: "shared/data.csv".into(),
            source: "inputs/global.csv".into(),
            md5,
        }]
    );
    // Stored with the version's files, like any resource.
    assert!(
        outputs
            .files
            .iter()
            .any(|file| file.name == "shared/data.csv"
                && file.folder == record.id
                && file.local == dir.path().join("shared/data.csv"))
    );
    // The record reads back as written.
    let json = serde_json::to_value(record).unwrap();
    assert_eq!(json["global_resources"][0]["source"], "inputs/global.csv");
    let read: VersionRecord = serde_json::from_value(json).unwrap();
    assert_eq!(&read, record);

    // A record claiming a global resource it does not list among its resources is refused.
    let mut claimed = record.clone();
    claimed.resources.pop();
    assert!(matches!(
        record_files(&claimed, &config, dir.path()),
        Err(OutputError::Inconsistent(_))
    ));

    // The copy must still be there after the script ran.
    std::fs::remove_file(dir.path().join("shared/data.csv")).unwrap();
    let error = collect(dir.path(), &config, &inputs(), None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("resource 'shared/data.csv'"), "{error}");
}
