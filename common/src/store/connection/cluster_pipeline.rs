//! Pipelines on Redis Cluster: split by hash slot, sent to each slot's node at once, and
//! answered in the pipeline's order.
//!
//! The cluster client sends a pipeline to one node, which refuses commands of slots it does
//! not serve. Baton's pipelines often span shards (a page of runs, a sum over every shard's
//! counters), so each is cut into one sub-pipeline per slot; commands without a key (`PING`,
//! `SCRIPT LOAD`, `INFO`) go on their own and the cluster client routes them (`SCRIPT LOAD`
//! to every master); a `WAIT` goes with the command before it, since it waits for that
//! node's replicas. Transactions (`MULTI`/`EXEC`) are sent whole: they must be single-slot.

use std::collections::BTreeMap;

use futures::future::try_join_all;
use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::{Arg, Cmd, Pipeline, RedisResult, Value};

/// Number of hash slots of a Redis Cluster.
const SLOTS: u16 = 16384;

/// Where one command of a pipeline goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Destination {
    /// The node that serves this slot.
    Slot(u16),
    /// Wherever the cluster client routes it, on its own.
    Alone,
}

/// Sends `pipeline` (not a transaction) over `connection`, one sub-pipeline per slot, and
/// returns every reply in the pipeline's order.
pub async fn send(
    connection: &mut ClusterConnection,
    pipeline: &Pipeline,
) -> RedisResult<Vec<Value>> {
    let commands: Vec<&Cmd> = pipeline.cmd_iter().collect();
    let destinations = destinations(&commands);
    let mut groups: BTreeMap<Destination, Vec<usize>> = BTreeMap::new();
    let mut alone = Vec::new();
    for (index, destination) in destinations.iter().enumerate() {
        match destination {
            Destination::Slot(_) => groups.entry(*destination).or_default().push(index),
            Destination::Alone => alone.push(index),
        }
    }
    if alone.is_empty() && groups.len() <= 1 {
        return connection
            .req_packed_commands(pipeline, 0, commands.len())
            .await;
    }
    let grouped = groups.into_values().map(|indexes| {
        let mut connection = connection.clone();
        let mut part = redis::pipe();
        for &index in &indexes {
            part.add_command(commands[index].clone());
        }
        async move {
            let replies = connection
                .req_packed_commands(&part, 0, indexes.len())
                .await?;
            Ok::<_, redis::RedisError>(indexes.into_iter().zip(replies).collect::<Vec<_>>())
        }
    });
    let singles = alone.into_iter().map(|index| {
        let mut connection = connection.clone();
        let command = commands[index];
        async move {
            let reply = match connection.req_packed_command(command).await {
                Ok(reply) => reply,
                // A server error is one command's reply, as it is inside a pipeline.
                Err(error) => match error.clone().into_server_errors().as_deref() {
                    Some([(_, server_error)]) => Value::ServerError(server_error.clone()),
                    _ => return Err(error),
                },
            };
            Ok::<_, redis::RedisError>(vec![(index, reply)])
        }
    });
    let (grouped, singles) = futures::join!(try_join_all(grouped), try_join_all(singles));
    let mut replies: Vec<Option<Value>> = vec![None; commands.len()];
    for (index, reply) in grouped?.into_iter().chain(singles?).flatten() {
        replies[index] = Some(reply);
    }
    replies
        .into_iter()
        .map(|reply| {
            reply.ok_or_else(|| {
                redis::RedisError::from(std::io::Error::other("a cluster pipeline lost a reply"))
            })
        })
        .collect()
}

/// Where each command goes: its key's slot; a `WAIT` follows the command before it.
fn destinations(commands: &[&Cmd]) -> Vec<Destination> {
    let mut destinations = Vec::with_capacity(commands.len());
    let mut previous = Destination::Alone;
    for command in commands {
        let destination = if name(command).eq_ignore_ascii_case(b"WAIT") {
            previous
        } else {
            routing_key(command).map_or(Destination::Alone, |key| Destination::Slot(slot(key)))
        };
        destinations.push(destination);
        previous = destination;
    }
    destinations
}

fn arg(command: &Cmd, index: usize) -> Option<&[u8]> {
    match command.args_iter().nth(index)? {
        Arg::Simple(bytes) => Some(bytes),
        _ => None,
    }
}

fn name(command: &Cmd) -> &[u8] {
    arg(command, 0).unwrap_or_default()
}

/// The key a command is routed by, or `None` for a command without one.
fn routing_key(command: &Cmd) -> Option<&[u8]> {
    let name = name(command).to_ascii_uppercase();
    match name.as_slice() {
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" | b"FCALL_RO" => {
            let keys: usize = std::str::from_utf8(arg(command, 2)?).ok()?.parse().ok()?;
            if keys == 0 { None } else { arg(command, 3) }
        }
        b"XREAD" | b"XREADGROUP" => {
            let streams = command.args_iter().position(|argument| {
                matches!(argument, Arg::Simple(bytes) if bytes.eq_ignore_ascii_case(b"STREAMS"))
            })?;
            arg(command, streams + 1)
        }
        b"XINFO" | b"XGROUP" | b"OBJECT" | b"MEMORY" => arg(command, 2),
        b"PING" | b"INFO" | b"SCRIPT" | b"TIME" | b"DBSIZE" | b"CLUSTER" | b"CONFIG"
        | b"CLIENT" | b"PUBLISH" | b"WAIT" | b"FLUSHALL" | b"FLUSHDB" | b"COMMAND" | b"ROLE"
        | b"SCAN" | b"KEYS" | b"LATENCY" | b"SLOWLOG" => None,
        _ => arg(command, 1),
    }
}

/// The hash slot of `key`: CRC16 of its hash tag (the text between the first `{` and the
/// next `}`, when not empty) or of the whole key, modulo 16384.
fn slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&byte| byte == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter()
                .position(|&byte| byte == b'}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key);
    crc16::State::<crc16::XMODEM>::calculate(tagged) % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_hash_tags_as_redis_computes_them() {
        // Values from `CLUSTER KEYSLOT`.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"{user1000}.following"), slot(b"{user1000}.followers"));
        assert_eq!(slot(b"baton:{s:3}:run:x"), slot(b"s:3"));
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"));
        assert_ne!(slot(b"foo{}{bar}"), slot(b"bar"));
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
    }

    #[test]
    fn commands_route_by_their_key_and_a_wait_by_the_command_before_it() {
        let mut script = redis::cmd("EVALSHA");
        script
            .arg("abc")
            .arg(2)
            .arg("a{s:1}x")
            .arg("b{s:1}y")
            .arg("arg");
        let mut read = redis::cmd("XREADGROUP");
        read.arg("GROUP").arg("g").arg("c").arg("COUNT").arg(5);
        read.arg("STREAMS").arg("q{s:2}").arg(">");
        let mut info = redis::cmd("XINFO");
        info.arg("GROUPS").arg("q{s:3}");
        let mut wait = redis::cmd("WAIT");
        wait.arg(1).arg(100);
        let ping = redis::cmd("PING");
        let mut keyless = redis::cmd("EVALSHA");
        keyless.arg("abc").arg(0);
        let commands = [&script, &read, &info, &wait, &ping, &keyless];
        assert_eq!(
            destinations(&commands),
            [
                Destination::Slot(slot(b"s:1")),
                Destination::Slot(slot(b"s:2")),
                Destination::Slot(slot(b"s:3")),
                Destination::Slot(slot(b"s:3")),
                Destination::Alone,
                Destination::Alone,
            ]
        );
    }
}
