//! Load errors and where they point: [`DefinitionError`] (`FILE:LINE:COLUMN: MESSAGE`), and
//! the file being read, which finds the line of a workflow, a task or an executor to blame.

use std::path::{Path, PathBuf};

use super::executors::EXECUTORS_KEY;

/// A definition file that cannot be loaded: where, and why.
///
/// Displayed as `FILE:LINE:COLUMN: MESSAGE`, leaving out what is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), location(*line, *column))]
pub struct DefinitionError {
    /// The file (the directory itself when it cannot be read).
    pub file: PathBuf,
    /// Line (from 1), when known.
    pub line: Option<usize>,
    /// Column (from 1), when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// `:LINE:COLUMN`, `:LINE` or nothing.
fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        _ => String::new(),
    }
}

/// A definition file being read, to locate errors in.
pub(super) struct Source<'a> {
    /// The file.
    pub(super) file: &'a Path,
    /// Its text.
    pub(super) text: &'a str,
}

impl Source<'_> {
    /// An error at `position` (0-based line and column), if known.
    pub(super) fn error(
        &self,
        position: Option<(usize, usize)>,
        message: String,
    ) -> DefinitionError {
        DefinitionError {
            file: self.file.to_path_buf(),
            line: position.map(|(line, _)| line + 1),
            column: position.map(|(_, column)| column + 1),
            message,
        }
    }

    /// An error at the line of the top-level key `key`.
    pub(super) fn workflow_error(&self, key: &str, message: String) -> DefinitionError {
        let position = self
            .text
            .lines()
            .enumerate()
            .find(|(_, line)| key_column(line, key) == Some(0))
            .map(|(index, _)| (index, 0));
        self.error(position, message)
    }

    /// An error at the first line of workflow `key` that names task `name` (or at the
    /// workflow's own line).
    pub(super) fn task_error(&self, key: &str, name: &str, message: String) -> DefinitionError {
        let lines: Vec<&str> = self.text.lines().collect();
        let Some(start) = lines
            .iter()
            .position(|line| key_column(line, key) == Some(0))
        else {
            return self.error(None, message);
        };
        let is_name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        let position = lines
            .iter()
            .enumerate()
            .skip(start + 1)
            .take_while(|(_, line)| line.is_empty() || line.starts_with([' ', '\t', '#', '-']))
            .filter(|(_, line)| !line.trim_start().starts_with('#'))
            .find_map(|(index, line)| {
                line.match_indices(name)
                    .find(|(at, _)| {
                        let before = line[..*at].chars().next_back();
                        let after = line[at + name.len()..].chars().next();
                        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
                    })
                    .map(|(at, _)| (index, at))
            });
        self.error(position.or(Some((start, 0))), message)
    }

    /// An error at the line of the entry `name` of `executors` (or of `executors` itself).
    pub(super) fn executor_error(&self, name: Option<&str>, message: String) -> DefinitionError {
        let lines: Vec<&str> = self.text.lines().collect();
        let Some(start) = lines
            .iter()
            .position(|line| key_column(line, EXECUTORS_KEY) == Some(0))
        else {
            return self.error(None, message);
        };
        let end = lines
            .iter()
            .enumerate()
            .skip(start + 1)
            .find(|(_, line)| !line.is_empty() && !line.starts_with([' ', '\t', '#', '-']))
            .map_or(lines.len(), |(index, _)| index);
        let entry = name.and_then(|name| {
            (start + 1..end).find_map(|index| {
                key_column(lines[index], name)
                    .filter(|column| *column > 0)
                    .map(|column| (index, column))
            })
        });
        self.error(entry.or(Some((start, 0))), message)
    }
}

/// The column where `line` holds the mapping key `key` (bare or quoted), if it does.
fn key_column(line: &str, key: &str) -> Option<usize> {
    let content = line.trim_start();
    let column = line.len() - content.len();
    [key.to_owned(), format!("\"{key}\""), format!("'{key}'")]
        .iter()
        .any(|written| {
            content
                .strip_prefix(written.as_str())
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .then_some(column)
}
