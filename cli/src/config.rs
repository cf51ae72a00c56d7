//! Where the API is and which key signs: `--url`, `--key-id` and `--secret` (or
//! `BATON_URL`, `BATON_KEY_ID`, `BATON_SECRET`), or a profile of the config file
//! (`~/.config/baton/config.toml`, or `--config` / `BATON_CONFIG`):
//!
//! ```toml
//! [profiles.prod]
//! url = "https://baton.example.org"
//! key_id = "ops"
//! secret = "..."
//! ```
//!
//! With `--profile NAME` (or `BATON_PROFILE`) the profile is used as it is: the environment
//! is ignored, so a shell that sourced `.baton/env` still reaches the named deployment.
//! Without it, flags and environment win and the profile `default`, when the file has one,
//! fills what they leave out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The profile that fills what flags and environment leave out.
pub const DEFAULT_PROFILE: &str = "default";

/// Why the target could not be made out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The config file cannot be read or parsed.
    #[error("cannot read {path}: {cause}")]
    File {
        /// The file.
        path: String,
        /// Why.
        cause: String,
    },
    /// The named profile is not in the file.
    #[error("no profile '{name}' in {path}")]
    NoProfile {
        /// The profile.
        name: String,
        /// The file.
        path: String,
    },
    /// A setting is missing everywhere it was looked for.
    #[error("{0}")]
    Missing(String),
    /// The URL is not an http(s) URL.
    #[error("invalid URL '{0}': use http://HOST:PORT or https://HOST")]
    BadUrl(String),
}

/// One profile of the config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The API's base URL.
    pub url: Option<String>,
    /// The key id.
    pub key_id: Option<String>,
    /// The key's secret.
    pub secret: Option<String>,
}

/// The config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

impl ConfigFile {
    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Reads the file at `path`; a missing file is an empty one.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let error = |cause: String| ConfigError::File {
            path: path.display().to_string(),
            cause,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(|cause| error(cause.to_string())),
            Err(cause) if cause.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(cause) => Err(error(cause.to_string())),
        }
    }
}

/// The config file's default place: `~/.config/baton/config.toml` (under
/// `$XDG_CONFIG_HOME` when set).
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("baton").join("config.toml"))
}

/// The API and the key that signs.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// The base URL, without a trailing slash.
    pub url: String,
    /// The key id.
    pub key_id: String,
    /// The secret.
    pub secret: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Makes out the target from what flags and environment gave (`given`), the profile asked
/// for, and the config file (read from `path`) as the module says.
pub fn resolve(
    given: &Profile,
    profile: Option<&str>,
    path: Option<&Path>,
) -> Result<Target, ConfigError> {
    let file = match path {
        Some(path) => ConfigFile::read(path)?,
        None => ConfigFile::default(),
    };
    let shown = path.map_or_else(|| "the config file".to_owned(), |p| p.display().to_string());
    let chosen = match profile {
        Some(name) => file
            .profiles
            .get(name)
            .cloned()
            .ok_or_else(|| ConfigError::NoProfile {
                name: name.to_owned(),
                path: shown.clone(),
            })?,
        None => {
            let fallback = file
                .profiles
                .get(DEFAULT_PROFILE)
                .cloned()
                .unwrap_or_default();
            Profile {
                url: given.url.clone().or(fallback.url),
                key_id: given.key_id.clone().or(fallback.key_id),
                secret: given.secret.clone().or(fallback.secret),
            }
        }
    };
    let from = match profile {
        Some(name) => format!("profile '{name}' of {shown}"),
        None => format!("--{{flag}}, BATON_{{VAR}}, or profile '{DEFAULT_PROFILE}' of {shown}"),
    };
    let missing = |flag: &str, var: &str| {
        let from = from.replace("{flag}", flag).replace("{VAR}", var);
        ConfigError::Missing(format!("no {flag} given: set it with {from}"))
    };
    let url = chosen
        .url
        .filter(|url| !url.trim().is_empty())
        .ok_or_else(|| missing("url", "URL"))?;
    let url = url.trim().trim_end_matches('/').to_owned();
    match url::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {}
        _ => return Err(ConfigError::BadUrl(url)),
    }
    let key_id = chosen
        .key_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| missing("key-id", "KEY_ID"))?;
    let secret = chosen
        .secret
        .filter(|secret| !secret.is_empty())
        .ok_or_else(|| missing("secret", "SECRET"))?;
    Ok(Target {
        url,
        key_id,
        secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[profiles.default]
url = "http://127.0.0.1:8000/"
key_id = "local"
secret = "local-secret"

[profiles.prod]
url = "https://baton.example.org"
key_id = "ops"
secret = "prod-secret"
"#;

    fn file() -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), FILE).unwrap();
        file
    }

    fn given(url: Option<&str>, key_id: Option<&str>, secret: Option<&str>) -> Profile {
        Profile {
            url: url.map(str::to_owned),
            key_id: key_id.map(str::to_owned),
            secret: secret.map(str::to_owned),
        }
    }

    #[test]
    fn profiles_parse_by_name() {
        let parsed = ConfigFile::parse(FILE).unwrap();
        assert_eq!(parsed.profiles.len(), 2);
        assert_eq!(parsed.profiles["prod"].key_id.as_deref(), Some("ops"));
        assert!(ConfigFile::parse("[profiles.x]\nurl = 1\n").is_err());
        assert!(ConfigFile::parse("[profiles.x]\nuser = \"a\"\n").is_err());
        assert_eq!(ConfigFile::parse("").unwrap(), ConfigFile::default());
    }

    #[test]
    fn a_named_profile_wins_over_the_environment() {
        let file = file();
        let env = given(Some("http://localhost:1"), Some("env"), Some("env-secret"));
        let target = resolve(&env, Some("prod"), Some(file.path())).unwrap();
        assert_eq!(target.url, "https://baton.example.org");
        assert_eq!(target.key_id, "ops");
        assert_eq!(target.secret, "prod-secret");
        let error = resolve(&env, Some("staging"), Some(file.path())).unwrap_err();
        assert!(matches!(error, ConfigError::NoProfile { .. }), "{error}");
    }

    #[test]
    fn the_environment_wins_and_the_default_profile_fills_gaps() {
        let file = file();
        let env = given(Some("http://10.0.0.1:9000/"), None, Some("env-secret"));
        let target = resolve(&env, None, Some(file.path())).unwrap();
        assert_eq!(target.url, "http://10.0.0.1:9000");
        assert_eq!(target.key_id, "local");
        assert_eq!(target.secret, "env-secret");
        assert!(!format!("{target:?}").contains("env-secret"));
    }

    #[test]
    fn what_is_missing_is_named() {
        let missing = std::path::Path::new("/nonexistent/baton/config.toml");
        let error = resolve(&given(None, Some("a"), Some("b")), None, Some(missing)).unwrap_err();
        assert!(error.to_string().contains("BATON_URL"), "{error}");
        let error = resolve(&given(Some("http://h:1"), None, Some("b")), None, None).unwrap_err();
        assert!(error.to_string().contains("BATON_KEY_ID"), "{error}");
        let error = resolve(&given(Some("ftp://h"), Some("a"), Some("b")), None, None).unwrap_err();
        assert_eq!(error, ConfigError::BadUrl("ftp://h".into()));
    }
}
