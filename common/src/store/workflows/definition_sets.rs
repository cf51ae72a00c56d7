//! Publishing the definitions as one versioned set: every API server loads the definitions
//! from its files and publishes them for the scheduler. A set is known by the hash of its
//! contents; servers with the same files agree, and one started with different files does not
//! replace what another serves (its periodic workflows would silently stop) unless told to.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::scripts;
use crate::store::{Store, StoreResult};
use crate::time::now_ms;
use crate::workflows::definition::Definition;

/// How publishing a set went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    /// The set was published (the first, or replacing another when asked to).
    Published {
        /// How it differed from what was published before (empty the first time).
        replaced: SetDifference,
    },
    /// The same set was already published.
    Unchanged,
    /// Another set is published and replacing it was not asked for: nothing changed.
    Refused(SetDifference),
}

/// How the published set differs from a new one, by workflow name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetDifference {
    /// Where the published set came from (as its publisher said).
    pub published_source: String,
    /// In the new set only.
    pub added: Vec<String>,
    /// In the published set only.
    pub removed: Vec<String>,
    /// In both, defined differently.
    pub changed: Vec<String>,
}

impl std::fmt::Display for SetDifference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (what, names) in [
            ("added", &self.added),
            ("removed", &self.removed),
            ("changed", &self.changed),
        ] {
            if !names.is_empty() {
                parts.push(format!("{what}: {}", names.join(", ")));
            }
        }
        if parts.is_empty() {
            parts.push("the same workflows".into());
        }
        write!(f, "{}", parts.join("; "))
    }
}

/// A set of definitions as published: each as JSON by name, and the hash of them all.
struct DefinitionSet {
    json: BTreeMap<String, String>,
    hash: String,
}

impl DefinitionSet {
    fn of(definitions: &[Definition]) -> StoreResult<Self> {
        let json = definitions
            .iter()
            .map(|definition| Ok((definition.name.clone(), serde_json::to_string(definition)?)))
            .collect::<StoreResult<BTreeMap<_, _>>>()?;
        Ok(Self::from_json(json))
    }

    fn from_json(json: BTreeMap<String, String>) -> Self {
        let mut digest = Sha256::new();
        for (name, text) in &json {
            digest.update(name.as_bytes());
            digest.update([0]);
            digest.update(text.as_bytes());
            digest.update([0]);
        }
        let hash = digest
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self { json, hash }
    }

    /// How `self` (published) differs from `new`; definitions compare as JSON values, so the
    /// same definition written by another version of the server compares equal.
    fn difference(&self, new: &DefinitionSet, published_source: String) -> SetDifference {
        let value = |text: &String| serde_json::from_str::<serde_json::Value>(text).ok();
        SetDifference {
            published_source,
            added: new
                .json
                .keys()
                .filter(|name| !self.json.contains_key(*name))
                .cloned()
                .collect(),
            removed: self
                .json
                .keys()
                .filter(|name| !new.json.contains_key(*name))
                .cloned()
                .collect(),
            changed: new
                .json
                .iter()
                .filter(|(name, text)| {
                    self.json
                        .get(*name)
                        .is_some_and(|published| value(published) != value(text))
                })
                .map(|(name, _)| name.clone())
                .collect(),
        }
    }
}

/// How many times publishing is tried when other servers publish at the same moment.
const PUBLISH_ATTEMPTS: usize = 3;

impl Store {
    /// Publishes `definitions` (loaded from `source`) as the set the scheduler serves, unless
    /// another set is published and `replace` is false.
    pub async fn publish_definitions(
        &self,
        definitions: &[Definition],
        source: &str,
        replace: bool,
    ) -> StoreResult<PublishOutcome> {
        let new = DefinitionSet::of(definitions)?;
        for _ in 0..PUBLISH_ATTEMPTS {
            let (version, published_source, published) = self.published_definitions().await?;
            if published.hash == new.hash {
                if version.is_none() {
                    // Published before sets had versions: record this one's.
                    self.write_definitions(&new, "", source).await?;
                }
                return Ok(PublishOutcome::Unchanged);
            }
            let difference = published.difference(&new, published_source);
            if !published.json.is_empty() && !replace {
                return Ok(PublishOutcome::Refused(difference));
            }
            if self
                .write_definitions(&new, version.as_deref().unwrap_or(""), source)
                .await?
            {
                return Ok(PublishOutcome::Published {
                    replaced: difference,
                });
            }
        }
        Err(StoreError::Invalid(crate::error::InvalidInput::new(
            "other servers kept publishing other definitions at the same time: try again",
        )))
    }

    /// The published version's hash (if one was recorded), its source, and the set.
    async fn published_definitions(&self) -> StoreResult<(Option<String>, String, DefinitionSet)> {
        let mut conn = self.conn().await?;
        let (version, json): (BTreeMap<String, String>, BTreeMap<String, String>) = redis::pipe()
            .hgetall(self.keys.definitions_version())
            .hgetall(self.keys.definitions())
            .query_async(&mut conn)
            .await?;
        let source = version.get("source").cloned().unwrap_or_default();
        Ok((
            version.get("hash").cloned(),
            source,
            DefinitionSet::from_json(json),
        ))
    }

    /// Writes `set` as the published version if `expected` still is; false when another
    /// server published meanwhile.
    async fn write_definitions(
        &self,
        set: &DefinitionSet,
        expected: &str,
        source: &str,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let mut invocation = scripts::PUBLISH_DEFINITIONS.prepare_invoke();
        invocation
            .key(self.keys.definitions())
            .key(self.keys.definitions_version())
            .arg(expected)
            .arg(&set.hash)
            .arg(source)
            .arg(now_ms());
        for (name, text) in &set.json {
            invocation.arg(name).arg(text);
        }
        let reply: Vec<String> = invocation.invoke_async(&mut conn).await?;
        match reply.first().map(String::as_str) {
            Some("published") => Ok(true),
            Some("moved") => Ok(false),
            _ => Err(StoreError::UnexpectedReply {
                script: "publish_definitions",
                reply: format!("{reply:?}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> DefinitionSet {
        DefinitionSet::from_json(
            pairs
                .iter()
                .map(|(name, json)| ((*name).to_owned(), (*json).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn sets_with_the_same_definitions_have_the_same_hash() {
        let a = set(&[("p.A", r#"{"x":1}"#), ("p.B", r#"{"y":2}"#)]);
        let b = set(&[("p.B", r#"{"y":2}"#), ("p.A", r#"{"x":1}"#)]);
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.hash, set(&[("p.A", r#"{"x":2}"#)]).hash);
    }

    #[test]
    fn the_difference_names_added_removed_and_changed_workflows() {
        let published = set(&[
            ("p.A", r#"{"x":1}"#),
            ("p.B", r#"{"y":2}"#),
            ("p.C", r#"{"z":3}"#),
        ]);
        let new = set(&[
            ("p.A", r#"{ "x": 1 }"#),
            ("p.B", r#"{"y":3}"#),
            ("p.D", "{}"),
        ]);
        let difference = published.difference(&new, "host:/defs".into());
        assert_eq!(difference.added, ["p.D"]);
        assert_eq!(difference.removed, ["p.C"]);
        assert_eq!(difference.changed, ["p.B"]);
        assert_eq!(
            difference.to_string(),
            "added: p.D; removed: p.C; changed: p.B"
        );
    }
}
