//! The bench's view of its Redis deployment: sections of `INFO` (CPU time, memory, command
//! statistics), `FLUSHALL`, `CONFIG RESETSTAT` and deleting everything under a key prefix.
//!
//! [`RedisNodes`] holds one plain connection per master: the server of a `redis://` URL, the
//! master the sentinels of a `redis+sentinel://` URL name, or every master of the Redis
//! Cluster a `redis+cluster://` URL (or a list of seed URLs) names, found with `CLUSTER
//! NODES` through the first seed node that answers. Readings are summed over the masters
//! (or given per master); commands that change state go to every master.

use std::collections::HashMap;
use std::future::Future;

use common::error::InvalidInput;
use common::store::connection::RedisAddress;
use common::store::connection::sentinel::Sentinels;
use redis::aio::MultiplexedConnection;
use redis::{ConnectionAddr, ConnectionInfo};

use super::BenchResult;

/// Plain connections to the masters of the bench's Redis deployment, by address
/// (`host:port`), in address order.
#[derive(Clone)]
pub struct RedisNodes {
    /// Each master's address and connection.
    nodes: Vec<(String, MultiplexedConnection)>,
    /// True on a Redis Cluster (even one with a single master).
    cluster: bool,
}

impl RedisNodes {
    /// Connects to every master of the deployment `url` names.
    pub async fn connect(url: &str) -> BenchResult<Self> {
        match RedisAddress::parse(url)? {
            RedisAddress::Single(info) => {
                let client = redis::Client::open(*info)?;
                Ok(Self::single(client).await?)
            }
            RedisAddress::Sentinel(sentinel) => {
                let client = Sentinels::new(&sentinel, None)?.master().await?;
                Ok(Self::single(client).await?)
            }
            RedisAddress::Cluster(cluster) => {
                let mut last_error = None;
                for seed in &cluster.nodes {
                    match cluster_masters(seed).await {
                        Ok(masters) if !masters.is_empty() => {
                            return Self::open_masters(seed, masters).await;
                        }
                        Ok(_) => {
                            last_error = Some(
                                InvalidInput::new(format!(
                                    "cluster node {} knows no master serving slots",
                                    seed.addr()
                                ))
                                .into(),
                            );
                        }
                        Err(error) => last_error = Some(error),
                    }
                }
                Err(last_error
                    .unwrap_or_else(|| InvalidInput::new("the cluster URL names no node").into()))
            }
        }
    }

    /// One connection to the server `client` reaches.
    async fn single(client: redis::Client) -> redis::RedisResult<Self> {
        let address = client.get_connection_info().addr().to_string();
        let connection = client.get_multiplexed_async_connection().await?;
        Ok(Self {
            nodes: vec![(address, connection)],
            cluster: false,
        })
    }

    /// One connection to each of `masters`, with the seed node's credentials and TLS.
    async fn open_masters(seed: &ConnectionInfo, masters: Vec<(String, u16)>) -> BenchResult<Self> {
        let mut nodes = Vec::with_capacity(masters.len());
        for (host, port) in masters {
            let host = if host.is_empty() {
                // A node that does not know its own address yet: the one we reached it at.
                match seed.addr() {
                    ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } => {
                        host.clone()
                    }
                    _ => "127.0.0.1".to_owned(),
                }
            } else {
                host
            };
            let addr = match seed.addr() {
                ConnectionAddr::TcpTls {
                    insecure,
                    tls_params,
                    ..
                } => ConnectionAddr::TcpTls {
                    host,
                    port,
                    insecure: *insecure,
                    tls_params: tls_params.clone(),
                },
                _ => ConnectionAddr::Tcp(host, port),
            };
            let address = addr.to_string();
            let client = redis::Client::open(seed.clone().set_addr(addr))?;
            nodes.push((address, client.get_multiplexed_async_connection().await?));
        }
        nodes.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self {
            nodes,
            cluster: true,
        })
    }

    /// Masters connected to (1 on a single server or Sentinel).
    pub fn count(&self) -> usize {
        self.nodes.len()
    }

    /// True on a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// Runs `call` on every master at once; the results in address order.
    async fn on_each<T, F, Fut>(&self, call: F) -> BenchResult<Vec<T>>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = BenchResult<T>>,
    {
        futures::future::try_join_all(self.nodes.iter().map(|(_, conn)| call(conn.clone()))).await
    }

    /// One section of `INFO` of each master, in address order.
    pub async fn info(&self, section: &str) -> BenchResult<Vec<HashMap<String, String>>> {
        self.on_each(|mut conn| async move { info(&mut conn, section).await })
            .await
    }

    /// CPU seconds (`used_cpu_user` + `used_cpu_sys`) each master has used since it started,
    /// by address.
    pub async fn cpu_secs_by_node(&self) -> BenchResult<Vec<(String, f64)>> {
        let readings = self.info("cpu").await?;
        Ok(self
            .nodes
            .iter()
            .zip(readings)
            .map(|((address, _), cpu)| (address.clone(), cpu_of(&cpu)))
            .collect())
    }

    /// CPU seconds the masters have used since they started, in all.
    pub async fn cpu_secs(&self) -> BenchResult<f64> {
        Ok(self
            .cpu_secs_by_node()
            .await?
            .iter()
            .map(|(_, secs)| secs)
            .sum())
    }

    /// Bytes the masters' allocators hold for data (`used_memory`), in all.
    pub async fn used_memory(&self) -> BenchResult<u64> {
        Ok(self
            .info("memory")
            .await?
            .iter()
            .map(|memory| {
                memory
                    .get("used_memory")
                    .and_then(|value| value.parse::<u64>().ok())
                    .unwrap_or(0)
            })
            .sum())
    }

    /// The first master's version (`redis_version`), or `?`.
    pub async fn server_version(&self) -> BenchResult<String> {
        let (_, conn) = &self.nodes[0];
        let server = info(&mut conn.clone(), "server").await?;
        Ok(server
            .get("redis_version")
            .cloned()
            .unwrap_or_else(|| "?".to_owned()))
    }

    /// Empties every master at once (`FLUSHALL SYNC`): only for the bench's own server.
    pub async fn flush_all(&self) -> BenchResult<()> {
        self.on_each(|mut conn| async move {
            redis::cmd("FLUSHALL")
                .arg("SYNC")
                .query_async::<()>(&mut conn)
                .await?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Resets every master's statistics (`CONFIG RESETSTAT`).
    pub async fn reset_stats(&self) -> BenchResult<()> {
        self.on_each(|mut conn| async move {
            redis::cmd("CONFIG")
                .arg("RESETSTAT")
                .query_async::<()>(&mut conn)
                .await?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// `INFO commandstats` summed over the masters, as `command → cost`.
    pub async fn command_costs(&self) -> BenchResult<HashMap<String, CommandCost>> {
        let mut total: HashMap<String, CommandCost> = HashMap::new();
        for fields in self.info("commandstats").await? {
            for (command, cost) in parse_command_costs(&fields) {
                let sum = total.entry(command).or_default();
                sum.calls += cost.calls;
                sum.usec += cost.usec;
            }
        }
        Ok(total)
    }

    /// Deletes every key under `prefix` (`prefix:*`) on every master; returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> BenchResult<u64> {
        let cluster = self.cluster;
        let removed = self
            .on_each(|mut conn| async move { delete_prefix(&mut conn, prefix, cluster).await })
            .await?;
        Ok(removed.iter().sum())
    }
}

/// The masters serving slots in a `CLUSTER NODES` reply of the seed node `seed`, as
/// `(host, port)`, the host empty when the node does not know it.
async fn cluster_masters(seed: &ConnectionInfo) -> BenchResult<Vec<(String, u16)>> {
    let mut conn = redis::Client::open(seed.clone())?
        .get_multiplexed_async_connection()
        .await?;
    let text: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut conn)
        .await?;
    Ok(parse_cluster_masters(&text))
}

/// The healthy masters with slots in `CLUSTER NODES` text (`ID HOST:PORT@BUS[,NAME] FLAGS
/// MASTER PING PONG EPOCH STATE SLOT...`), as `(host, port)`.
fn parse_cluster_masters(text: &str) -> Vec<(String, u16)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags: Vec<&str> = fields.get(2)?.split(',').collect();
            let healthy = flags.contains(&"master")
                && !flags
                    .iter()
                    .any(|flag| matches!(*flag, "fail" | "fail?" | "noaddr" | "handshake"));
            if !healthy || fields.len() < 9 {
                return None;
            }
            let address = fields[1].split(['@', ',']).next()?;
            let (host, port) = address.rsplit_once(':')?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect()
}

/// One section of `INFO` of one server, as `field → value`.
async fn info(
    conn: &mut MultiplexedConnection,
    section: &str,
) -> BenchResult<HashMap<String, String>> {
    let text: String = redis::cmd("INFO").arg(section).query_async(conn).await?;
    Ok(parse_info(&text))
}

/// `INFO` text as `field → value` (section headers and blank lines dropped).
fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
        .collect()
}

/// CPU seconds (`used_cpu_user` + `used_cpu_sys`) in an `INFO cpu` section.
fn cpu_of(cpu: &HashMap<String, String>) -> f64 {
    let field = |name: &str| {
        cpu.get(name)
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    field("used_cpu_user") + field("used_cpu_sys")
}

/// Calls and microseconds of one command, from `INFO commandstats`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommandCost {
    /// Times the command ran (inside scripts too).
    pub calls: u64,
    /// Microseconds it took in all (a script's include the commands it called).
    pub usec: u64,
}

/// `INFO commandstats` fields as `command → cost` (`evalsha`, `xadd`, `xinfo|groups`, ...).
fn parse_command_costs(fields: &HashMap<String, String>) -> HashMap<String, CommandCost> {
    fields
        .iter()
        .filter_map(|(name, value)| {
            let command = name.strip_prefix("cmdstat_")?;
            let number = |key: &str| {
                value
                    .split(',')
                    .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
                    .unwrap_or(0)
            };
            let cost = CommandCost {
                calls: number("calls"),
                usec: number("usec"),
            };
            Some((command.to_owned(), cost))
        })
        .collect()
}

/// What each command cost per job between two `command_costs` readings, most expensive
/// first, as lines `command  calls/job  µs/job`.
pub fn profile_lines(
    before: &HashMap<String, CommandCost>,
    after: &HashMap<String, CommandCost>,
    jobs: u64,
) -> Vec<String> {
    let per_job = |value: u64| value as f64 / jobs.max(1) as f64;
    let mut rows: Vec<(String, f64, f64)> = after
        .iter()
        .filter_map(|(name, cost)| {
            let old = before.get(name).copied().unwrap_or_default();
            let calls = cost.calls.saturating_sub(old.calls);
            (calls > 0).then(|| {
                let usec = cost.usec.saturating_sub(old.usec);
                (name.clone(), per_job(calls), per_job(usec))
            })
        })
        .collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    rows.into_iter()
        .map(|(name, calls, usec)| format!("{name:<16} {calls:>8.3} calls/job {usec:>8.2} us/job"))
        .collect()
}

/// Deletes every key under `prefix` (`prefix:*`) on one server with `SCAN` and `UNLINK`;
/// returns how many. On a cluster node each key is unlinked by itself (in one pipeline per
/// `SCAN` batch), since one command may not name keys of different slots.
async fn delete_prefix(
    conn: &mut MultiplexedConnection,
    prefix: &str,
    cluster: bool,
) -> BenchResult<u64> {
    let mut cursor: u64 = 0;
    let mut removed = 0;
    // A bounded number of rounds: SCAN ends when the cursor comes back to 0.
    for _ in 0..1_000_000 {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        if !keys.is_empty() {
            if cluster {
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.cmd("UNLINK").arg(key);
                }
                let counts: Vec<u64> = pipe.query_async(conn).await?;
                removed += counts.iter().sum::<u64>();
            } else {
                removed += redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async::<u64>(conn)
                    .await?;
            }
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commandstats_become_costs() {
        let fields = parse_info(
            "# Commandstats\r\ncmdstat_xadd:calls=4,usec=10,usec_per_call=2.50,rejected_calls=0\r\n",
        );
        let costs = parse_command_costs(&fields);
        assert_eq!(costs["xadd"], CommandCost { calls: 4, usec: 10 });
        let before = HashMap::from([("xadd".to_owned(), CommandCost { calls: 2, usec: 4 })]);
        assert_eq!(
            profile_lines(&before, &costs, 2),
            vec![format!(
                "{:<16} {:>8.3} calls/job {:>8.2} us/job",
                "xadd", 1.0, 3.0
            )]
        );
    }

    #[test]
    fn info_text_becomes_fields() {
        let fields = parse_info("# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:2.25\r\n\r\n");
        assert_eq!(fields.get("used_cpu_sys").map(String::as_str), Some("1.5"));
        assert_eq!(
            fields.get("used_cpu_user").map(String::as_str),
            Some("2.25")
        );
        assert_eq!(fields.len(), 2);
    }

    #[test]
    fn cluster_nodes_give_the_healthy_masters_with_slots() {
        let text = "\
a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7002@17002,node-b master - 0 1700000000000 2 connected 5461-10922
c3 127.0.0.1:7003@17003 master,fail - 0 1700000000000 3 connected 10923-16383
d4 127.0.0.1:7004@17004 slave a1 0 1700000000000 1 connected
e5 :7005@17005 master - 0 0 4 connected 10923-16383
f6 127.0.0.1:7006@17006 master - 0 0 5 connected
";
        assert_eq!(
            parse_cluster_masters(text),
            vec![
                ("127.0.0.1".to_owned(), 7001),
                ("127.0.0.1".to_owned(), 7002),
                (String::new(), 7005),
            ]
        );
    }

    #[test]
    fn cpu_is_user_plus_system() {
        let cpu = parse_info("# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:2.25\r\n");
        assert_eq!(cpu_of(&cpu), 3.75);
        assert_eq!(cpu_of(&HashMap::new()), 0.0);
    }
}
