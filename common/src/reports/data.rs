//! A report's data queries, run before its script as orderly runs them: each `data:` entry
//! with a `query` runs against the database it names (see
//! [`report_databases`](crate::reports::databases)), in a read-only session, and its result is
//! written as CSV (a header row, then one row per result row; NULL as an empty field) to the
//! extract's `csv` file in the report's folder, where the script reads it. The version then
//! records the file, with its size and md5, as a data extract, like any other.
//!
//! PostgreSQL formats its own values (`COPY (query) TO STDOUT` as CSV), after the query was
//! checked to be one statement by preparing it; SQLite's values are written as SQLite holds
//! them (integers, reals, text, blobs as hex).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{Column, Connection as _, Executor, Row, Statement, TypeInfo, ValueRef};
use thiserror::Error;
use tokio::io::AsyncWriteExt;

use crate::error::InvalidInput;
use crate::reports::config::{QuerySource, ReportConfig};
use crate::reports::databases::{Connection, Databases, Driver};

/// How long connecting to a database may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a data query could not make its extract.
#[derive(Debug, Error)]
pub enum DataError {
    /// The query, its database or the run's instances are not as they must be.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The database could not be reached (the run may be tried again).
    #[error("data '{query}': cannot connect to database '{database}': {message}")]
    Connect {
        /// The extract.
        query: String,
        /// The database.
        database: String,
        /// Why.
        message: String,
    },
    /// The database refused the query.
    #[error("data '{query}': the query failed on database '{database}': {message}")]
    Query {
        /// The extract.
        query: String,
        /// The database.
        database: String,
        /// The database's message.
        message: String,
    },
    /// The result could not be written.
    #[error("data '{query}': cannot write {path}: {message}")]
    Write {
        /// The extract.
        query: String,
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// One extract a query made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The extract's name.
    pub name: String,
    /// The database it came from.
    pub database: String,
    /// The instance, when the database has instances.
    pub instance: Option<String>,
    /// The CSV file written, relative to the report's folder.
    pub csv: String,
}

/// Where the queries run: the repository's databases, the run's instances, the repository's
/// root (SQLite files are relative to it) and the worker's environment (for `$ORDERLY_*`).
pub struct QueryContext<'a> {
    /// The repository's declared databases.
    pub databases: &'a Databases,
    /// The run's `instances`.
    pub instances: &'a Map<String, Value>,
    /// The repository's root.
    pub root: &'a Path,
    /// Reads an environment variable.
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

/// True when the report declares a data query (and so needs the repository's databases).
pub fn has_queries(config: &ReportConfig) -> bool {
    config.data.iter().any(|extract| extract.query.is_some())
}

/// Runs every data query of the report whose folder is `dir`, writing each result to its CSV
/// file there. Stops at the first failure, which names the query.
pub async fn run_queries(
    config: &ReportConfig,
    dir: &Path,
    context: &QueryContext<'_>,
) -> Result<Vec<Extracted>, DataError> {
    context.databases.check_instances(context.instances)?;
    let mut made = Vec::new();
    for extract in &config.data {
        let Some(source) = &extract.query else {
            continue;
        };
        let sql = match source {
            QuerySource::Sql(sql) => sql.clone(),
            QuerySource::File(file) => {
                std::fs::read_to_string(dir.join(file)).map_err(|error| {
                    InvalidInput::new(format!(
                        "data '{}': cannot read its query file '{file}': {error}",
                        extract.name
                    ))
                })?
            }
        };
        let sql = sql.trim().trim_end_matches(';').trim_end().to_owned();
        let database = context
            .databases
            .choose(extract.database.as_deref(), &extract.name)?;
        let connection = database.connection(context.instances, context.env)?;
        let out = dir.join(&extract.csv);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(|error| DataError::Write {
                query: extract.name.clone(),
                path: extract.csv.clone(),
                message: error.to_string(),
            })?;
        }
        let query = Query {
            name: &extract.name,
            sql: &sql,
            out: &out,
            connection: &connection,
        };
        match connection.driver {
            Driver::Sqlite => query.sqlite(context.root).await?,
            Driver::Postgres => query.postgres().await?,
        }
        made.push(Extracted {
            name: extract.name.clone(),
            database: connection.database.clone(),
            instance: connection.instance.clone(),
            csv: extract.csv.clone(),
        });
    }
    Ok(made)
}

/// One query to run.
struct Query<'a> {
    name: &'a str,
    sql: &'a str,
    out: &'a PathBuf,
    connection: &'a Connection,
}

impl Query<'_> {
    fn connect_error(&self, message: impl ToString) -> DataError {
        DataError::Connect {
            query: self.name.to_owned(),
            database: self.connection.database.clone(),
            message: message.to_string(),
        }
    }

    fn query_error(&self, message: impl ToString) -> DataError {
        DataError::Query {
            query: self.name.to_owned(),
            database: self.connection.database.clone(),
            message: message.to_string(),
        }
    }

    fn write_error(&self, message: impl ToString) -> DataError {
        DataError::Write {
            query: self.name.to_owned(),
            path: self.out.display().to_string(),
            message: message.to_string(),
        }
    }

    /// Runs the query on a SQLite file, opened read-only.
    async fn sqlite(&self, root: &Path) -> Result<(), DataError> {
        let path = self.connection.sqlite_path(root)?;
        if !path.is_file() {
            return Err(self.connect_error(format!("no SQLite file at {}", path.display())));
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true)
            .create_if_missing(false);
        let mut connection =
            tokio::time::timeout(CONNECT_TIMEOUT, SqliteConnection::connect_with(&options))
                .await
                .map_err(|_| self.connect_error("timed out"))?
                .map_err(|error| self.connect_error(error))?;
        let statement = connection
            .prepare(self.sql)
            .await
            .map_err(|error| self.query_error(error))?;
        let mut writer = csv::Writer::from_path(self.out).map_err(|e| self.write_error(e))?;
        let header: Vec<&str> = statement.columns().iter().map(|c| c.name()).collect();
        writer
            .write_record(&header)
            .map_err(|e| self.write_error(e))?;
        let mut rows = statement.query().fetch(&mut connection);
        while let Some(row) = rows.try_next().await.map_err(|e| self.query_error(e))? {
            let fields: Vec<String> = (0..row.len()).map(|i| sqlite_field(&row, i)).collect();
            writer
                .write_record(&fields)
                .map_err(|e| self.write_error(e))?;
        }
        writer.flush().map_err(|e| self.write_error(e))?;
        Ok(())
    }

    /// Runs the query on a PostgreSQL server in a read-only session, as CSV.
    async fn postgres(&self) -> Result<(), DataError> {
        let args = &self.connection.args;
        let mut options = PgConnectOptions::new_without_pgpass();
        if let Some(host) = args.get("host") {
            options = options.host(host);
        }
        if let Some(port) = args.get("port") {
            let port = port.parse().map_err(|_| {
                InvalidInput::new(format!(
                    "database '{}': port '{port}' is not a number",
                    self.connection.database
                ))
            })?;
            options = options.port(port);
        }
        if let Some(user) = args.get("user") {
            options = options.username(user);
        }
        if let Some(password) = args.get("password") {
            options = options.password(password);
        }
        if let Some(dbname) = args.get("dbname") {
            options = options.database(dbname);
        }
        let mut connection =
            tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
                .await
                .map_err(|_| self.connect_error("timed out"))?
                .map_err(|error| self.connect_error(error))?;
        connection
            .execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            .await
            .map_err(|error| self.connect_error(error))?;
        // One statement, complete on its own: so it cannot close the COPY's parenthesis.
        connection
            .prepare(self.sql)
            .await
            .map_err(|error| self.query_error(error))?;
        let copy = format!(
            "COPY (\n{}\n) TO STDOUT WITH (FORMAT csv, HEADER true)",
            self.sql
        );
        let mut file = tokio::fs::File::create(self.out)
            .await
            .map_err(|e| self.write_error(e))?;
        let mut chunks = connection
            .copy_out_raw(&copy)
            .await
            .map_err(|error| self.query_error(error))?;
        while let Some(chunk) = chunks.try_next().await.map_err(|e| self.query_error(e))? {
            file.write_all(&chunk)
                .await
                .map_err(|e| self.write_error(e))?;
        }
        file.flush().await.map_err(|e| self.write_error(e))?;
        Ok(())
    }
}

/// A SQLite value as a CSV field: integers and reals as numbers, text as is, a blob in hex,
/// NULL empty.
fn sqlite_field(row: &SqliteRow, index: usize) -> String {
    let Ok(raw) = row.try_get_raw(index) else {
        return String::new();
    };
    if raw.is_null() {
        return String::new();
    }
    match raw.type_info().name() {
        "INTEGER" => row
            .try_get::<i64, _>(index)
            .map(|value| value.to_string())
            .unwrap_or_default(),
        "REAL" => row
            .try_get::<f64, _>(index)
            .map(|value| value.to_string())
            .unwrap_or_default(),
        "BLOB" => row
            .try_get::<Vec<u8>, _>(index)
            .map(hex::encode)
            .unwrap_or_default(),
        _ => row.try_get::<String, _>(index).unwrap_or_default(),
    }
}
