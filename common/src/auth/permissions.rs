//! What a key may do: permissions, granted everywhere or on one report, and the rule that
//! `admin` grants everything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use strum::{Display, EnumString, IntoStaticStr, VariantArray};

use crate::error::InvalidInput;

/// What a key may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    EnumString,
    Display,
    IntoStaticStr,
    VariantArray,
)]
#[strum(parse_err_ty = InvalidInput, parse_err_fn = unknown_permission)]
pub enum Permission {
    /// Read workflows and definitions.
    #[strum(serialize = "workflows.read")]
    WorkflowsRead,
    /// Start, relaunch and cancel workflows.
    #[strum(serialize = "workflows.run")]
    WorkflowsRun,
    /// Read reports and published versions.
    #[strum(serialize = "reports.read")]
    ReportsRead,
    /// See unpublished versions; publish and unpublish.
    #[strum(serialize = "reports.review")]
    ReportsReview,
    /// Run reports.
    #[strum(serialize = "reports.run")]
    ReportsRun,
    /// Read releases.
    #[strum(serialize = "releases.read")]
    ReleasesRead,
    /// Create, change and cancel releases; register task services.
    #[strum(serialize = "releases.write")]
    ReleasesWrite,
    /// Read projects.
    #[strum(serialize = "projects.read")]
    ProjectsRead,
    /// Create projects.
    #[strum(serialize = "projects.write")]
    ProjectsWrite,
    /// Work on human tasks of projects.
    #[strum(serialize = "projects.work")]
    ProjectsWork,
    /// Review human tasks others submitted: accept them or send them back.
    #[strum(serialize = "projects.review")]
    ProjectsReview,
    /// Steer projects: end (abort) them, pause and resume them, assign and reassign their
    /// human tasks.
    #[strum(serialize = "projects.manage")]
    ProjectsManage,
    /// See and steer queues, dead letters and workers.
    #[strum(serialize = "operator")]
    Operator,
    /// Everything.
    #[strum(serialize = "admin")]
    Admin,
}

impl Permission {
    /// Every permission.
    pub const ALL: &'static [Permission] = <Self as VariantArray>::VARIANTS;

    /// The permission's name (`workflows.read`, ...).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

fn unknown_permission(text: &str) -> InvalidInput {
    let names: Vec<&str> = Permission::ALL
        .iter()
        .map(|permission| permission.as_str())
        .collect();
    InvalidInput::new(format!(
        "unknown permission '{text}': use {}",
        names.join(", ")
    ))
}

/// True when `held` grants `wanted` (`admin` grants everything).
pub fn grants(held: &BTreeSet<Permission>, wanted: Permission) -> bool {
    held.contains(&wanted) || held.contains(&Permission::Admin)
}

/// The prefix of a permission scoped to one report: `report:NAME/reports.read`.
const REPORT_SCOPE: &str = "report:";

/// One granted permission as written: `reports.read`, or `report:NAME/reports.read` for
/// one report only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Everywhere.
    Global(Permission),
    /// On one report only.
    Report(String, Permission),
}

impl FromStr for Grant {
    type Err = InvalidInput;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some(scoped) = text.strip_prefix(REPORT_SCOPE) else {
            return Ok(Self::Global(text.parse()?));
        };
        let (report, permission) = scoped.rsplit_once('/').ok_or_else(|| {
            InvalidInput::new(format!(
                "'{text}': a report permission reads 'report:NAME/reports.read'"
            ))
        })?;
        let permission: Permission = permission.parse()?;
        if !matches!(
            permission,
            Permission::ReportsRead | Permission::ReportsReview | Permission::ReportsRun
        ) {
            return Err(InvalidInput::new(format!(
                "'{text}': only reports.read, reports.review and reports.run can be given for one report"
            )));
        }
        // Grants are stored comma-separated: a name is a report's name, never a list.
        if !crate::reports::repo::valid_report_name(report) {
            return Err(InvalidInput::new(format!(
                "'{text}': '{report}' is not a report name (letters, digits, '_', '-', '.')"
            )));
        }
        Ok(Self::Report(report.to_owned(), permission))
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Global(permission) => write!(f, "{permission}"),
            Self::Report(report, permission) => write!(f, "{REPORT_SCOPE}{report}/{permission}"),
        }
    }
}

/// Splits grants into global permissions and per-report ones.
pub fn split_grants(
    grants: impl IntoIterator<Item = Grant>,
) -> (BTreeSet<Permission>, BTreeMap<String, BTreeSet<Permission>>) {
    let mut global = BTreeSet::new();
    let mut reports: BTreeMap<String, BTreeSet<Permission>> = BTreeMap::new();
    for grant in grants {
        match grant {
            Grant::Global(permission) => {
                global.insert(permission);
            }
            Grant::Report(report, permission) => {
                reports.entry(report).or_default().insert(permission);
            }
        }
    }
    (global, reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_by_name_and_admin_grants_all() {
        for permission in Permission::ALL {
            assert_eq!(
                permission.as_str().parse::<Permission>().unwrap(),
                *permission
            );
        }
        let error = "workflows.write".parse::<Permission>().unwrap_err();
        assert!(error.to_string().contains("workflows.run"));
        let admin = BTreeSet::from([Permission::Admin]);
        assert!(
            Permission::ALL
                .iter()
                .all(|&permission| grants(&admin, permission))
        );
        let reader = BTreeSet::from([Permission::WorkflowsRead]);
        assert!(grants(&reader, Permission::WorkflowsRead));
        assert!(!grants(&reader, Permission::WorkflowsRun));
    }

    #[test]
    fn report_grants_name_one_report() {
        assert_eq!(
            "report:minimal/reports.run".parse::<Grant>().unwrap(),
            Grant::Report("minimal".into(), Permission::ReportsRun)
        );
        for bad in [
            "report:/reports.read",
            "report:a,b/reports.read",
            "report:a b/reports.read",
            "report:minimal/admin",
            "report:minimal",
        ] {
            assert!(bad.parse::<Grant>().is_err(), "{bad}");
        }
    }
}
