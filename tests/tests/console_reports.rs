//! The reports portal of the web console as its readers, reviewers and runners use it: a
//! real headless Chromium driven over WebDriver, against the real API, worker and scheduler
//! over a real Redis, and a real git repository of reports made here. The pages checked are
//! saved as 1280×800 screenshots (`reports-*.png`) under `<target dir>/console/`.

use std::path::Path;
use std::time::Duration;

use baton_tests::wait::wait_for;
use baton_tests::{Browser, TestApp};
use common::reports::artefacts::md5_hex;
use common::test_support::{git, write_file};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// Chromium sessions open at once (the machine has two cores, shared with other tests).
static BROWSERS: Semaphore = Semaphore::const_new(1);

/// A 240×120 PNG bar chart, as the `minimal` report's script writes it.
const GRAPH_PNG_BASE64: &str = concat!(
    "iVBORw0KGgoAAAANSUhEUgAAAPAAAAB4CAIAAABD1OhwAAABvElEQVR42u3UwQ1AUBRE0V+HBthYa8TqNaAMfShHoi46ICIv\n",
    "fDk3U8LJlP20iNileipAC2gJaAloCWgBDbSAloCWgJaAFtBAC2gJaAloCej6W9s+aUALaKAFNNACGmiggQYaaKAFNNACGmgB\n",
    "DTTQQAMNNNACGmgBDTTQQAMNNNBAAw20gAZaQAMNNNBAAw000EADLaCBFtBAAw000EADfQG6G7ekQQw00EADDTTQQAMNNNBA\n",
    "Aw20gAYaaKCBBhpooIEGGmiggQYaaKCBBhpooIEGGmiggQYaaKArAr1MJWlAAw000EADDTTQQAMNNNBAAw000EADDTTQQAMN\n",
    "NNBAAw000EADDTTQQAMNNNBAAw000Ldq5iFpQAMNNNBAAw000EADDTTQQAMNNNBAAw000EADDTTQQAMNNNBAAw000EADDTTQ\n",
    "QAMNNNBAAw000EADDTTQQAMNNNBAAw000EADDTTQQAMNNNBAAw000EADDTTQQAMNNNBAAw000EADDTTQQAMNNNBAAw000EAD\n",
    "DTTQQAMNNNBAAw000EADDTTQQAP9PuiQftSjh5a+FtACWgJaAloCWkADLaAloKXMDgm+I28+EBtQAAAAAElFTkSuQmCC\n",
);
/// The policy previews are served with.
const PREVIEW_POLICY: &str = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'";

/// The title a framed HTML artefact would give the console page if its script ran.
const FRAMED_SCRIPT_TITLE: &str = "a framed artefact ran a script";

/// The commits of the test repository.
struct Commits {
    master: String,
    feature: String,
}

/// Writes a file of the test repository; scripts (`.sh`) are executable.
fn write(dir: &Path, file: &str, text: &str) {
    write_file(dir, file, text, file.ends_with(".sh"));
}

/// A repository of reports: `minimal` (a PNG graph, an HTML page and a table, a resource, a
/// data extract, a README with raw HTML, a changelog, a `greeting` parameter), `slow` (ticks
/// for `seconds`), `needy` (a required parameter), `other` (never run) and `broken` (an
/// unreadable `orderly.yml`); a `feature` branch changes `minimal`.
fn reports_repository(dir: &Path) -> Commits {
    git(dir, &["init", "-q", "-b", "master"]);
    write(
        dir,
        "src/minimal/orderly.yml",
        "script: run.sh
displayname: Minimal example
description: A graph, a page and a table
author: Researcher McResearcherface
requester: Funder McFunderface
parameters:
  greeting: {default: hello}
artefacts:
  - staticgraph:
      description: A graph of things
      filenames: graph.png
  - interactivehtml:
      description: A page of results
      filenames: page.html
  - data:
      description: The table
      filenames: out.csv
resources:
  - meta/input.csv
data:
  dat:
    csv: out.csv
",
    );
    write(dir, "src/minimal/meta/input.csv", "name,number\na,1\n");
    write(
        dir,
        "src/minimal/README.md",
        "# Minimal\n\nThe **simplest** report.\n\n<script>document.title = 'readme ran'</script>\n\nIt says <b>hello</b>.\n\n| column | meaning |\n|---|---|\n| name | who |\n",
    );
    write(
        dir,
        "src/minimal/changelog.txt",
        "[public]\nFirst public note\n",
    );
    write(
        dir,
        "src/minimal/run.sh",
        &format!(
            "#!/bin/sh\necho \"greeting=$greeting\"\nfor i in 1 2 3; do echo \"step $i of 3\"; sleep 0.3; done\n\
             base64 -d > graph.png <<'PNG'\n{GRAPH_PNG_BASE64}PNG\n\
             printf '<!doctype html><title>Results</title><h1>Results</h1><p>Greeting: %s</p><script>parent.document.title = \"{FRAMED_SCRIPT_TITLE}\"</script>\\n' \"$greeting\" > page.html\n\
             cp meta/input.csv out.csv\necho \"greeting,$greeting\" >> out.csv\n"
        ),
    );
    write(
        dir,
        "src/slow/orderly.yml",
        "script: run.sh\ndisplayname: Slow report\nparameters:\n  seconds: {default: 1}\nartefacts:\n  - data: {description: Out, filenames: done.txt}\n",
    );
    write(
        dir,
        "src/slow/run.sh",
        "#!/bin/sh\ni=0\nwhile [ $i -lt $((seconds * 5)) ]; do echo \"tick $i\"; i=$((i + 1)); sleep 0.2; done\necho done > done.txt\n",
    );
    write(
        dir,
        "src/needy/orderly.yml",
        "script: run.sh\nparameters:\n  nmin: ~\nartefacts:\n  - data: {description: Out, filenames: out.txt}\n",
    );
    write(
        dir,
        "src/needy/run.sh",
        "#!/bin/sh\necho \"$nmin\" > out.txt\n",
    );
    write(
        dir,
        "src/other/orderly.yml",
        "script: run.sh\ndisplayname: Other report\ndescription: Never run yet\nartefacts:\n  - data: {description: Out, filenames: out.txt}\n",
    );
    write(dir, "src/other/run.sh", "#!/bin/sh\necho x > out.txt\n");
    write(dir, "src/broken/orderly.yml", "script: [run.sh\n");
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "reports"]);
    let master = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["checkout", "-q", "-b", "feature"]);
    write(
        dir,
        "src/minimal/meta/input.csv",
        "name,number\nfeature,2\n",
    );
    git(dir, &["commit", "-q", "-am", "feature data"]);
    let feature = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["checkout", "-q", "master"]);
    Commits { master, feature }
}

/// An app over a fresh repository of reports, with one worker running one job at a time.
async fn reports_app() -> (TestApp, tempfile::TempDir, Commits) {
    let repo = tempfile::tempdir().unwrap();
    let commits = reports_repository(repo.path());
    let app = TestApp::builder()
        .reports_repo(repo.path())
        .scheduler(true)
        .scheduler_env("BATON_TICK_MS", "50")
        .workers(1)
        .worker_env("BATON_BLOCK_MS", "100")
        .worker_env("BATON_CONCURRENCY", "1")
        .spawn()
        .await;
    (app, repo, commits)
}

/// A browser, holding the [`BROWSERS`] permit while it lives.
async fn browser() -> (Browser, tokio::sync::SemaphorePermit<'static>) {
    let permit = BROWSERS.acquire().await.unwrap();
    let mut browser = Browser::start().await;
    browser.set_timeout(Duration::from_secs(30));
    (browser, permit)
}

/// Starts a run of `report` through the API (as the admin) and returns its key.
async fn start_run(app: &TestApp, report: &str, body: Value) -> String {
    let answer = app
        .admin()
        .await
        .post(&format!("/api/v1/reports/{report}/run/"), &body)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["data"]["key"].as_str().unwrap().to_owned()
}

/// Waits until run `key` has `status` (as the API says) and returns its status data.
async fn wait_status(app: &TestApp, key: &str, status: &str) -> Value {
    wait_for(
        Duration::from_secs(60),
        &format!("run {key} is {status}"),
        || async {
            let answer = app
                .admin()
                .await
                .get(&format!("/api/v1/reports/{key}/status/"))
                .await;
            let data = answer.body["data"].clone();
            (data["status"] == status).then_some(data)
        },
    )
    .await
}

/// Runs `report` to success through the API and returns the version it made.
async fn run_to_version(app: &TestApp, report: &str, body: Value) -> String {
    let key = start_run(app, report, body).await;
    let done = wait_status(app, &key, "success").await;
    done["version"].as_str().unwrap().to_owned()
}

/// Signs in through the form and waits for the reports portal, where such keys land.
async fn sign_in(browser: &Browser, app: &TestApp, key_id: &str, secret: &str) {
    browser
        .sign_in(&app.url("/ui/login"), key_id, secret, "Reports")
        .await;
    assert!(browser.current_url().await.ends_with("/ui/reports"));
}

/// Signs out with the header's button.
async fn sign_out(browser: &Browser) {
    browser.click("form.signout button[type=submit]").await;
    browser.wait_for_text("h1", "Sign in").await;
}

/// What `fetch` in the page got for a URL.
struct Fetched {
    status: u64,
    headers: Value,
    bytes: Vec<u8>,
}

impl Fetched {
    fn header(&self, name: &str) -> &str {
        self.headers[name].as_str().unwrap_or_default()
    }
}

/// Fetches `url` from the page, with the page's session, as its links would.
async fn fetch_in_page(browser: &Browser, url: &str) -> Fetched {
    let answer = browser
        .execute(
            "return fetch(arguments[0]).then(function (response) {
               return response.arrayBuffer().then(function (buffer) {
                 var headers = {};
                 response.headers.forEach(function (value, name) { headers[name] = value; });
                 return {status: response.status, headers: headers,
                         bytes: Array.from(new Uint8Array(buffer))};
               });
             });",
            vec![json!(url)],
        )
        .await;
    Fetched {
        status: answer["status"].as_u64().unwrap(),
        headers: answer["headers"].clone(),
        bytes: answer["bytes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|byte| u8::try_from(byte.as_u64().unwrap()).unwrap())
            .collect(),
    }
}

/// The `href` of the first element matching `css`.
async fn href(browser: &Browser, css: &str) -> String {
    browser
        .wait_for(css)
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("`{css}` has no href"))
}

/// Downloads the file of the row matching `row` through its Download link and checks that
/// its bytes have the md5 the row shows; returns the answer.
async fn download_matches_its_md5(browser: &Browser, row: &str) -> Fetched {
    let shown = browser.text(&format!("{row} code.md5")).await;
    let link = href(browser, &format!("{row} a.download")).await;
    let file = fetch_in_page(browser, &link).await;
    assert_eq!(file.status, 200, "{link}");
    assert!(!file.bytes.is_empty(), "{link}");
    assert_eq!(md5_hex(&file.bytes), shown.trim(), "{link}");
    assert!(
        file.header("content-disposition")
            .starts_with("attachment;"),
        "{link}: {:?}",
        file.headers
    );
    file
}

/// A script's answer as text.
async fn script_text(browser: &Browser, script: &str) -> String {
    browser
        .execute(script, vec![])
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Chooses `value` in the select `css` as a person would (a `change` event follows).
async fn choose(browser: &Browser, css: &str, value: &str) {
    browser
        .execute(
            "var select = document.querySelector(arguments[0]); select.value = arguments[1]; \
             select.dispatchEvent(new Event('change', {bubbles: true})); return select.value;",
            vec![json!(css), json!(value)],
        )
        .await;
}

#[tokio::test]
async fn readers_see_only_published_versions_download_matching_files_and_see_what_a_reviewer_publishes()
 {
    let (app, _repo, _commits) = reports_app().await;
    let first = run_to_version(&app, "minimal", json!({"params": {"greeting": "first"}})).await;
    let second = run_to_version(&app, "minimal", json!({"params": {"greeting": "second"}})).await;
    let published = app
        .admin()
        .await
        .send(
            "POST",
            &format!("/api/v1/reports/minimal/versions/{first}/publish/"),
            None,
        )
        .await;
    assert_eq!(published.status, 200, "{}", published.body);
    let reader = app.create_key("reader", "reports.read", &[]).await;
    let reviewer = app
        .create_key("reviewer", "reports.read,reports.review", &[])
        .await;
    let scoped = app
        .create_key("minimal.reader", "report:minimal/reports.read", &[])
        .await;
    let (browser, _permit) = browser().await;

    // The index lists every report of the repository, with the latest version a reader sees.
    sign_in(&browser, &app, "reader", &reader).await;
    browser
        .wait_for_text("tr[data-report=minimal] .latest-version", &first)
        .await;
    browser
        .wait_for_text("tr[data-report=minimal]", "Minimal example")
        .await;
    browser
        .wait_for_text("tr[data-report=other]", "no version yet")
        .await;
    browser
        .wait_for_text("tr[data-report=other]", "Other report")
        .await;
    browser
        .wait_for_text("tr[data-report=broken]", "not valid YAML")
        .await;
    assert!(browser.exists("tr[data-report=slow]").await);
    browser.screenshot("reports-index").await;
    browser.fill("#search-q", "OTH").await;
    browser.click("#report-search button[type=submit]").await;
    browser.wait_for_text("p.muted", "1 of 5 reports").await;
    assert!(browser.current_url().await.ends_with("/ui/reports?q=OTH"));
    assert!(browser.exists("tr[data-report=other]").await);
    assert!(!browser.exists("tr[data-report=minimal]").await);

    // Only the published version is listed; the other is unknown by its URL.
    browser.goto(&app.url("/ui/reports/minimal")).await;
    browser
        .wait_for_text(&format!("tr[data-version='{first}']"), "published")
        .await;
    assert!(
        !browser
            .exists(&format!("tr[data-version='{second}']"))
            .await
    );
    assert!(!browser.exists("#run-form").await, "a reader cannot run");
    browser
        .goto(&app.url(&format!("/ui/reports/minimal/versions/{second}")))
        .await;
    browser.wait_for_text("h1", "404").await;
    let hidden = fetch_in_page(
        &browser,
        &format!("/ui/reports/minimal/versions/{second}/artefacts/out.csv"),
    )
    .await;
    assert_eq!(
        hidden.status, 404,
        "an unpublished version's files are hidden too"
    );

    // The published version: its facts, files (each downloads with the md5 shown), previews,
    // README without its raw HTML, and changelog.
    browser
        .goto(&app.url(&format!("/ui/reports/minimal/versions/{first}")))
        .await;
    browser
        .wait_for_text("#version-published", "published")
        .await;
    assert!(
        !browser.exists("#publish-toggle").await,
        "readers do not publish"
    );
    browser
        .wait_for_text("tr[data-parameter=greeting] .parameter-value", "first")
        .await;
    browser.wait_for_text("#git-branch", "default").await;
    let graph = download_matches_its_md5(&browser, "tr[data-file='graph.png']").await;
    assert_eq!(graph.header("content-type"), "image/png");
    assert!(
        graph
            .header("content-disposition")
            .contains("filename=\"graph.png\"")
    );
    let table = download_matches_its_md5(&browser, "table.artefacts tr[data-file='out.csv']").await;
    assert_eq!(table.bytes, b"name,number\na,1\ngreeting,first\n");
    download_matches_its_md5(&browser, "table.resources tr[data-file='meta/input.csv']").await;
    download_matches_its_md5(&browser, "tr[data-extract=dat]").await;
    download_matches_its_md5(&browser, "tr[data-file='page.html']").await;

    let readme = browser.text("#readme").await;
    assert!(readme.contains("The simplest report."), "{readme}");
    assert!(
        readme.contains("<script>document.title = 'readme ran'</script>"),
        "raw HTML reads as text: {readme}"
    );
    assert!(readme.contains("It says <b>hello</b>."), "{readme}");
    let raw_elements = browser
        .execute(
            "return document.querySelectorAll('#readme script, #readme b').length;",
            vec![],
        )
        .await;
    assert_eq!(raw_elements, json!(0));
    assert!(
        browser.exists("#readme table").await,
        "Markdown tables render"
    );
    browser
        .wait_for_text("#changelog", "First public note")
        .await;

    // The graph is shown inline, the HTML page in a sandboxed frame whose script never runs.
    wait_for(Duration::from_secs(10), "the graph's preview", || async {
        let width = browser
            .execute(
                "var img = document.querySelector('img.preview-image'); \
                 return img && img.complete ? img.naturalWidth : 0;",
                vec![],
            )
            .await;
        (width == json!(240)).then_some(())
    })
    .await;
    let sandbox = script_text(
        &browser,
        "return document.querySelector('iframe.preview-frame').getAttribute('sandbox');",
    )
    .await;
    assert_eq!(sandbox, "", "the frame has every sandbox restriction");
    let frame_src = browser
        .wait_for("iframe.preview-frame")
        .await
        .attr("src")
        .await
        .unwrap()
        .unwrap();
    assert!(frame_src.ends_with("/preview/page.html"), "{frame_src}");
    let preview = fetch_in_page(&browser, &frame_src).await;
    assert_eq!(preview.status, 200);
    assert_eq!(preview.header("content-security-policy"), PREVIEW_POLICY);
    assert_eq!(preview.header("x-frame-options"), "SAMEORIGIN");
    assert_eq!(preview.header("x-content-type-options"), "nosniff");
    assert!(preview.header("content-type").starts_with("text/html"));
    assert!(preview.header("content-disposition").starts_with("inline;"));
    let page_csv = fetch_in_page(
        &browser,
        &format!("/ui/reports/minimal/versions/{first}/preview/out.csv"),
    )
    .await;
    assert_eq!(page_csv.status, 404, "only images and pages have previews");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let title = script_text(&browser, "return document.title;").await;
    assert!(
        title != FRAMED_SCRIPT_TITLE && title != "readme ran",
        "{title}"
    );

    // Everything in one zip.
    let zip_link = href(&browser, "#download-zip").await;
    let zip = fetch_in_page(&browser, &zip_link).await;
    assert_eq!(zip.status, 200);
    assert_eq!(zip.header("content-type"), "application/zip");
    assert_eq!(&zip.bytes[..2], b"PK");
    browser
        .execute("window.scrollTo(0, 0); return true;", vec![])
        .await;
    browser.screenshot("reports-version").await;
    browser
        .execute(
            "document.querySelector('iframe.preview-frame').scrollIntoView(); return true;",
            vec![],
        )
        .await;
    browser.screenshot("reports-version-previews").await;
    browser
        .execute(
            "document.getElementById('readme').scrollIntoView(); return true;",
            vec![],
        )
        .await;
    browser.screenshot("reports-version-readme").await;

    // A key that reads one report sees that report only.
    sign_out(&browser).await;
    sign_in(&browser, &app, "minimal.reader", &scoped).await;
    browser.wait_for("tr[data-report=minimal]").await;
    assert!(!browser.exists("tr[data-report=other]").await);
    browser.goto(&app.url("/ui/reports/other")).await;
    browser.wait_for_text("h1", "403").await;

    // A reviewer sees the unpublished version and publishes it from its page.
    browser.goto(&app.url("/ui/reports")).await;
    sign_out(&browser).await;
    sign_in(&browser, &app, "reviewer", &reviewer).await;
    browser.goto(&app.url("/ui/reports/minimal")).await;
    browser
        .wait_for_text(
            &format!("tr[data-version='{second}'] .published-flag"),
            "unpublished",
        )
        .await;
    browser
        .click(&format!("tr[data-version='{second}'] a"))
        .await;
    browser
        .wait_for_text("#version-published", "unpublished")
        .await;
    browser.wait_for_text("#publish-toggle", "Publish").await;
    browser.click("#publish-toggle").await;
    browser.wait_for_text(".notice", "Published").await;
    browser
        .wait_for_text("#version-published", "published")
        .await;
    browser.wait_for_text("#publish-toggle", "Unpublish").await;

    // The reader now sees it, as the latest version.
    sign_out(&browser).await;
    sign_in(&browser, &app, "reader", &reader).await;
    browser
        .wait_for_text("tr[data-report=minimal] .latest-version", &second)
        .await;
    browser.goto(&app.url("/ui/reports/minimal")).await;
    browser
        .wait_for(&format!("tr[data-version='{second}']"))
        .await;
    browser
        .goto(&app.url(&format!("/ui/reports/minimal/versions/{second}")))
        .await;
    browser
        .wait_for_text("tr[data-parameter=greeting] .parameter-value", "second")
        .await;
    browser.close().await;
}

#[tokio::test]
async fn a_runner_runs_a_report_from_its_form_follows_the_log_to_its_new_version_and_kills_another()
{
    let (app, _repo, commits) = reports_app().await;
    let runner = app
        .create_key("runner", "reports.read,reports.review,reports.run", &[])
        .await;
    let earlier = run_to_version(&app, "minimal", json!({})).await;
    let published = app
        .admin()
        .await
        .send(
            "POST",
            &format!("/api/v1/reports/minimal/versions/{earlier}/publish/"),
            None,
        )
        .await;
    assert_eq!(published.status, 200, "{}", published.body);
    let unpublished = run_to_version(&app, "minimal", json!({"gitBranch": "feature"})).await;
    // A long run holds the only worker, so the next one waits in the queue.
    let slow = start_run(&app, "slow", json!({"params": {"seconds": 60}})).await;
    wait_status(&app, &slow, "running").await;
    let (browser, _permit) = browser().await;
    sign_in(&browser, &app, "runner", &runner).await;

    // The form offers the repository's branches and commits, and the parameters with their
    // defaults; another branch brings its own commits.
    browser.goto(&app.url("/ui/reports/minimal")).await;
    browser.wait_for("#run-form").await;
    let value_of = |css: &'static str| {
        let browser = &browser;
        async move {
            script_text(
                browser,
                &format!("return document.querySelector('{css}').value;"),
            )
            .await
        }
    };
    assert_eq!(value_of("#run-branch").await, "master");
    assert_eq!(value_of("#run-commit").await, commits.master);
    assert_eq!(value_of("#param-greeting").await, "hello");
    // A reviewer sees every version, newest first, with its published flag.
    browser
        .wait_for_text("table.versions tbody tr:first-child", &unpublished)
        .await;
    browser
        .wait_for_text(
            &format!("tr[data-version='{unpublished}'] .published-flag"),
            "unpublished",
        )
        .await;
    browser
        .wait_for_text(
            &format!("tr[data-version='{earlier}'] .published-flag"),
            "published",
        )
        .await;
    browser.wait_for_text("#run-branch", "feature").await;
    browser.screenshot("reports-report").await;
    choose(&browser, "#run-branch", "feature").await;
    wait_for(
        Duration::from_secs(10),
        "the feature branch's commits",
        || async { (value_of("#run-commit").await == commits.feature).then_some(()) },
    )
    .await;
    choose(&browser, "#run-branch", "master").await;
    wait_for(
        Duration::from_secs(10),
        "the master branch's commits",
        || async { (value_of("#run-commit").await == commits.master).then_some(()) },
    )
    .await;

    // A required parameter left empty: the form comes back with why.
    browser.goto(&app.url("/ui/reports/needy")).await;
    browser.wait_for("#param-nmin").await;
    browser.click("#run-report").await;
    browser
        .wait_for_text("#run-problem", "missing parameters: nmin")
        .await;

    // The run, with a parameter and a changelog entry from the form.
    browser.goto(&app.url("/ui/reports/minimal")).await;
    browser.fill("#param-greeting", "bonjour").await;
    browser
        .fill("#changelog-message", "Rerun from the console")
        .await;
    choose(&browser, "#changelog-type", "public").await;
    browser.click("#run-report").await;
    browser.wait_for("#run-status").await;
    let run_url = browser.current_url().await;
    let key = run_url
        .rsplit_once("/ui/reports/runs/")
        .map(|(_, key)| key.to_owned())
        .unwrap_or_else(|| panic!("not a run's page: {run_url}"));
    browser.wait_for_text("#run-status", "queued").await;
    browser.wait_for_text("#run-ahead", &slow).await;

    // The queue shows both runs, live.
    browser.goto(&app.url("/ui/reports/queue")).await;
    browser
        .wait_for_text(&format!("tr[data-run='{slow}']"), "running")
        .await;
    browser
        .wait_for_text(&format!("tr[data-run='{key}']"), "queued")
        .await;
    browser.screenshot("reports-queue").await;

    // Killing the long run lets the new one start.
    browser
        .goto(&app.url(&format!("/ui/reports/runs/{slow}")))
        .await;
    browser.wait_for_text("#run-log", "tick 1").await;
    browser.click("#kill-run").await;
    browser.accept_confirmation().await;
    browser.wait_for_text(".notice", "killed").await;
    browser.wait_for_text("#run-status", "interrupted").await;
    assert!(!browser.exists("#kill-run").await);

    // The run's page follows its status and log without reloading, to its new version.
    browser.goto(&run_url).await;
    browser
        .execute(
            "document.body.dataset.unreloaded = 'yes'; return true;",
            vec![],
        )
        .await;
    browser.wait_for_text("#run-log", "greeting=bonjour").await;
    browser.wait_for_text("#run-status", "success").await;
    browser.wait_for_text("#run-log", "step 3 of 3").await;
    let unreloaded = browser
        .execute("return document.body.dataset.unreloaded || 'no';", vec![])
        .await;
    assert_eq!(unreloaded, json!("yes"), "the page was reloaded");
    assert!(
        !browser.exists("#kill-run").await,
        "a finished run has no Kill"
    );
    wait_for(Duration::from_secs(10), "polling to stop", || async {
        let polling = browser
            .execute(
                "return document.querySelectorAll('#run-live[hx-get], #run-log .log-poller').length;",
                vec![],
            )
            .await;
        (polling == json!(0)).then_some(())
    })
    .await;
    let version = browser.text("#run-version").await;
    browser.screenshot("reports-run").await;

    // The new version has the form's parameter, branch, commit and changelog entry.
    browser.click("#run-version").await;
    browser
        .wait_for_text("tr[data-parameter=greeting] .parameter-value", "bonjour")
        .await;
    assert!(browser.current_url().await.ends_with(&version));
    browser.wait_for_text("#git-branch", "master").await;
    browser.wait_for_text("#git-commit", &commits.master).await;
    browser
        .wait_for_text("#changelog li[data-label=public]", "Rerun from the console")
        .await;
    browser
        .wait_for_text("#version-published", "unpublished")
        .await;
    browser.goto(&app.url("/ui/reports/queue")).await;
    browser.wait_for("#queue-empty").await;
    browser.close().await;
}
