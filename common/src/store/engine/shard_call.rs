//! Calls of the shard scripts: one script call settles a batch of runs or jobs of one shard.
//!
//! Every shard script takes the run index keys of each kind whose indexes it writes
//! ("declared" kinds: none to start jobs, every kind to finish them, the runs' own to create
//! them) and the key block of each queue it may touch ("declared" queues) before the keys of
//! its items (see `lua/shard_prelude.lua`). A
//! script that meets a queue it was not given does nothing for that item and answers
//! `{'queues', name...}`; the caller declares them and calls again for those items only.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use redis::{Arg, Cmd, Pipeline, Script, ToRedisArgs};

use crate::engine::model::{QueueName, RunKind};
use crate::error::StoreError;
use crate::keys::{Keys, Shard};

/// Most times a batch is called again for queues it had not declared.
pub(crate) const MAX_DECLARE_ROUNDS: usize = 4;

/// A call of a shard script being built: its keys and its arguments each written straight
/// into one flat buffer, sent as one `EVALSHA` (a `ScriptInvocation` holds every argument in
/// an allocation of its own and copies them twice more before they are sent). A pipeline of
/// such calls is run by `Store::query_pipeline`, which loads the scripts should Redis have
/// lost them.
pub(crate) struct ShardCall<'a> {
    script: &'a Script,
    keys: Cmd,
    args: Cmd,
}

impl<'a> ShardCall<'a> {
    /// A call of `script` with no keys or arguments yet.
    fn new(script: &'a Script) -> Self {
        Self {
            script,
            keys: Cmd::new(),
            args: Cmd::new(),
        }
    }

    /// Adds a key (or several, for a value that writes several).
    pub(crate) fn key<T: ToRedisArgs>(&mut self, key: T) -> &mut Self {
        self.keys.arg(key);
        self
    }

    /// Adds an argument (or several, for a value that writes several).
    pub(crate) fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.args.arg(arg);
        self
    }

    /// Adds the call to `pipe`.
    pub(crate) fn add_to(&self, pipe: &mut Pipeline) {
        let mut command = redis::cmd("EVALSHA");
        command
            .arg(self.script.get_hash())
            .arg(self.keys.args_iter().len());
        for part in self.keys.args_iter().chain(self.args.args_iter()) {
            if let Arg::Simple(bytes) = part {
                command.arg(bytes);
            }
        }
        pipe.add_command(command);
    }
}

/// A key block of a shard: a kind's run index keys, or a queue's keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum BlockName {
    /// The run index keys of a kind.
    Kind(Shard, RunKind),
    /// The keys of a queue.
    Queue(Shard, QueueName),
}

/// The key blocks every shard script call takes first (a kind's run index keys, a queue's
/// keys, on a shard), named once per process rather than on every call.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShardKeyBlocks {
    named: Arc<Mutex<HashMap<BlockName, Arc<[String]>>>>,
}

impl ShardKeyBlocks {
    /// The block `wanted`, named by `keys`.
    fn get(&self, keys: &Keys, wanted: BlockName) -> Arc<[String]> {
        let mut named = self
            .named
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(block) = named.get(&wanted) {
            return Arc::clone(block);
        }
        let block: Arc<[String]> = match &wanted {
            BlockName::Kind(shard, kind) => keys.kind_index_block(*shard, *kind).into(),
            BlockName::Queue(shard, queue) => keys.queue_block(*shard, queue).into(),
        };
        named.insert(wanted, Arc::clone(&block));
        block
    }
}

impl crate::store::Store {
    /// Starts a call of `script` on `shard` with the run index keys of `kinds` and the keys
    /// of `queues` declared; the caller adds the script's own arguments and its items' keys
    /// and arguments.
    pub(crate) fn shard_call<'a>(
        &self,
        script: &'a Script,
        shard: Shard,
        kinds: &[RunKind],
        queues: &BTreeSet<QueueName>,
    ) -> ShardCall<'a> {
        let mut call = ShardCall::new(script);
        let blocks = kinds
            .iter()
            .map(|kind| BlockName::Kind(shard, *kind))
            .chain(
                queues
                    .iter()
                    .map(|queue| BlockName::Queue(shard, queue.clone())),
            );
        for block in blocks {
            for key in self.shard_key_blocks.get(&self.keys, block).iter() {
                call.key(key);
            }
        }
        call.arg(kinds.len());
        for kind in kinds {
            call.arg(kind.as_str());
        }
        call.arg(queues.len());
        for queue in queues {
            call.arg(queue.as_str());
        }
        call
    }
}

/// One item's reply to a shard script, split into its kind and its details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemReply {
    /// The first word of the reply (`start`, `success`, `queues`, ...).
    pub kind: String,
    /// The rest.
    pub details: Vec<String>,
}

impl ItemReply {
    /// The reply's parts, or an error naming `script` when it answered nothing.
    pub(crate) fn parse(script: &'static str, parts: Vec<String>) -> Result<Self, StoreError> {
        let mut parts = parts.into_iter();
        let kind = parts.next().ok_or(StoreError::UnexpectedReply {
            script,
            reply: "an empty reply".into(),
        })?;
        Ok(Self {
            kind,
            details: parts.collect(),
        })
    }

    /// The queues a `queues` reply asks to declare (`None` for any other reply).
    pub(crate) fn undeclared_queues(&self) -> Option<Result<Vec<QueueName>, StoreError>> {
        (self.kind == "queues").then(|| {
            self.details
                .iter()
                .map(|name| QueueName::parse(name).map_err(StoreError::from))
                .collect()
        })
    }

    /// The detail at `index` as text ("" when absent).
    pub(crate) fn detail(&self, index: usize) -> &str {
        self.details.get(index).map(String::as_str).unwrap_or("")
    }

    /// The error for a reply `script` never gives.
    pub(crate) fn unexpected(&self, script: &'static str) -> StoreError {
        StoreError::UnexpectedReply {
            script,
            reply: format!("{} {}", self.kind, self.details.join(" ")),
        }
    }
}

/// One item of a shard batch: where it lives, the queue it came from, and how it adds its keys
/// and arguments to the script call.
pub(crate) trait BatchItem {
    /// The shard the item lives on.
    fn shard(&self) -> Shard;
    /// The queue the item belongs to (always declared).
    fn queue(&self) -> &QueueName;
    /// Adds the item's keys and arguments.
    fn add_to(&self, keys: &Keys, call: &mut ShardCall<'_>);
}

impl crate::store::Store {
    /// Calls `script` once per shard over `items` (its arguments before the items' come from
    /// `head`), with the run index keys of `kinds` declared, in one round trip, and returns
    /// each item's reply in order. Items that met queues they had not declared are called
    /// again with those queues declared.
    pub(crate) async fn call_shard_batches<I: BatchItem>(
        &self,
        conn: &mut impl redis::aio::ConnectionLike,
        script: &Script,
        name: &'static str,
        kinds: &[RunKind],
        items: &[I],
        head: &(dyn Fn(&mut ShardCall<'_>) + Sync),
    ) -> Result<Vec<ItemReply>, StoreError> {
        let mut replies: Vec<Option<ItemReply>> = vec![None; items.len()];
        let mut pending: Vec<usize> = (0..items.len()).collect();
        let mut extra: std::collections::BTreeMap<Shard, BTreeSet<QueueName>> = Default::default();
        for _ in 0..MAX_DECLARE_ROUNDS {
            if pending.is_empty() {
                break;
            }
            let mut by_shard: std::collections::BTreeMap<Shard, Vec<usize>> = Default::default();
            for &index in &pending {
                by_shard
                    .entry(items[index].shard())
                    .or_default()
                    .push(index);
            }
            let mut pipe = redis::pipe();
            for (shard, indices) in &by_shard {
                let mut queues = extra.get(shard).cloned().unwrap_or_default();
                queues.extend(indices.iter().map(|&index| items[index].queue().clone()));
                let mut call = self.shard_call(script, *shard, kinds, &queues);
                head(&mut call);
                for &index in indices {
                    items[index].add_to(&self.keys, &mut call);
                }
                call.add_to(&mut pipe);
            }
            let answers: Vec<Vec<Vec<String>>> = self.query_pipeline(conn, &pipe).await?;
            if answers.len() != by_shard.len() {
                return Err(StoreError::UnexpectedReply {
                    script: name,
                    reply: format!("{} answers for {} calls", answers.len(), by_shard.len()),
                });
            }
            pending.clear();
            for ((shard, indices), answer) in by_shard.iter().zip(answers) {
                if answer.len() != indices.len() {
                    return Err(StoreError::UnexpectedReply {
                        script: name,
                        reply: format!("{} replies for {} items", answer.len(), indices.len()),
                    });
                }
                for (&index, parts) in indices.iter().zip(answer) {
                    let reply = ItemReply::parse(name, parts)?;
                    if let Some(queues) = reply.undeclared_queues() {
                        let queues = queues?;
                        for queue in &queues {
                            self.ensure_queue(queue).await?;
                        }
                        extra.entry(*shard).or_default().extend(queues);
                        pending.push(index);
                    } else {
                        replies[index] = Some(reply);
                    }
                }
            }
        }
        replies
            .into_iter()
            .map(|reply| {
                reply.ok_or(StoreError::UnexpectedReply {
                    script: name,
                    reply: "queues still undeclared after declaring them".into(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_call_is_the_evalsha_of_its_keys_then_its_arguments() {
        let script = Script::new("return 1");
        let mut call = ShardCall::new(&script);
        call.key("k1")
            .arg("a1")
            .arg(7)
            .key("k2")
            .arg(&["a2", "a3"][..]);
        let mut pipe = redis::pipe();
        call.add_to(&mut pipe);
        let expected = redis::cmd("EVALSHA")
            .arg(script.get_hash())
            .arg(2)
            .arg("k1")
            .arg("k2")
            .arg("a1")
            .arg(7)
            .arg("a2")
            .arg("a3")
            .get_packed_command();
        assert_eq!(pipe.get_packed_pipeline(), expected);
    }

    #[test]
    fn key_blocks_are_named_once_and_as_the_keys_name_them() {
        let keys = Keys::with_shards("p", 4);
        let blocks = ShardKeyBlocks::default();
        let shard = Shard::new(3);
        let queue = QueueName::parse("mail").expect("a valid name");
        let kind = BlockName::Kind(shard, RunKind::Release);
        let index = blocks.get(&keys, kind.clone());
        assert_eq!(
            &index[..],
            &keys.kind_index_block(shard, RunKind::Release)[..]
        );
        assert!(Arc::ptr_eq(&index, &blocks.get(&keys, kind)));
        let queue_block = blocks.get(&keys, BlockName::Queue(shard, queue.clone()));
        assert_eq!(&queue_block[..], &keys.queue_block(shard, &queue)[..]);
        assert!(!Arc::ptr_eq(
            &queue_block,
            &blocks.get(&keys, BlockName::Queue(Shard::new(2), queue))
        ));
    }
}
