//! Calls of the shard scripts: one script call settles a batch of runs or jobs of one shard.
//!
//! Every shard script takes the shard's run index keys and the key block of each queue it may
//! touch ("declared" queues) before the keys of its items (see `lua/shard_prelude.lua`). A
//! script that meets a queue it was not given does nothing for that item and answers
//! `{'queues', name...}`; the caller declares them and calls again for those items only.

use std::collections::BTreeSet;

use redis::{Script, ScriptInvocation};

use crate::engine::model::QueueName;
use crate::error::StoreError;
use crate::keys::{Keys, Shard};

/// Most times a batch is called again for queues it had not declared.
pub(crate) const MAX_DECLARE_ROUNDS: usize = 4;

/// Starts an invocation of `script` on `shard` with `queues` declared; the caller adds the
/// script's own arguments and its items' keys and arguments.
pub(crate) fn shard_invocation<'a>(
    script: &'a Script,
    keys: &Keys,
    shard: Shard,
    queues: &BTreeSet<QueueName>,
) -> ScriptInvocation<'a> {
    let mut invocation = script.prepare_invoke();
    for key in keys.index_block(shard) {
        invocation.key(key);
    }
    for queue in queues {
        for key in keys.queue_block(shard, queue) {
            invocation.key(key);
        }
    }
    invocation.arg(queues.len());
    for queue in queues {
        invocation.arg(queue.as_str());
    }
    invocation
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
    fn add_to(&self, keys: &Keys, invocation: &mut ScriptInvocation<'_>);
}

impl crate::store::Store {
    /// Calls `script` once per shard over `items` (its arguments before the items' come from
    /// `head`), in one round trip, and returns each item's reply in order. Items that met
    /// queues they had not declared are called again with those queues declared.
    pub(crate) async fn call_shard_batches<I: BatchItem>(
        &self,
        conn: &mut impl redis::aio::ConnectionLike,
        script: &Script,
        name: &'static str,
        items: &[I],
        head: &(dyn Fn(&mut ScriptInvocation<'_>) + Sync),
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
                let mut invocation = shard_invocation(script, &self.keys, *shard, &queues);
                head(&mut invocation);
                for &index in indices {
                    items[index].add_to(&self.keys, &mut invocation);
                }
                pipe.invoke_script(&invocation);
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
