//! Security: every attack the security review named, sent through a real socket to real
//! binaries, each in a test that fails without its fix.
//!
//! - [`fronts`]: a front's routes never reach another front's runs.
//! - [`admission`]: nothing expensive happens before a request is authenticated (signature
//!   limits, bodies read after the headers, bounded metrics labels, duplicate `Host`).
//! - [`environment`]: what scripts and tasks can reach (their environment, the master key).
//! - [`outbound`]: outbound HTTP follows the policy (no private addresses, no redirects).
//! - [`reports`]: version ids are reserved before files are written; answers stay bounded.
//! - [`keys`]: master keys, secrets and logins.

#[path = "security/admission.rs"]
mod admission;
#[path = "security/environment.rs"]
mod environment;
#[path = "security/fronts.rs"]
mod fronts;
#[path = "security/keys.rs"]
mod keys;
#[path = "security/outbound.rs"]
mod outbound;
#[path = "security/reports.rs"]
mod reports;
