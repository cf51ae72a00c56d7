//! Stream entries that are no job at all: kept in the dead letter with their raw fields, so
//! nothing is silently dropped.

use redis::Value as RedisValue;
use redis::streams::StreamId;
use serde_json::Value;

use crate::engine::model::{Priority, QueueName};
use crate::keys::{CONSUMER_GROUP, Shard};
use crate::scripts;
use crate::store::{RedisConnection, Store, StoreResult};
use crate::time::now_ms;

fn bulk_string(value: &RedisValue) -> String {
    match value {
        RedisValue::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        RedisValue::SimpleString(text) => text.clone(),
        RedisValue::Int(number) => number.to_string(),
        _ => String::new(),
    }
}

impl Store {
    /// A stream entry that is not a job at all cannot run: keep it in the dead letter with its
    /// raw fields, so nothing is silently dropped.
    pub(super) async fn dead_letter_malformed(
        &self,
        conn: &mut RedisConnection,
        shard: Shard,
        queue: &QueueName,
        priority: Priority,
        entry: &StreamId,
    ) -> StoreResult<()> {
        let raw: serde_json::Map<String, Value> = entry
            .map
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(bulk_string(value))))
            .collect();
        let mut invocation = scripts::MOVE_ENTRY.key(self.keys.stream(shard, queue, priority));
        invocation
            .key(self.keys.dead(shard, queue))
            .arg(CONSUMER_GROUP)
            .arg(&entry.id)
            .arg("p")
            .arg(priority.as_str())
            .arg("error")
            .arg(format!("malformed job entry: {}", Value::Object(raw)))
            .arg("at")
            .arg(now_ms());
        invocation.invoke_async::<Option<String>>(conn).await?;
        Ok(())
    }
}
