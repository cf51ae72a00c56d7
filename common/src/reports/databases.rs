//! The databases a reports repository declares in its `orderly_config.yml`, as orderly reads
//! them: each under a name (`source`), with a driver (SQLite or PostgreSQL), connection
//! arguments, and optionally several `instances` (`production`, `staging`) whose arguments
//! replace the base ones; a run picks an instance per database (`"instances": {"source":
//! "production"}`), else the database's `default_instance`, else its first.
//!
//! ```yaml
//! database:
//!   source:
//!     driver: RPostgres::Postgres
//!     args: {host: db, port: 5432, user: orderly, password: $ORDERLY_DB_PASS, dbname: montagu}
//!     instances:
//!       production: {host: db-production}
//!       staging: {host: db-staging}
//!     default_instance: staging
//! ```
//!
//! An argument written `$NAME` is read from the worker's environment when the query runs;
//! only names beginning `ORDERLY_` may be read, so a repository cannot send any other secret
//! of the worker to a server it names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use serde_yaml::Value as Yaml;

use crate::error::InvalidInput;

/// The file at the root of a reports repository that declares its databases.
pub const ORDERLY_CONFIG: &str = "orderly_config.yml";

/// The prefix of the environment variables a database argument may name (`$ORDERLY_DB_PASS`).
pub const ENV_PREFIX: &str = "ORDERLY_";

/// The kind of database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// SQLite (`RSQLite::SQLite`): `args.dbname` is a file, relative to the repository.
    Sqlite,
    /// PostgreSQL (`RPostgres::Postgres`): `host`, `port`, `user`, `password`, `dbname`.
    Postgres,
}

impl Driver {
    /// The driver an orderly driver name means: `RSQLite::SQLite` or `sqlite`,
    /// `RPostgres::Postgres`, `postgres` or `postgresql`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "rsqlite::sqlite" | "sqlite" => Some(Self::Sqlite),
            "rpostgres::postgres" | "postgres" | "postgresql" => Some(Self::Postgres),
            _ => None,
        }
    }
}

/// One declared database.
#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    /// Its name (`source`), as `data:` entries and run requests name it.
    pub name: String,
    /// Its driver.
    pub driver: Driver,
    /// Connection arguments, as written (`$NAME` not yet read).
    pub args: BTreeMap<String, String>,
    /// Named instances: arguments that replace the base ones.
    pub instances: BTreeMap<String, BTreeMap<String, String>>,
    /// The instance used when a run names none (else the first).
    pub default_instance: Option<String>,
}

/// The connection arguments of one database for one run, every `$NAME` read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The database's name.
    pub database: String,
    /// The instance chosen, when the database has instances.
    pub instance: Option<String>,
    /// Its driver.
    pub driver: Driver,
    /// The arguments.
    pub args: BTreeMap<String, String>,
}

impl Connection {
    /// The SQLite file: `dbname`, relative to the repository `root` unless absolute.
    pub fn sqlite_path(&self, root: &Path) -> Result<PathBuf, InvalidInput> {
        let name = self.args.get("dbname").ok_or_else(|| {
            InvalidInput::new(format!(
                "database '{}' (SQLite) has no 'dbname'",
                self.database
            ))
        })?;
        let path = Path::new(name);
        Ok(if path.is_absolute() {
            path.to_owned()
        } else {
            root.join(path)
        })
    }
}

/// The databases of a repository's `orderly_config.yml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Databases {
    /// By name.
    pub databases: BTreeMap<String, Database>,
}

fn scalar(value: &Yaml, what: &str) -> Result<String, InvalidInput> {
    match value {
        Yaml::String(text) => Ok(text.clone()),
        Yaml::Number(number) => Ok(number.to_string()),
        Yaml::Bool(flag) => Ok(flag.to_string()),
        _ => Err(InvalidInput::new(format!(
            "{what} must be text or a number"
        ))),
    }
}

fn arguments(value: Option<&Yaml>, what: &str) -> Result<BTreeMap<String, String>, InvalidInput> {
    match value {
        None | Some(Yaml::Null) => Ok(BTreeMap::new()),
        Some(Yaml::Mapping(args)) => args
            .iter()
            .map(|(key, value)| {
                let key = key
                    .as_str()
                    .ok_or_else(|| InvalidInput::new(format!("{what}: names must be text")))?;
                Ok((key.to_owned(), scalar(value, &format!("{what} '{key}'"))?))
            })
            .collect(),
        Some(_) => Err(InvalidInput::new(format!("{what} must be a mapping"))),
    }
}

impl Databases {
    /// Reads an `orderly_config.yml`; a repository without databases has none.
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let root: Yaml = serde_yaml::from_str(text).map_err(|error| {
            InvalidInput::new(format!("{ORDERLY_CONFIG} is not valid YAML: {error}"))
        })?;
        let declared = match root.get("database") {
            None | Some(Yaml::Null) => return Ok(Self::default()),
            Some(Yaml::Mapping(declared)) => declared,
            Some(_) => {
                return Err(InvalidInput::new(format!(
                    "{ORDERLY_CONFIG}: 'database' must map names to {{driver, args}}"
                )));
            }
        };
        let mut databases = BTreeMap::new();
        for (name, body) in declared {
            let name = name
                .as_str()
                .ok_or_else(|| InvalidInput::new("database names must be text"))?
                .to_owned();
            let what = format!("{ORDERLY_CONFIG}: database '{name}'");
            let driver_name = body
                .get("driver")
                .and_then(Yaml::as_str)
                .ok_or_else(|| InvalidInput::new(format!("{what} has no 'driver'")))?;
            let driver = Driver::from_name(driver_name).ok_or_else(|| {
                InvalidInput::new(format!(
                    "{what}: driver '{driver_name}' is not supported (use RSQLite::SQLite or \
                     RPostgres::Postgres)"
                ))
            })?;
            let instances = match body.get("instances") {
                None | Some(Yaml::Null) => BTreeMap::new(),
                Some(Yaml::Mapping(instances)) => instances
                    .iter()
                    .map(|(instance, args)| {
                        let instance = instance.as_str().ok_or_else(|| {
                            InvalidInput::new(format!("{what}: instance names must be text"))
                        })?;
                        let args =
                            arguments(Some(args), &format!("{what}, instance '{instance}'"))?;
                        Ok((instance.to_owned(), args))
                    })
                    .collect::<Result<_, InvalidInput>>()?,
                Some(_) => {
                    return Err(InvalidInput::new(format!(
                        "{what}: 'instances' must map names to arguments"
                    )));
                }
            };
            let default_instance = body
                .get("default_instance")
                .map(|value| scalar(value, &format!("{what}: 'default_instance'")))
                .transpose()?;
            if let Some(default) = &default_instance
                && !instances.contains_key(default)
            {
                return Err(InvalidInput::new(format!(
                    "{what}: default instance '{default}' is not among its instances"
                )));
            }
            databases.insert(
                name.clone(),
                Database {
                    args: arguments(body.get("args"), &format!("{what}: 'args'"))?,
                    name,
                    driver,
                    instances,
                    default_instance,
                },
            );
        }
        Ok(Self { databases })
    }

    /// The database a data query uses: the one it names, else the only one declared.
    pub fn choose(&self, named: Option<&str>, query: &str) -> Result<&Database, InvalidInput> {
        match named {
            Some(name) => self.databases.get(name).ok_or_else(|| {
                InvalidInput::new(format!(
                    "data '{query}' names database '{name}', which {ORDERLY_CONFIG} does not \
                     declare"
                ))
            }),
            None if self.databases.len() == 1 => {
                Ok(self.databases.values().next().expect("one database"))
            }
            None if self.databases.is_empty() => Err(InvalidInput::new(format!(
                "data '{query}' has a query but {ORDERLY_CONFIG} declares no database"
            ))),
            None => Err(InvalidInput::new(format!(
                "data '{query}' must name its 'database': {ORDERLY_CONFIG} declares several"
            ))),
        }
    }

    /// Checks a run's `instances` (database name → instance name) against the declared
    /// databases.
    pub fn check_instances(&self, instances: &Map<String, Value>) -> Result<(), InvalidInput> {
        for (database, instance) in instances {
            let declared = self.databases.get(database).ok_or_else(|| {
                InvalidInput::new(format!(
                    "instances: database '{database}' is not declared in {ORDERLY_CONFIG}"
                ))
            })?;
            let instance = instance.as_str().ok_or_else(|| {
                InvalidInput::new(format!(
                    "instances: the instance of '{database}' must be text"
                ))
            })?;
            if !declared.instances.contains_key(instance) {
                return Err(InvalidInput::new(format!(
                    "instances: database '{database}' has no instance '{instance}'"
                )));
            }
        }
        Ok(())
    }
}

impl Database {
    /// The connection a run makes: the instance it asks for (else the default, else the
    /// first) over the base arguments, each `$NAME` read through `env`.
    pub fn connection(
        &self,
        instances: &Map<String, Value>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Connection, InvalidInput> {
        let asked = instances.get(&self.name).and_then(Value::as_str);
        let instance = asked
            .map(str::to_owned)
            .or_else(|| self.default_instance.clone())
            .or_else(|| self.instances.keys().next().cloned());
        let mut args = self.args.clone();
        if let Some(instance) = &instance {
            let overrides = self.instances.get(instance).ok_or_else(|| {
                InvalidInput::new(format!(
                    "database '{}' has no instance '{instance}'",
                    self.name
                ))
            })?;
            args.extend(overrides.clone());
        }
        for (key, value) in args.iter_mut() {
            if let Some(variable) = value.strip_prefix('$') {
                if !variable.starts_with(ENV_PREFIX) {
                    return Err(InvalidInput::new(format!(
                        "database '{}': argument '{key}' reads ${variable}, but only variables \
                         beginning {ENV_PREFIX} may be read",
                        self.name
                    )));
                }
                *value = env(variable).ok_or_else(|| {
                    InvalidInput::new(format!(
                        "database '{}': argument '{key}' reads ${variable}, which is not set",
                        self.name
                    ))
                })?;
            }
        }
        Ok(Connection {
            database: self.name.clone(),
            instance,
            driver: self.driver,
            args,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CONFIG: &str = "database:\n  source:\n    driver: RPostgres::Postgres\n    args:\n      host: localhost\n      port: 5432\n      user: orderly\n      password: $ORDERLY_DB_PASS\n      dbname: montagu\n    instances:\n      production: {host: db-production}\n      staging: {host: db-staging}\n    default_instance: staging\n  local:\n    driver: RSQLite::SQLite\n    args: {dbname: source.sqlite}\n";

    fn env(name: &str) -> Option<String> {
        (name == "ORDERLY_DB_PASS").then(|| "s3cret".to_owned())
    }

    #[test]
    fn databases_instances_and_environment_arguments_are_read() {
        let databases = Databases::parse(CONFIG).unwrap();
        let source = &databases.databases["source"];
        assert_eq!(source.driver, Driver::Postgres);
        assert_eq!(source.args["port"], "5432");
        let staging = source.connection(&Map::new(), env).unwrap();
        assert_eq!(staging.instance.as_deref(), Some("staging"));
        assert_eq!(staging.args["host"], "db-staging");
        assert_eq!(staging.args["password"], "s3cret");
        let asked = json!({"source": "production"});
        let production = source.connection(asked.as_object().unwrap(), env).unwrap();
        assert_eq!(production.args["host"], "db-production");
        assert_eq!(production.args["dbname"], "montagu");
        let local = databases.databases["local"]
            .connection(&Map::new(), env)
            .unwrap();
        assert_eq!(local.driver, Driver::Sqlite);
        assert_eq!(
            local.sqlite_path(Path::new("/repo")).unwrap(),
            Path::new("/repo/source.sqlite")
        );
    }

    #[test]
    fn only_orderly_variables_are_read_and_unknown_instances_are_refused() {
        let config = CONFIG.replace("$ORDERLY_DB_PASS", "$BATON_MASTER_KEY");
        let databases = Databases::parse(&config).unwrap();
        let error = databases.databases["source"]
            .connection(&Map::new(), |_| Some("leak".into()))
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("only variables beginning ORDERLY_")
        );
        let databases = Databases::parse(CONFIG).unwrap();
        let bad = json!({"source": "nowhere"});
        assert!(
            databases
                .check_instances(bad.as_object().unwrap())
                .unwrap_err()
                .to_string()
                .contains("no instance 'nowhere'")
        );
        let unknown = json!({"other": "production"});
        assert!(
            databases
                .check_instances(unknown.as_object().unwrap())
                .is_err()
        );
        assert!(databases.choose(None, "dat").is_err());
        assert_eq!(
            databases.choose(Some("local"), "dat").unwrap().name,
            "local"
        );
        assert!(Databases::parse("database:\n  x: {driver: Oracle}\n").is_err());
        assert_eq!(
            Databases::parse("fields: {}\n").unwrap(),
            Databases::default()
        );
    }
}
