//! Studies mirrored from the data service: what it says of a study (name, visible, deleted)
//! is written over what is kept, while what releases say of it (`version`,
//! `last_pub_version`, `last_pub_date`) is left to the releases that publish it.

use std::collections::HashSet;

use redis::AsyncCommands;

use super::records::Record;
use super::{Store, StoreResult};
use crate::releases::IdKind;
use crate::releases::dataservice::MirroredStudy;
use crate::releases::records::Study;
use crate::store::record_fields::field_value;
use crate::time::now_ms;

/// Studies written per atomic pipeline.
const STUDIES_PER_WRITE: usize = 500;

impl Store {
    /// The ids among `ids` that name no study kept yet (malformed ids included).
    pub async fn unknown_studies(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        let wellformed: Vec<&String> = ids.iter().filter(|id| IdKind::Study.is_valid(id)).collect();
        let mut unknown: Vec<String> = ids
            .iter()
            .filter(|id| !IdKind::Study.is_valid(id))
            .cloned()
            .collect();
        if wellformed.is_empty() {
            return Ok(unknown);
        }
        let mut pipe = redis::pipe();
        for id in &wellformed {
            pipe.exists(self.keys.release_record(Study::COLLECTION, id));
        }
        let mut conn = self.conn().await?;
        let known: Vec<bool> = pipe.query_async(&mut conn).await?;
        unknown.extend(
            wellformed
                .into_iter()
                .zip(known)
                .filter(|(_, known)| !known)
                .map(|(id, _)| id.clone()),
        );
        Ok(unknown)
    }

    /// Writes what the data service says of `studies`: a study not kept yet is made (scored
    /// by the data service's creation time, or now), and every one gets its name, `visible`
    /// and `deleted` from the data service. Versions are never touched. Each batch is atomic.
    pub async fn mirror_studies(&self, studies: &[MirroredStudy]) -> StoreResult<()> {
        let now = now_ms();
        let index = self.keys.release_index(Study::COLLECTION);
        let mut conn = self.conn().await?;
        for batch in studies.chunks(STUDIES_PER_WRITE) {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for study in batch {
                let created_ms = study.created_ms.unwrap_or(now);
                let key = self.keys.release_record(Study::COLLECTION, &study.kf_id);
                let made = Study {
                    kf_id: study.kf_id.clone(),
                    name: study.name.clone(),
                    version: None,
                    visible: study.visible,
                    last_pub_version: None,
                    last_pub_date_ms: None,
                    deleted: study.deleted,
                    created_ms,
                };
                for (field, value) in made.to_fields()? {
                    pipe.hset_nx(&key, field, value).ignore();
                }
                pipe.hset_multiple(
                    &key,
                    &[
                        ("name", study.name.clone()),
                        ("visible", field_value(&study.visible)),
                        ("deleted", field_value(&study.deleted)),
                    ],
                )
                .ignore();
                pipe.cmd("ZADD")
                    .arg(&index)
                    .arg("NX")
                    .arg(created_ms)
                    .arg(&study.kf_id)
                    .ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        Ok(())
    }

    /// Marks deleted every kept study whose id is not in `present` (the data service's whole
    /// listing), as the coordinator does with studies the data service no longer lists.
    /// Returns the studies newly marked.
    pub async fn mark_unlisted_studies_deleted(
        &self,
        present: &HashSet<String>,
    ) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        let kept: Vec<String> = conn
            .zrange(self.keys.release_index(Study::COLLECTION), 0, -1)
            .await?;
        let missing: Vec<String> = kept
            .into_iter()
            .filter(|id| !present.contains(id))
            .collect();
        let mut newly = Vec::new();
        for batch in missing.chunks(STUDIES_PER_WRITE) {
            let mut pipe = redis::pipe();
            for id in batch {
                pipe.hget(self.keys.release_record(Study::COLLECTION, id), "deleted");
            }
            let flags: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
            let mut pipe = redis::pipe();
            for (id, flag) in batch.iter().zip(flags) {
                // Only a study that is kept and not marked yet (a hash is never made here).
                if flag.is_some_and(|flag| flag != "1") {
                    pipe.hset(
                        self.keys.release_record(Study::COLLECTION, id),
                        "deleted",
                        field_value(&true),
                    )
                    .ignore();
                    newly.push(id.clone());
                }
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        Ok(newly)
    }
}
