//! Report changelogs as orderly keeps them: a report's `changelog.txt` lists entries under
//! `[label]` lines, and every version records the whole file as it was at its commit. An entry
//! belongs to the first version that listed it; OrderlyWeb shows, for a version, the entries of
//! that version and every earlier one, newest version first.
//!
//! ```text
//! [public]
//! Added the 2019 data.
//!
//! [internal]
//! Rewrote the cleaning step;
//! it is twice as fast.
//! ```

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::reports::version::{ChangelogEntry, VersionRecord};

/// Why a `changelog.txt` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangelogError {
    /// Text appears before the first `[label]` line.
    #[error("line {line}: text before the first [label] line")]
    TextBeforeLabel {
        /// The line, from 1.
        line: usize,
    },
    /// A `[label]` line whose label is not a lowercase word.
    #[error("line {line}: the label '{label}' must be a lowercase word such as 'public'")]
    BadLabel {
        /// The line, from 1.
        line: usize,
        /// The label as written.
        label: String,
    },
    /// A label with no text under it.
    #[error("line {line}: the [{label}] entry is empty")]
    EmptyEntry {
        /// The label's line, from 1.
        line: usize,
        /// The label.
        label: String,
    },
}

/// A changelog entry with the version it belongs to, as OrderlyWeb serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionedEntry {
    /// `public` or a reviewer-only label such as `internal`.
    pub label: String,
    /// The text.
    pub value: String,
    /// True when it came from the report's `changelog.txt`.
    pub from_file: bool,
    /// The first version that listed it.
    pub report_version: String,
}

/// What a changelog needs of a version: its id and every entry its record lists. Stored
/// beside the record, so a changelog reads these instead of whole records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionChanges {
    /// The version id.
    pub id: String,
    /// Its changelog entries as its record lists them (earlier versions' included).
    pub entries: Vec<ChangelogEntry>,
}

impl From<&VersionRecord> for VersionChanges {
    fn from(record: &VersionRecord) -> Self {
        Self {
            id: record.id.clone(),
            entries: record.changelog.clone(),
        }
    }
}

/// The entries a version brought: those no earlier version listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionChangelog {
    /// The version id.
    pub version: String,
    /// Its new entries, in the order it lists them.
    pub entries: Vec<ChangelogEntry>,
}

fn is_label(label: &str) -> bool {
    label.starts_with(|c: char| c.is_ascii_lowercase())
        && label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The entries under one label while the file is read.
struct Pending {
    label: String,
    line: usize,
    lines: Vec<String>,
}

impl Pending {
    fn finish(self) -> Result<ChangelogEntry, ChangelogError> {
        let value = self.lines.join("\n").trim_matches('\n').to_owned();
        if value.trim().is_empty() {
            return Err(ChangelogError::EmptyEntry {
                line: self.line,
                label: self.label,
            });
        }
        Ok(ChangelogEntry {
            label: self.label,
            value,
            from_file: true,
        })
    }
}

/// Reads a `changelog.txt`: each `[label]` line starts an entry whose value is the lines
/// under it (joined with newlines, surrounding blank lines dropped). Every entry has
/// `from_file` set.
pub fn parse(text: &str) -> Result<Vec<ChangelogEntry>, ChangelogError> {
    let mut entries = Vec::new();
    let mut pending: Option<Pending> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if let Some(label) = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            if !is_label(label) {
                return Err(ChangelogError::BadLabel {
                    line,
                    label: label.to_owned(),
                });
            }
            if let Some(done) = pending.take() {
                entries.push(done.finish()?);
            }
            pending = Some(Pending {
                label: label.to_owned(),
                line,
                lines: Vec::new(),
            });
            continue;
        }
        match pending.as_mut() {
            Some(entry) => entry.lines.push(raw.trim_end().to_owned()),
            None if trimmed.is_empty() => {}
            None => return Err(ChangelogError::TextBeforeLabel { line }),
        }
    }
    if let Some(done) = pending {
        entries.push(done.finish()?);
    }
    Ok(entries)
}

/// Attributes every entry to the first version whose changelog lists it. `versions` come in
/// ascending id order; the result has one item per version, in the same order.
pub fn attribute<'a>(
    versions: impl IntoIterator<Item = &'a VersionChanges>,
) -> Vec<VersionChangelog> {
    let mut seen: HashSet<(&'a str, &'a str, bool)> = HashSet::new();
    let key =
        |entry: &'a ChangelogEntry| (entry.label.as_str(), entry.value.as_str(), entry.from_file);
    versions
        .into_iter()
        .map(|version| {
            let entries = version
                .entries
                .iter()
                .filter(|entry| !seen.contains(&key(entry)))
                .cloned()
                .collect();
            seen.extend(version.entries.iter().map(key));
            VersionChangelog {
                version: version.id.clone(),
                entries,
            }
        })
        .collect()
}

/// The changelog OrderlyWeb shows for version `upto` of a report: the entries of every version
/// with an id up to `upto`, newest version first. Reviewers see everything; other readers see
/// only `public` entries of versions for which `published` is true.
///
/// `versions` are all of the report's versions, in ascending id order.
pub fn changelog_for<'a>(
    versions: impl IntoIterator<Item = &'a VersionChanges>,
    upto: &str,
    published: &dyn Fn(&str) -> bool,
    reviewer: bool,
) -> Vec<VersionedEntry> {
    let mut attributed = attribute(versions);
    attributed.retain(|version| version.version.as_str() <= upto);
    attributed
        .into_iter()
        .rev()
        .filter(|version| reviewer || published(&version.version))
        .flat_map(|version| {
            let id = version.version;
            version
                .entries
                .into_iter()
                .filter(|entry| reviewer || entry.is_public())
                .map(move |entry| VersionedEntry {
                    label: entry.label,
                    value: entry.value,
                    from_file: entry.from_file,
                    report_version: id.clone(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(label: &str, value: &str, from_file: bool) -> ChangelogEntry {
        ChangelogEntry {
            label: label.into(),
            value: value.into(),
            from_file,
        }
    }

    /// What a changelog reads of a version `id` whose record lists `changelog`.
    fn version(id: &str, changelog: Vec<ChangelogEntry>) -> VersionChanges {
        let record: VersionRecord = serde_json::from_value(serde_json::json!({
            "id": id,
            "name": "minimal",
            "date": "2016-10-06 14:23:57.0",
            "changelog": changelog,
        }))
        .unwrap();
        VersionChanges::from(&record)
    }

    #[test]
    fn entries_are_read_under_their_labels() {
        let text = "\n[public]\nAdded the 2019 data.\n\n[internal]\n\nRewrote the cleaning;\n  twice as fast.\n\n\n[public]\nFirst version\n";
        assert_eq!(
            parse(text).unwrap(),
            vec![
                entry("public", "Added the 2019 data.", true),
                entry("internal", "Rewrote the cleaning;\n  twice as fast.", true),
                entry("public", "First version", true),
            ]
        );
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(
            parse("[reviewer_note2]\nok").unwrap(),
            vec![entry("reviewer_note2", "ok", true)]
        );
    }

    #[test]
    fn broken_changelogs_name_the_line() {
        assert_eq!(
            parse("\nsomething\n[public]\nx\n"),
            Err(ChangelogError::TextBeforeLabel { line: 2 })
        );
        assert_eq!(
            parse("[public]\nx\n[internal]\n\n[public]\ny\n"),
            Err(ChangelogError::EmptyEntry {
                line: 3,
                label: "internal".into()
            })
        );
        assert_eq!(
            parse("[public]\n"),
            Err(ChangelogError::EmptyEntry {
                line: 1,
                label: "public".into()
            })
        );
        let error = parse("[Public]\nx\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 1: the label 'Public' must be a lowercase word such as 'public'"
        );
    }

    #[test]
    fn each_entry_belongs_to_the_first_version_that_lists_it() {
        let first = version("20200101-000000-00000001", vec![entry("public", "a", true)]);
        let second = version(
            "20200201-000000-00000002",
            vec![
                entry("internal", "b", true),
                entry("public", "a", true),
                entry("public", "a", false),
            ],
        );
        let third = version(
            "20200301-000000-00000003",
            vec![entry("internal", "b", true), entry("public", "a", true)],
        );
        let attributed = attribute([&first, &second, &third]);
        assert_eq!(
            attributed,
            vec![
                VersionChangelog {
                    version: first.id.clone(),
                    entries: vec![entry("public", "a", true)],
                },
                VersionChangelog {
                    version: second.id.clone(),
                    entries: vec![entry("internal", "b", true), entry("public", "a", false)],
                },
                VersionChangelog {
                    version: third.id.clone(),
                    entries: vec![],
                },
            ]
        );
    }

    #[test]
    fn readers_see_public_entries_of_published_versions_newest_first() {
        let first = version("20200101-000000-00000001", vec![entry("public", "a", true)]);
        let second = version(
            "20200201-000000-00000002",
            vec![entry("internal", "b", true), entry("public", "a", true)],
        );
        let third = version(
            "20200301-000000-00000003",
            vec![entry("public", "c", false)],
        );
        let fourth = version(
            "20200401-000000-00000004",
            vec![entry("public", "d", false)],
        );
        let versions = [&first, &second, &third, &fourth];
        let shown = |reviewer: bool| {
            changelog_for(
                versions,
                &third.id,
                &|id: &str| id != second.id.as_str(),
                reviewer,
            )
            .into_iter()
            .map(|entry| (entry.report_version, entry.label, entry.value))
            .collect::<Vec<_>>()
        };
        let row = |version: &VersionChanges, label: &str, value: &str| {
            (version.id.clone(), label.to_owned(), value.to_owned())
        };
        assert_eq!(
            shown(true),
            vec![
                row(&third, "public", "c"),
                row(&second, "internal", "b"),
                row(&first, "public", "a"),
            ]
        );
        assert_eq!(
            shown(false),
            vec![row(&third, "public", "c"), row(&first, "public", "a")]
        );
        let json = serde_json::to_value(changelog_for(versions, &first.id, &|_| true, false));
        assert_eq!(
            json.unwrap(),
            serde_json::json!([{"label": "public", "value": "a", "from_file": true, "report_version": first.id}])
        );
    }
}
