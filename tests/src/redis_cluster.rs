//! A real, throw-away Redis Cluster per test.
//!
//! [`RedisCluster::start`] runs six cluster-enabled `redis-server` nodes (each a
//! [`RedisServer`] on a free loopback port, with its cluster bus on another free port), joins
//! them with `redis-cli --cluster create --cluster-replicas 1` into three masters with one
//! replica each, and waits until every node sees a healthy cluster. A test can kill a master
//! ([`RedisCluster::kill_node`]) and wait until its replica has taken over
//! ([`RedisCluster::wait_for_failover`]). Every node is killed (SIGKILL) on drop.
//!
//! The admin checks are synchronous (`redis` connections and `redis-cli`), so they work in
//! plain `#[test]`s as well as in async tests. `redis-cli` comes from the directory of
//! `BATON_TEST_REDIS_SERVER` when that is set, else from the `PATH`.

use std::collections::HashSet;
use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::redis_server::{RedisServer, find_on_path};

/// How many nodes the cluster has: three masters and one replica for each.
const NODES: usize = 6;
/// The number of hash slots of a Redis Cluster.
const SLOTS: u32 = 16384;
/// How long [`RedisCluster::start`] waits for `redis-cli --cluster create`.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`RedisCluster::start`] waits for every node to see a healthy cluster.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How many cluster bus ports one node tries before giving up.
const BUS_PORT_ATTEMPTS: usize = 3;
/// The connect, read and write timeout of one admin command.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the waits poll.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How many lines of each node's log a panic message shows.
const LOG_LINES: usize = 40;
/// Ports a test must never use: the default Redis port and `scripts/run`'s default port.
const RESERVED_PORTS: [u16; 2] = [6379, 6390];

/// Ports [`spare_port`] already handed out in this test process.
static SPARE_PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A running Redis Cluster of six nodes (three masters, one replica each), private to one
/// test; every node is killed (SIGKILL) on drop.
///
/// ```no_run
/// # async fn demo() -> redis::RedisResult<()> {
/// use std::time::Duration;
/// let mut cluster = baton_tests::RedisCluster::start();
/// let client = redis::cluster::ClusterClient::new(cluster.node_urls())?;
/// let mut con = client.get_async_connection().await?;
/// let () = redis::cmd("SET").arg("{a}k").arg("v").query_async(&mut con).await?;
/// let master = cluster.master_of_key("{a}k");
/// cluster.kill_node(master);
/// cluster.wait_for_failover(master, Duration::from_secs(15));
/// let value: String = redis::cmd("GET").arg("{a}k").query_async(&mut con).await?;
/// assert_eq!(value, "v");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    /// Holds `redis-cli.log`, the output of `redis-cli --cluster create`.
    dir: TempDir,
}

/// One line of `CLUSTER NODES`: a node as another node sees it.
#[derive(Debug, Clone)]
struct NodeView {
    id: String,
    port: u16,
    flags: Vec<String>,
    /// The id of the master this node replicates, `-` for a master.
    master_id: String,
    /// The slot ranges this node serves, both ends included.
    slots: Vec<(u32, u32)>,
}

impl NodeView {
    fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// Marked failed (`fail`) or possibly failed (`fail?`) by the asking node.
    fn failed(&self) -> bool {
        self.has_flag("fail") || self.has_flag("fail?")
    }

    /// A master that serves slots and is not considered failed.
    fn is_live_master(&self) -> bool {
        self.has_flag("master") && !self.failed() && !self.slots.is_empty()
    }

    fn serves(&self, slot: u32) -> bool {
        self.slots.iter().any(|&(lo, hi)| lo <= slot && slot <= hi)
    }
}

impl RedisCluster {
    /// Starts six cluster nodes on free loopback ports, creates the cluster (three masters,
    /// one replica each) and waits until every node reports `cluster_state:ok` with all
    /// 16384 slots assigned and every replica is in sync with its master.
    ///
    /// The nodes run with `--cluster-node-timeout 1000` and
    /// `--cluster-replica-validity-factor 0`, so a killed master's replica takes over within
    /// a few seconds. Panics (with the nodes' logs) when the cluster does not come up.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("baton-redis-cluster-")
            .tempdir()
            .expect("cannot create a temporary directory for the redis cluster");
        let nodes = (0..NODES).map(|_| start_node()).collect();
        let cluster = RedisCluster { nodes, dir };
        cluster.create();
        cluster.wait_ready();
        cluster
    }

    /// The URL the application connects with:
    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`, the current masters'
    /// addresses (see [`masters`](Self::masters)).
    pub fn url(&self) -> String {
        let masters: Vec<String> = self
            .masters()
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        format!("redis+cluster://{}", masters.join(","))
    }

    /// `redis://127.0.0.1:PORT` for each of the six nodes, killed ones included: the seed
    /// nodes for a `redis::cluster::ClusterClient`.
    pub fn node_urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The ports of the current masters, in ascending order: the nodes that serve slots and
    /// that a live node does not consider failed.
    ///
    /// Panics when no live node answers.
    pub fn masters(&self) -> Vec<u16> {
        let (_, view) = self.any_view();
        let mut ports: Vec<u16> = view
            .iter()
            .filter(|n| n.is_live_master())
            .map(|n| n.port)
            .collect();
        ports.sort_unstable();
        ports
    }

    /// The port of the master that serves `key`'s hash slot, as a live node sees it (so it
    /// may name a killed master until the failover).
    ///
    /// Panics when no live node answers or no master serves the slot.
    pub fn master_of_key(&self, key: &str) -> u16 {
        let (port, view) = self.any_view();
        let slot: u32 = query(port, redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
            .unwrap_or_else(|e| panic!("CLUSTER KEYSLOT {key:?} failed: {e}"));
        view.iter()
            .find(|n| n.has_flag("master") && n.serves(slot))
            .map(|n| n.port)
            .unwrap_or_else(|| {
                panic!(
                    "no master serves slot {slot} (key {key:?}) according to node {port}:\n{}",
                    describe(&view)
                )
            })
    }

    /// Kills the node on `port` with SIGKILL (a crash) and keeps it stopped.
    ///
    /// Panics when `port` is not one of this cluster's nodes.
    pub fn kill_node(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port() == port)
            .unwrap_or_else(|| panic!("port {port} is not a node of this cluster"));
        node.stop();
    }

    /// Waits until every live node reports `cluster_state:ok` with all 16384 slots served
    /// by healthy masters, and none of them sees a slot served by `dead_port` (its replica
    /// took over).
    ///
    /// Panics (with the nodes' views and logs) when `timeout` passes first.
    pub fn wait_for_failover(&self, dead_port: u16, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let mut problems = Vec::new();
            for node in self.live_nodes().filter(|n| n.port() != dead_port) {
                if let Err(e) = failover_seen(node.port(), dead_port) {
                    problems.push(format!("node {}: {e}", node.port()));
                }
            }
            if problems.is_empty() && self.live_nodes().any(|n| n.port() != dead_port) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the cluster did not fail over from node {dead_port} within {timeout:?}:\n{}\
                     \n{}",
                    problems.join("\n"),
                    self.logs()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// The nodes that were not killed.
    fn live_nodes(&self) -> impl Iterator<Item = &RedisServer> {
        self.nodes.iter().filter(|n| n.pid().is_some())
    }

    /// The first live node that answers, with its `CLUSTER NODES` view.
    fn any_view(&self) -> (u16, Vec<NodeView>) {
        let mut errors = Vec::new();
        for node in self.live_nodes() {
            match cluster_nodes(node.port()) {
                Ok(view) => return (node.port(), view),
                Err(e) => errors.push(format!("node {}: {e}", node.port())),
            }
        }
        panic!(
            "no live cluster node answers CLUSTER NODES:\n{}\n{}",
            errors.join("\n"),
            self.logs()
        );
    }

    /// Runs `redis-cli --cluster create` over all nodes; panics with its output when it
    /// fails or hangs.
    fn create(&self) {
        let cli = redis_binary("redis-cli");
        let log_path = self.dir.path().join("redis-cli.log");
        let log = File::create(&log_path).expect("cannot create the redis-cli log file");
        let log_err = log
            .try_clone()
            .expect("cannot clone the redis-cli log file");
        let mut child = Command::new(&cli)
            .args(["--cluster", "create"])
            .args(self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", cli.display()));
        let deadline = Instant::now() + CREATE_TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(format!("it did not finish within {CREATE_TIMEOUT:?}"));
                }
                Ok(None) => std::thread::sleep(POLL_INTERVAL),
                Err(e) => break Err(format!("cannot wait for it: {e}")),
            }
        };
        let output = std::fs::read_to_string(&log_path).unwrap_or_default();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => panic!(
                "redis-cli --cluster create failed ({status}):\n{output}\n{}",
                self.logs()
            ),
            Err(e) => panic!(
                "redis-cli --cluster create failed: {e}:\n{output}\n{}",
                self.logs()
            ),
        }
    }

    /// Waits until every node sees a healthy cluster of three masters and three replicas
    /// and every replica's link to its master is up.
    fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let problems: Vec<String> = self
                .nodes
                .iter()
                .filter_map(|n| node_ready(n.port()).err())
                .collect();
            if problems.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                let create_log = std::fs::read_to_string(self.dir.path().join("redis-cli.log"))
                    .unwrap_or_default();
                panic!(
                    "the redis cluster did not become ready within {READY_TIMEOUT:?}:\n{}\n\
                     --- redis-cli --cluster create ---\n{create_log}\n{}",
                    problems.join("\n"),
                    self.logs()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// The last lines of every node's log, for panic messages.
    fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let state = if n.pid().is_some() { "" } else { ", killed" };
                format!(
                    "--- node {}{state} log ---\n{}",
                    n.port(),
                    log_tail(&n.log(), LOG_LINES)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Starts one cluster-enabled node; retries with another cluster bus port when the node
/// does not come up (another process may have taken the bus port meanwhile).
fn start_node() -> RedisServer {
    let mut failures = Vec::new();
    for _ in 0..BUS_PORT_ATTEMPTS {
        let bus_port = spare_port().to_string();
        let args = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "1000",
            "--cluster-replica-validity-factor",
            "0",
            "--cluster-port",
            &bus_port,
            // A replica's first sync starts at once instead of after the default 5 s.
            "--repl-diskless-sync-delay",
            "0",
        ];
        match std::panic::catch_unwind(|| RedisServer::start_with(&args)) {
            Ok(node) => return node,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("cluster bus port {bus_port}: {message}"));
            }
        }
    }
    panic!(
        "no cluster node started after {BUS_PORT_ATTEMPTS} cluster bus ports:\n{}",
        failures.join("\n")
    );
}

/// `Ok` when the node on `port` sees a healthy, complete cluster and, for a replica, its
/// link to its master is up; else what is missing.
fn node_ready(port: u16) -> Result<(), String> {
    let info = cluster_info(port)?;
    for (field, expected) in [
        ("cluster_state", "ok".to_string()),
        ("cluster_slots_assigned", SLOTS.to_string()),
        ("cluster_slots_ok", SLOTS.to_string()),
        ("cluster_known_nodes", NODES.to_string()),
    ] {
        let actual = info_field(&info, field);
        if actual != Some(expected.as_str()) {
            return Err(format!("node {port}: {field} is {actual:?}"));
        }
    }
    let view = cluster_nodes(port)?;
    let masters = view.iter().filter(|n| n.is_live_master()).count();
    let replicas = view
        .iter()
        .filter(|n| n.has_flag("slave") && !n.failed())
        .count();
    if masters != NODES / 2 || replicas != NODES / 2 {
        return Err(format!(
            "node {port} sees {masters} masters and {replicas} replicas:\n{}",
            describe(&view)
        ));
    }
    let me = view
        .iter()
        .find(|n| n.has_flag("myself"))
        .ok_or_else(|| format!("node {port}: CLUSTER NODES has no `myself` line"))?;
    if me.has_flag("slave") {
        let replication: String = query(port, redis::cmd("INFO").arg("replication"))?;
        let link = info_field(&replication, "master_link_status");
        if link != Some("up") {
            return Err(format!("replica {port}: master_link_status is {link:?}"));
        }
    }
    Ok(())
}

/// `Ok` when the node on `port` sees a healthy cluster in which `dead_port` serves no slot.
fn failover_seen(port: u16, dead_port: u16) -> Result<(), String> {
    let info = cluster_info(port)?;
    for (field, expected) in [
        ("cluster_state", "ok".to_string()),
        ("cluster_slots_ok", SLOTS.to_string()),
    ] {
        let actual = info_field(&info, field);
        if actual != Some(expected.as_str()) {
            return Err(format!("{field} is {actual:?}"));
        }
    }
    let view = cluster_nodes(port)?;
    if view
        .iter()
        .any(|n| n.port == dead_port && !n.slots.is_empty())
    {
        return Err(format!(
            "node {dead_port} still serves slots:\n{}",
            describe(&view)
        ));
    }
    Ok(())
}

/// `CLUSTER INFO` of the node on `port`.
fn cluster_info(port: u16) -> Result<String, String> {
    query(port, redis::cmd("CLUSTER").arg("INFO"))
}

/// `CLUSTER NODES` of the node on `port`, parsed.
fn cluster_nodes(port: u16) -> Result<Vec<NodeView>, String> {
    let text: String = query(port, redis::cmd("CLUSTER").arg("NODES"))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse_node_line(l).ok_or_else(|| format!("unexpected CLUSTER NODES line {l:?}")))
        .collect()
}

/// Parses `<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link>
/// <slot>...`; slots being imported or migrated (`[...]`) are left out.
fn parse_node_line(line: &str) -> Option<NodeView> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 8 {
        return None;
    }
    let address = fields[1].split(['@', ',']).next()?;
    let port = address.rsplit_once(':')?.1.parse().ok()?;
    let slots = fields[8..]
        .iter()
        .filter(|s| !s.starts_with('['))
        .map(|s| match s.split_once('-') {
            Some((lo, hi)) => Some((lo.parse().ok()?, hi.parse().ok()?)),
            None => s.parse().ok().map(|slot| (slot, slot)),
        })
        .collect::<Option<Vec<_>>>()?;
    Some(NodeView {
        id: fields[0].to_owned(),
        port,
        flags: fields[2].split(',').map(str::to_owned).collect(),
        master_id: fields[3].to_owned(),
        slots,
    })
}

/// A readable form of a `CLUSTER NODES` view, for panic messages.
fn describe(view: &[NodeView]) -> String {
    view.iter()
        .map(|n| {
            let replicates = view
                .iter()
                .find(|m| m.id == n.master_id)
                .map(|m| format!(" of {}", m.port))
                .unwrap_or_default();
            let slots: Vec<String> = n
                .slots
                .iter()
                .map(|(lo, hi)| format!("{lo}-{hi}"))
                .collect();
            format!(
                "  {} {}{replicates} slots [{}]",
                n.port,
                n.flags.join(","),
                slots.join(" ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of `field` in an `INFO`-style text of `field:value` lines.
pub(crate) fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(str::trim)
}

/// Runs one admin command against `127.0.0.1:port` over a fresh connection, with short
/// timeouts so that a dead or hanging node fails fast.
pub(crate) fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> Result<T, String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
    let mut con = client
        .get_connection_with_timeout(ADMIN_TIMEOUT)
        .map_err(|e| format!("cannot connect to 127.0.0.1:{port}: {e}"))?;
    con.set_read_timeout(Some(ADMIN_TIMEOUT))
        .and_then(|()| con.set_write_timeout(Some(ADMIN_TIMEOUT)))
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
    cmd.query(&mut con)
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))
}

/// The last `lines` lines of `log`.
pub(crate) fn log_tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A Redis binary (`redis-server`, `redis-cli`): `BATON_TEST_REDIS_SERVER` for
/// `redis-server`, a file of that name next to it for the others, else the first one on the
/// `PATH`.
pub(crate) fn redis_binary(name: &str) -> PathBuf {
    if let Some(server) = std::env::var_os("BATON_TEST_REDIS_SERVER") {
        let server = PathBuf::from(server);
        if name == "redis-server" {
            return server;
        }
        if let Some(sibling) = server.parent().map(|dir| dir.join(name))
            && sibling.is_file()
        {
            return sibling;
        }
    }
    find_on_path(name).unwrap_or_else(|| {
        panic!(
            "{name} not found on PATH: the Redis Cluster and Sentinel tests need the Redis \
             tools. Run `scripts/test` (it installs them when missing), or `apt-get install \
             redis-server`, or put {name} next to BATON_TEST_REDIS_SERVER"
        )
    })
}

/// A loopback port that was free a moment ago, never a reserved one and never one this
/// function handed out before: for the processes [`RedisServer`] does not start itself
/// (cluster bus ports, sentinels).
pub(crate) fn spare_port() -> u16 {
    let mut used = SPARE_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let used = used.get_or_insert_with(HashSet::new);
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("cannot read a bound port: {e}"))
            .port();
        if !RESERVED_PORTS.contains(&port) && used.insert(port) {
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cluster_nodes_lines() {
        let master = parse_node_line(
            "236b 127.0.0.1:41001@42001 myself,master - 0 1796 1 connected 0-5460 5461 \
             [5462->-abcd]",
        )
        .unwrap();
        assert_eq!(master.port, 41001);
        assert!(master.has_flag("myself") && master.is_live_master());
        assert_eq!(master.slots, [(0, 5460), (5461, 5461)]);
        assert!(master.serves(5461) && !master.serves(5462));

        let replica =
            parse_node_line("7ca3 127.0.0.1:41004@42004,host slave 236b 0 1796 1 connected")
                .unwrap();
        assert_eq!(replica.port, 41004);
        assert_eq!(replica.master_id, "236b");
        assert!(!replica.is_live_master());

        let dead =
            parse_node_line("9f 127.0.0.1:41002@42002 master,fail - 1 1 2 disconnected").unwrap();
        assert!(dead.failed() && !dead.is_live_master());
        assert!(parse_node_line("garbage").is_none());
    }

    #[test]
    fn reads_info_fields() {
        let info = "# Cluster\r\ncluster_state:ok\r\ncluster_slots_ok:16384\r\n";
        assert_eq!(info_field(info, "cluster_state"), Some("ok"));
        assert_eq!(info_field(info, "cluster_slots_ok"), Some("16384"));
        assert_eq!(info_field(info, "cluster_slots"), None);
    }
}
