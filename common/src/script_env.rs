//! The environment of the programs Baton runs for its users: `command` tasks and report
//! scripts (on a worker, and in `baton-worker bundle run`).
//!
//! A program starts from an empty environment (`env_clear`) and gets, in this order (a later
//! entry replaces an earlier one of the same name):
//!
//! 1. [`PASSED_THROUGH`] from the worker's own environment, when set there: `PATH`, `HOME`
//!    and `LANG`;
//! 2. what its executor spec names: a `command` task's `env`; for a report script, one
//!    variable per parameter and `ORDERLY_VERSION`, `ORDERLY_PARAMETERS` and
//!    `ORDERLY_INSTANCES` (see [`report_script`](crate::reports::script));
//! 3. the attempt's own variables, set by the worker's `command` executor: `BATON_PAYLOAD`,
//!    `BATON_RUN_ID`, `BATON_TASK`, `BATON_ATTEMPT` and `BATON_RESULT`.
//!
//! Nothing else of the worker's environment reaches them: not `BATON_REDIS_URL` (the Redis
//! password), not the `AWS_*` credentials of the artefact store, not any other setting.
//!
//! Report parameters become environment variables, so a parameter must not be able to change
//! how the script or the programs it starts behave: [`is_reserved_name`] says which names are
//! taken, and report parameters with such names are refused where they are declared and
//! where a run asks for them.

use std::ffi::OsString;

/// The worker's own variables every program receives, when the worker has them.
pub const PASSED_THROUGH: [&str; 3] = ["PATH", "HOME", "LANG"];

/// Names no report parameter may take: set by Baton, passed through, or read as
/// configuration by the shells, the dynamic loader, the C library, the resolver, TLS and
/// HTTP clients, or the interpreters a script runs under (`sh`, `python3`, `Rscript`).
const RESERVED_NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "SHELL",
    "ENV",
    "IFS",
    "CDPATH",
    "PS4",
    "SHELLOPTS",
    "TMPDIR",
    "TZ",
    "TZDIR",
    "GCONV_PATH",
    "LOCPATH",
    "NLSPATH",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "RES_OPTIONS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
];

/// Prefixes no report parameter may start with: Baton's and orderly's own variables, the
/// locale, and the families read by the dynamic loader (`LD_PRELOAD`, ...), the C library's
/// allocator and tunables, bash, git, OpenSSL and the interpreters (`PYTHONPATH`,
/// `R_LIBS`, `PERL5OPT`, `NODE_OPTIONS`, `RUBYOPT`, ...).
const RESERVED_PREFIXES: &[&str] = &[
    "BATON_", "ORDERLY_", "LC_", "LD_", "DYLD_", "MALLOC_", "GLIBC_", "BASH_", "GIT_", "SSL_",
    "OPENSSL_", "PYTHON", "R_", "PERL", "NODE_", "RUBY",
];

/// Whether `name` is taken: the environment gives it another meaning than a report
/// parameter's value. Names are compared as the environment compares them, with their case.
pub fn is_reserved_name(name: &str) -> bool {
    RESERVED_NAMES.contains(&name)
        || RESERVED_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// The [`PASSED_THROUGH`] variables that this process has, to add to a cleared environment.
pub fn passed_through() -> Vec<(&'static str, OsString)> {
    PASSED_THROUGH
        .iter()
        .filter_map(|&name| std::env::var_os(name).map(|value| (name, value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_configure_programs_are_reserved() {
        for name in [
            "PATH",
            "HOME",
            "LANG",
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "BATON_REDIS_URL",
            "BATON_RESULT",
            "ORDERLY_VERSION",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "R_LIBS",
            "R_PROFILE_USER",
            "LC_ALL",
            "BASH_ENV",
            "ENV",
            "GCONV_PATH",
            "https_proxy",
        ] {
            assert!(is_reserved_name(name), "{name}");
        }
        for name in [
            "nmin",
            "label",
            "path",
            "home",
            "r_version",
            "PATHS_FILE",
            "n",
        ] {
            assert!(!is_reserved_name(name), "{name}");
        }
    }

    #[test]
    fn only_the_passed_through_variables_are_taken_from_this_process() {
        let taken = passed_through();
        assert!(taken.iter().all(|(name, _)| PASSED_THROUGH.contains(name)));
        assert_eq!(
            taken.iter().any(|(name, _)| *name == "PATH"),
            std::env::var_os("PATH").is_some()
        );
    }
}
