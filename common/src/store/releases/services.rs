//! Task services: registration (a service registered again at the same URL keeps its record
//! and gets a new token), the token their progress reports are checked against, and health
//! (what pings of `/status` and answers to actions say about a service).

use redis::AsyncCommands;

use super::records::Record;
use super::{Store, StoreResult};
use crate::error::StoreError;
use crate::releases::IdKind;
use crate::releases::records::{Task, TaskService};
use crate::store::record_fields::field_value;

/// Failed pings in a row after which a service is marked `down` (more than this many).
pub const DOWN_AFTER_FAILED_PINGS: u32 = 3;

/// The field of a service's hash holding the digest of its token (not part of
/// [`TaskService`]: it is never shown, and only registration writes it).
const TOKEN_FIELD: &str = "token_sha256";

/// Times registration reads the services again when they changed under it.
const REGISTER_ATTEMPTS: usize = 5;

/// How a registration went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// A new service, with this id.
    Created(String),
    /// The service already registered at the URL, with this id, registered again.
    Replaced(String),
}

impl Registration {
    /// The id of the service registered.
    pub fn id(&self) -> &str {
        match self {
            Self::Created(id) | Self::Replaced(id) => id,
        }
    }
}

/// What a task service's progress report is checked against, read in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportCredentials {
    /// The digest of the token of the service the report claims to come from (none when
    /// that service does not exist or never got a token).
    pub token_digest: Option<String>,
    /// The service the reported task belongs to (none when there is no such task).
    pub task_service: Option<String>,
}

impl Store {
    /// Registers `service` with the token whose digest is `token_digest`, or, when a service
    /// is registered at its URL already, registers that one again: it keeps its id, creation
    /// time and `enabled` (unless `enabled` is given) and takes `service`'s name,
    /// description, author, health and the new token, so the old token stops working.
    pub async fn register_task_service(
        &self,
        service: &TaskService,
        enabled: Option<bool>,
        token_digest: &str,
    ) -> StoreResult<Registration> {
        let both: Vec<(&str, String)> = vec![
            ("name", service.name.clone()),
            ("description", service.description.clone()),
            ("author", service.author.clone()),
            ("health_status", service.health_status.clone()),
            ("last_ok_status", service.last_ok_status.to_string()),
            ("last_ok_ms", service.last_ok_ms.to_string()),
            (TOKEN_FIELD, token_digest.to_owned()),
        ];
        let new_only: Vec<(&str, String)> = vec![
            ("kf_id", service.kf_id.clone()),
            ("url", service.url.clone()),
            ("created_ms", service.created_ms.to_string()),
        ];
        let index = self.keys.release_index(TaskService::COLLECTION);
        let mut conn = self.conn().await?;
        for _ in 0..REGISTER_ATTEMPTS {
            let listed: Vec<String> = conn.zrange(&index, 0, -1).await?;
            let mut invocation = crate::scripts::REGISTER_SERVICE.prepare_invoke();
            invocation
                .key(&index)
                .key(
                    self.keys
                        .release_record(TaskService::COLLECTION, &service.kf_id),
                )
                .key(self.keys.release_index_by(
                    TaskService::COLLECTION,
                    "enabled",
                    &field_value(&true),
                ))
                .key(self.keys.release_index_by(
                    TaskService::COLLECTION,
                    "enabled",
                    &field_value(&false),
                ));
            for id in &listed {
                invocation.key(self.keys.release_record(TaskService::COLLECTION, id));
            }
            invocation
                .arg(listed.len())
                .arg(&service.url)
                .arg(&service.kf_id)
                .arg(service.created_ms)
                .arg(
                    enabled
                        .map(|enabled| field_value(&enabled))
                        .unwrap_or_default(),
                )
                .arg(both.len());
            for (field, value) in both.iter().chain(&new_only) {
                invocation.arg(*field).arg(value);
            }
            let (outcome, id): (String, String) = invocation.invoke_async(&mut conn).await?;
            match outcome.as_str() {
                "created" => return Ok(Registration::Created(id)),
                "replaced" => return Ok(Registration::Replaced(id)),
                "stale" => continue,
                other => {
                    return Err(StoreError::UnexpectedReply {
                        script: "register_service.lua",
                        reply: other.to_owned(),
                    });
                }
            }
        }
        Err(StoreError::Corrupt(
            "task services kept changing during a registration".into(),
        ))
    }

    /// What a report by service `service_id` on task `task_id` is checked against: that
    /// service's token digest and the task's service, in one round trip. Malformed ids read
    /// as absent, without a call.
    pub async fn task_report_credentials(
        &self,
        service_id: &str,
        task_id: &str,
    ) -> StoreResult<ReportCredentials> {
        if !IdKind::TaskService.is_valid(service_id) || !IdKind::Task.is_valid(task_id) {
            return Ok(ReportCredentials::default());
        }
        let mut conn = self.conn().await?;
        let (token_digest, task_service): (Option<String>, Option<String>) = redis::pipe()
            .hget(
                self.keys
                    .release_record(TaskService::COLLECTION, service_id),
                TOKEN_FIELD,
            )
            .hget(
                self.keys.release_record(Task::COLLECTION, task_id),
                "task_service",
            )
            .query_async(&mut conn)
            .await?;
        Ok(ReportCredentials {
            token_digest: token_digest.filter(|digest| !digest.is_empty()),
            task_service: task_service.filter(|service| !service.is_empty()),
        })
    }

    /// Records that a task service answered (a ping or an action) at `now_ms`: `ok`, no failed
    /// pings.
    pub async fn record_service_answer(&self, service_id: &str, now_ms: u64) -> StoreResult<()> {
        if !IdKind::TaskService.is_valid(service_id) {
            return Ok(());
        }
        let key = self
            .keys
            .release_record(TaskService::COLLECTION, service_id);
        let mut conn = self.conn().await?;
        // Only an existing service: a deleted one must not come back as a stub.
        let exists: bool = conn.exists(&key).await?;
        if exists {
            let _: () = conn
                .hset_multiple(
                    &key,
                    &[
                        ("health_status", "ok".to_owned()),
                        ("last_ok_status", "0".to_owned()),
                        ("last_ok_ms", now_ms.to_string()),
                    ],
                )
                .await?;
        }
        Ok(())
    }

    /// Records a failed ping: one more in a row, and `down` past
    /// [`DOWN_AFTER_FAILED_PINGS`]. Returns the count of failed pings in a row.
    pub async fn record_service_failure(&self, service_id: &str) -> StoreResult<u32> {
        if !IdKind::TaskService.is_valid(service_id) {
            return Ok(0);
        }
        let key = self
            .keys
            .release_record(TaskService::COLLECTION, service_id);
        let mut conn = self.conn().await?;
        let exists: bool = conn.exists(&key).await?;
        if !exists {
            return Ok(0);
        }
        let failures: u32 = conn.hincr(&key, "last_ok_status", 1).await?;
        if failures > DOWN_AFTER_FAILED_PINGS {
            let _: () = conn.hset(&key, "health_status", "down").await?;
        }
        Ok(failures)
    }
}
