//! The reference pages in `docs/` against the code they describe.
//!
//! Three tables mirror code, and each is compared with it in both directions, so an entry
//! missing on either side fails:
//!
//! - `docs/configuration.md`: the environment variables the binaries read. Those read through
//!   clap are taken from clap itself (every argument of `baton-api`, `baton-worker`,
//!   `baton-scheduler` and `baton`, flattened groups and subcommands included), with the
//!   binaries that read each and its default. A few are read with `std::env::var` outside
//!   clap (the log format, the master key's own checks); no registry lists them, so the
//!   binaries' sources are searched for `env::var(...)` and `env::var_os(...)` calls naming a
//!   `BATON_` variable, directly or through a `const` holding its name. Names built at run
//!   time (a report's `ORDERLY_` database arguments) are described in prose, not the table.
//! - `docs/keys.md`: `common::keys::CATALOGUE`, entry for entry, in order (the catalogue's own
//!   unit tests check it against every key builder).
//! - `docs/routes.md`: `api::routes::catalogue()`, the OpenAPI document's operations and the
//!   console's pages (whose own unit tests check them against the routers); and every route
//!   of the catalogue is asked of a running server, which must not answer 404 or 405.
//!
//! Every relative link of the README and of `docs/` must lead to a file, and an anchor to a
//! heading of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use baton_tests::TestApp;
use clap::CommandFactory;
use common::test_support::{git, write_file};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace")
        .to_owned()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|error| panic!("cannot read {relative}: {error}"))
}

/// A Markdown table: its header cells and rows of cells, backslash-escaped pipes unescaped.
#[derive(Debug)]
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn cells(line: &str) -> Vec<String> {
    let line = line.trim().trim_start_matches('|');
    let line = line.strip_suffix('|').unwrap_or(line);
    let mut cells = vec![String::new()];
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => cells.push(String::new()),
            _ => cells.last_mut().unwrap().push(c),
        }
    }
    cells.iter().map(|cell| cell.trim().to_owned()).collect()
}

/// Every table of a Markdown text, outside code blocks.
fn tables(text: &str) -> Vec<Table> {
    let mut tables = Vec::new();
    let mut lines = prose_lines(text).into_iter().peekable();
    while let Some(line) = lines.next() {
        let is_header = line.trim_start().starts_with('|')
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("|---"));
        if !is_header {
            continue;
        }
        lines.next();
        let mut rows = Vec::new();
        while let Some(row) = lines.next_if(|row| row.trim_start().starts_with('|')) {
            rows.push(cells(row));
        }
        tables.push(Table {
            header: cells(line),
            rows,
        });
    }
    tables
}

/// The tables of `file` whose header starts with `columns`; fails when there is none.
fn tables_with(file: &str, columns: &[&str]) -> Vec<Table> {
    let found: Vec<Table> = tables(&read(file))
        .into_iter()
        .filter(|table| {
            table.header.len() >= columns.len() && table.header[..columns.len()] == *columns
        })
        .collect();
    assert!(
        !found.is_empty(),
        "{file} has no table with the columns {columns:?}"
    );
    found
}

/// A cell's text without its surrounding backticks.
fn unquoted(cell: &str) -> &str {
    cell.strip_prefix('`')
        .and_then(|cell| cell.strip_suffix('`'))
        .unwrap_or(cell)
}

/// The lines of a Markdown text that are not inside fenced code blocks.
fn prose_lines(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// Fails with both sides' extra entries when `documented` and `coded` differ.
fn assert_same<T: Ord + std::fmt::Debug + Clone>(
    what: &str,
    documented: &[T],
    coded: &[T],
    expected_table: &str,
) {
    let documented_set: BTreeSet<T> = documented.iter().cloned().collect();
    let coded_set: BTreeSet<T> = coded.iter().cloned().collect();
    let missing: Vec<&T> = coded_set.difference(&documented_set).collect();
    let extra: Vec<&T> = documented_set.difference(&coded_set).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && documented.len() == coded.len(),
        "{what} and the code disagree.\nIn the code, not in the docs: {missing:#?}\n\
         In the docs, not in the code: {extra:#?}\nThe table the code describes:\n{expected_table}"
    );
}

// --- Configuration ---------------------------------------------------------------------------

/// What the binaries' clap options say of one environment variable.
#[derive(Debug, Default)]
struct Variable {
    binaries: BTreeSet<String>,
    defaults: BTreeSet<String>,
}

fn collect_env(binary: &str, command: &clap::Command, found: &mut BTreeMap<String, Variable>) {
    for argument in command.get_arguments() {
        let Some(name) = argument.get_env() else {
            continue;
        };
        let variable = found
            .entry(name.to_string_lossy().into_owned())
            .or_default();
        variable.binaries.insert(binary.to_owned());
        let defaults: Vec<String> = argument
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .filter(|value| !value.is_empty())
            .collect();
        if !defaults.is_empty() {
            variable.defaults.insert(defaults.join(","));
        }
    }
    for subcommand in command.get_subcommands() {
        collect_env(binary, subcommand, found);
    }
}

/// Every variable read through clap, by name.
fn clap_variables() -> BTreeMap<String, Variable> {
    let mut found = BTreeMap::new();
    for (binary, command) in [
        ("baton-api", api::config::ApiOptions::command()),
        ("baton-worker", worker::WorkerOptions::command()),
        ("baton-scheduler", scheduler::SchedulerOptions::command()),
        ("baton", baton_cli::args::Cli::command()),
    ] {
        collect_env(binary, &command, &mut found);
    }
    found
}

/// The Rust sources of the binaries' crates.
fn sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for dir in [
        "common/src",
        "api/src",
        "worker/src",
        "scheduler/src",
        "cli/src",
    ] {
        for entry in walkdir::WalkDir::new(root().join(dir)) {
            let entry = entry.expect("the sources are readable");
            if entry.path().extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(entry.path()).expect("a source is UTF-8");
                files.push((entry.path().to_owned(), text));
            }
        }
    }
    files
}

/// The `BATON_` variables the sources read with `std::env::var` or `var_os`, named directly
/// or through a `const NAME: &str = "BATON_..."`.
fn variables_read_outside_clap() -> BTreeSet<String> {
    let sources = sources();
    let mut constants = BTreeMap::new();
    for (_, text) in &sources {
        for line in text.lines() {
            let line = line.trim();
            let Some(rest) = line
                .strip_prefix("pub const ")
                .or_else(|| line.strip_prefix("const "))
            else {
                continue;
            };
            if let Some((name, value)) = rest.split_once(": &str = \"") {
                constants.insert(name.to_owned(), value.trim_end_matches("\";").to_owned());
            }
        }
    }
    let mut found = BTreeSet::new();
    for (_, text) in &sources {
        for call in ["env::var(", "env::var_os("] {
            for (at, _) in text.match_indices(call) {
                let argument = &text[at + call.len()..];
                let argument = argument[..argument.find(')').unwrap_or(0)].trim();
                let name = match argument.strip_prefix('"') {
                    Some(literal) => literal.trim_end_matches('"').to_owned(),
                    None => match constants.get(argument) {
                        Some(value) => value.clone(),
                        // A name computed at run time (`name`): not a setting of Baton's.
                        None => continue,
                    },
                };
                if name.starts_with("BATON_") {
                    found.insert(name);
                }
            }
        }
    }
    found
}

#[test]
fn configuration_table_lists_every_variable_the_binaries_read() {
    let clap = clap_variables();
    let outside = variables_read_outside_clap();
    let tables = tables_with("docs/configuration.md", &["variable", "default", "read by"]);
    let mut documented = Vec::new();
    let mut problems = Vec::new();
    for row in tables.iter().flat_map(|table| &table.rows) {
        let name = unquoted(&row[0]).to_owned();
        documented.push(name.clone());
        let Some(variable) = clap.get(&name) else {
            continue;
        };
        let readers: BTreeSet<String> = row[2]
            .split(',')
            .map(|reader| unquoted(reader.trim()).to_owned())
            .collect();
        if readers != variable.binaries {
            problems.push(format!(
                "{name} is read by {:?}, the docs say {readers:?}",
                variable.binaries
            ));
        }
        let default = &row[1];
        match variable.defaults.iter().collect::<Vec<_>>()[..] {
            [] if !default.starts_with('—') => {
                problems.push(format!("{name} has no default, the docs say {default}"))
            }
            [value] if !default.starts_with(&format!("`{value}`")) => problems.push(format!(
                "{name} defaults to `{value}`, the docs say {default}"
            )),
            [_, _, ..] => problems.push(format!(
                "{name} has different defaults in different binaries: {:?}",
                variable.defaults
            )),
            _ => {}
        }
    }
    let mut coded: Vec<String> = clap.keys().cloned().collect();
    coded.extend(outside.into_iter().filter(|name| !clap.contains_key(name)));
    let expected: String = clap
        .iter()
        .map(|(name, variable)| {
            let default = variable
                .defaults
                .first()
                .map_or("—".to_owned(), |value| format!("`{value}`"));
            let readers: Vec<String> = variable
                .binaries
                .iter()
                .map(|binary| format!("`{binary}`"))
                .collect();
            format!("| `{name}` | {default} | {} | |\n", readers.join(", "))
        })
        .collect();
    assert_same("docs/configuration.md", &documented, &coded, &expected);
    assert!(problems.is_empty(), "docs/configuration.md: {problems:#?}");
}

// --- Redis keys ------------------------------------------------------------------------------

#[test]
fn keys_table_is_the_key_catalogue() {
    let tables = tables_with("docs/keys.md", &["key", "type", "purpose"]);
    assert_eq!(tables.len(), 1, "docs/keys.md has one table of keys");
    let documented: Vec<(String, String, String)> = tables[0]
        .rows
        .iter()
        .map(|row| (unquoted(&row[0]).to_owned(), row[1].clone(), row[2].clone()))
        .collect();
    let coded: Vec<(String, String, String)> = common::keys::CATALOGUE
        .iter()
        .map(|entry| {
            (
                entry.pattern.to_owned(),
                entry.kind.to_owned(),
                entry.purpose.to_owned(),
            )
        })
        .collect();
    let expected: String = common::keys::CATALOGUE
        .iter()
        .map(|entry| {
            format!(
                "| `{}` | {} | {} |\n",
                entry.pattern,
                entry.kind,
                entry.purpose.replace('|', "\\|")
            )
        })
        .collect();
    assert_same("docs/keys.md", &documented, &coded, &expected);
    assert_eq!(
        documented, coded,
        "docs/keys.md lists the keys in the catalogue's order:\n{expected}"
    );
}

// --- HTTP routes -----------------------------------------------------------------------------

/// Method, path, front and permission of each route.
type RouteRow = (String, String, String, String);

fn documented_routes() -> Vec<RouteRow> {
    tables_with("docs/routes.md", &["method", "path", "front", "permission"])
        .iter()
        .flat_map(|table| &table.rows)
        .map(|row| {
            (
                row[0].clone(),
                unquoted(&row[1]).to_owned(),
                row[2].clone(),
                row[3].clone(),
            )
        })
        .collect()
}

#[test]
fn routes_table_is_the_route_catalogue() {
    let catalogue = api::routes::catalogue();
    let coded: Vec<RouteRow> = catalogue
        .iter()
        .map(|route| {
            (
                route.method.clone(),
                route.path.to_owned(),
                route.front.to_owned(),
                route.permission.clone(),
            )
        })
        .collect();
    let expected: String = catalogue
        .iter()
        .map(|route| {
            format!(
                "| {} | `{}` | {} | {} | |\n",
                route.method, route.path, route.front, route.permission
            )
        })
        .collect();
    assert_same("docs/routes.md", &documented_routes(), &coded, &expected);
}

/// A reports repository with one report, so that the reports front answers.
fn reports_repository(dir: &Path) {
    git(dir, &["init", "-q", "-b", "master"]);
    write_file(
        dir,
        "src/minimal/orderly.yml",
        "script: run.sh\nartefacts:\n  - data:\n      description: A table\n      filenames: out.csv\n",
        false,
    );
    write_file(dir, "src/minimal/run.sh", "echo a > out.csv\n", true);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "one report"]);
}

#[tokio::test]
async fn every_catalogued_route_is_served() {
    let repo = tempfile::tempdir().unwrap();
    reports_repository(repo.path());
    let app = TestApp::builder().reports_repo(repo.path()).spawn().await;
    // Unsigned and without a session: a route the server knows answers (200, a redirect to
    // the sign-in page, 401, 403, 400), one it does not answers 404, or 405 for another
    // method of a known path, before any credential is looked at.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut unserved = Vec::new();
    for route in api::routes::catalogue() {
        let method: reqwest::Method = route.method.parse().unwrap();
        let answer = http
            .request(method, app.url(&route.example))
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        if status == 404 || status == 405 {
            unserved.push(format!(
                "{} {} ({}) answered {status}",
                route.method, route.path, route.example
            ));
        }
    }
    assert!(
        unserved.is_empty(),
        "catalogued but not served: {unserved:#?}"
    );
    // And the check tells: a path no route takes is a 404.
    let unknown = http.get(app.url("/ui/no-such-page")).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
}

// --- Links -----------------------------------------------------------------------------------

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor_of(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings, with GitHub's suffixes for repeated ones.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for line in prose_lines(text) {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let anchor = anchor_of(heading.trim_start_matches('#'));
        let count = seen.entry(anchor.clone()).or_default();
        anchors.insert(match *count {
            0 => anchor,
            n => format!("{anchor}-{n}"),
        });
        *count += 1;
    }
    anchors
}

/// The targets of the Markdown links of a text, outside code blocks and inline code.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(text) {
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(at, _)| at % 2 == 0)
            .map(|(_, part)| part)
            .collect::<Vec<_>>()
            .join(" ");
        for (at, _) in prose.match_indices("](") {
            let rest = &prose[at + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].to_owned());
            }
        }
    }
    targets
}

/// The README and every page of `docs/`.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let path = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !path.exists() {
                broken.push(format!("{}: {target} (no such file)", page.display()));
                continue;
            }
            let is_markdown = path.extension().is_some_and(|ext| ext == "md");
            if !anchor.is_empty() && is_markdown {
                let text = std::fs::read_to_string(&path).unwrap();
                if !anchors(&text).contains(anchor) {
                    broken.push(format!("{}: {target} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}

#[test]
fn anchors_follow_github() {
    assert_eq!(
        anchor_of("Reports (OrderlyWeb's API v1)"),
        "reports-orderlywebs-api-v1"
    );
    assert_eq!(anchor_of("The `baton` CLI"), "the-baton-cli");
    assert_eq!(
        link_targets("see [a](docs/a.md#b) and `[c](d)`\n```\n[e](f)\n```\n"),
        ["docs/a.md#b"]
    );
}
