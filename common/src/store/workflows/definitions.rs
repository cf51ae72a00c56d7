//! The stored workflow definitions ([`Definition`]) and the periodic slots fired.

use crate::error::StoreError;
use crate::scripts;
use crate::store::{Store, StoreResult};
use crate::workflows::definition::Definition;

impl Store {
    /// Stores (or replaces) a definition.
    pub async fn put_definition(&self, definition: &Definition) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        redis::cmd("HSET")
            .arg(self.keys.definitions())
            .arg(&definition.name)
            .arg(serde_json::to_string(definition)?)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Every stored definition, by name.
    pub async fn definitions(&self) -> StoreResult<Vec<Definition>> {
        let mut conn = self.conn().await?;
        let all: Vec<String> = redis::cmd("HVALS")
            .arg(self.keys.definitions())
            .query_async(&mut conn)
            .await?;
        let mut definitions: Vec<Definition> = all
            .iter()
            .filter_map(|text| match serde_json::from_str(text) {
                Ok(definition) => Some(definition),
                Err(error) => {
                    tracing::warn!(cause = %error, "skipping an unreadable stored definition");
                    None
                }
            })
            .collect();
        definitions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(definitions)
    }

    /// The last slot fired for a periodic definition (Unix ms).
    pub async fn last_fired_slot(&self, name: &str) -> StoreResult<Option<u64>> {
        let mut conn = self.conn().await?;
        Ok(redis::cmd("HGET")
            .arg(self.keys.periodic_slots())
            .arg(name)
            .query_async(&mut conn)
            .await?)
    }

    /// Fires the slot `slot_ms` of a periodic definition at `now_ms` (its run's creation
    /// time): creates its run (once, whoever asks) and records the slot; returns the run id.
    pub async fn fire_periodic(
        &self,
        definition: &Definition,
        slot_ms: u64,
        now_ms: u64,
    ) -> StoreResult<String> {
        let spec = definition.periodic_run_spec(self.keys.prefix(), slot_ms);
        let id = self
            .create_runs_at(std::slice::from_ref(&spec), now_ms)
            .await?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("no run id returned".into()))?;
        let mut conn = self.conn().await?;
        scripts::ADVANCE_SLOT
            .key(self.keys.periodic_slots())
            .arg(&definition.name)
            .arg(slot_ms)
            .invoke_async::<i64>(&mut conn)
            .await?;
        Ok(id)
    }
}
