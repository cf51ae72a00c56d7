//! Phase 2 of the default protocol, the drain: `workers` `baton-worker` processes started on
//! the backlog, timed until the queue's `succeeded` counter reaches the goal, with their memory
//! (`VmRSS`, `VmHWM`) and CPU time read from `/proc`.

use std::path::Path;
use std::time::{Duration, Instant};

use common::engine::model::QueueName;
use common::store::Store;

use super::{DefaultOptions, POLL};
use crate::bench::BenchResult;
use crate::bench::fleet::WorkerFleet;

/// Clock ticks per second of the CPU times in `/proc/PID/stat` (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// What the e2e phase measured.
#[derive(Debug)]
pub struct E2eResult {
    /// Value of the queue's `succeeded` counter when the phase ended.
    pub succeeded: u64,
    /// From the workers' start until the counter reached the goal (or the phase gave up).
    pub elapsed: Duration,
    /// True when the counter reached the goal.
    pub complete: bool,
    /// Largest `VmRSS` sampled from any worker, in kB.
    pub max_rss_kb: u64,
    /// Largest `VmHWM` (peak resident memory) of any worker at the end, in kB.
    pub max_hwm_kb: u64,
    /// CPU time each worker used, in seconds (from `/proc/PID/stat`).
    pub worker_cpu_secs: Vec<f64>,
}

/// Phase 2: starts the worker processes and waits until `goal` jobs have succeeded, sampling
/// the workers' memory; stops the workers at the end.
pub async fn run(
    options: &DefaultOptions,
    prefix: &str,
    store: &Store,
    queue: &QueueName,
    goal: u64,
) -> BenchResult<E2eResult> {
    let started = Instant::now();
    let mut fleet = WorkerFleet::start(options.workers, &options.url, prefix, options.concurrency);
    let deadline = started + options.drain_timeout;
    let mut max_rss_kb = 0;
    let mut succeeded = 0;
    let mut complete = false;
    let mut elapsed;
    let mut crashed = None;
    loop {
        let stats = store.queue_stats(queue).await?;
        succeeded = stats.get("succeeded").copied().unwrap_or(succeeded);
        elapsed = started.elapsed();
        if succeeded >= goal {
            complete = true;
            break;
        }
        for worker in fleet.workers() {
            max_rss_kb = max_rss_kb.max(proc_status_kb(worker.pid(), "VmRSS").unwrap_or(0));
        }
        if let Err(crash) = fleet.check_running() {
            crashed = Some(crash);
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let mut max_hwm_kb = 0;
    let mut worker_cpu_secs = Vec::new();
    for worker in fleet.workers() {
        max_rss_kb = max_rss_kb.max(proc_status_kb(worker.pid(), "VmRSS").unwrap_or(0));
        max_hwm_kb = max_hwm_kb.max(proc_status_kb(worker.pid(), "VmHWM").unwrap_or(0));
        if let Some(secs) = cpu_secs(worker.pid()) {
            worker_cpu_secs.push(secs);
        }
    }
    fleet.stop().await;
    for worker in fleet.workers() {
        let log = worker.log();
        if !log.trim().is_empty() {
            println!(
                "[e2e] worker pid {} logged {} lines (RUST_LOG=warn); last ones:\n{}",
                worker.pid(),
                log.lines().count(),
                worker.log_tail(10)
            );
        }
    }
    if let Some(crash) = crashed {
        return Err(crash);
    }
    Ok(E2eResult {
        succeeded,
        elapsed,
        complete,
        max_rss_kb,
        max_hwm_kb,
        worker_cpu_secs,
    })
}

/// A field of `/proc/PID/status` given in kB (`VmRSS`, `VmHWM`); `None` when unreadable.
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// CPU time (user + system) used so far by process `pid`, in seconds, from `/proc/PID/stat`.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    // Fields after the command name (which may hold spaces, hence the last ')'): state is
    // field 3, utime field 14 and stime field 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::runs::now_us;

    #[test]
    fn the_own_process_status_is_readable() {
        assert!(proc_status_kb(std::process::id(), "VmRSS").unwrap_or(0) > 0);
        assert!(proc_status_kb(std::process::id(), "NoSuchField").is_none());
    }

    #[test]
    fn the_own_cpu_time_is_readable() {
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(now_us());
        }
        assert!(cpu_secs(std::process::id()).unwrap_or(0.0) > 0.0);
    }
}
