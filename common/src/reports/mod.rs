//! Reports as orderly describes them: each report is a folder `src/<name>/` of a git
//! repository with an `orderly.yml` ([`config`]); a run of it executes its script ([`script`])
//! in a checkout of the [`repo`], with data extracted first ([`data`], [`databases`]) and global
//! resources copied in ([`globals`]); what it leaves becomes a [`version`] ([`outputs`], its
//! files in the [`artefacts`] store, its [`changelog`]), named by [`ids`]. [`bundles`] pack a
//! report to run elsewhere and import the result.

pub mod artefacts;
pub mod bundles;
pub mod changelog;
pub mod config;
pub mod data;
pub mod databases;
pub mod globals;
pub mod ids;
pub mod outputs;
pub mod repo;
pub mod run_spec;
pub mod script;
pub mod version;
