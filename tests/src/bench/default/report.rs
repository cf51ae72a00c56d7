//! The default protocol's report: Redis's command statistics, and the lines it prints after
//! each phase, ending with one JSON object.

use std::collections::HashMap;

use super::DefaultOptions;
use super::e2e::E2eResult;
use super::enqueue::EnqueueResult;
use super::latency::LatencyResult;
use crate::bench::redis_info::RedisNodes;
use crate::bench::{BenchResult, per_second};

/// Commands listed in the per-command breakdown of the Redis statistics.
const TOP_COMMANDS: usize = 20;

/// Redis's command statistics: calls and total microseconds per command.
#[derive(Debug, Default)]
pub struct CommandStats {
    /// `(command, calls, usec)`, most calls first.
    pub commands: Vec<(String, u64, u64)>,
}

impl CommandStats {
    /// Total calls of every command.
    pub fn total_calls(&self) -> u64 {
        self.commands.iter().map(|(_, calls, _)| calls).sum()
    }

    /// `(calls, usec)` of one command; zeros when it was never called.
    pub fn get(&self, command: &str) -> (u64, u64) {
        self.commands
            .iter()
            .find(|(name, _, _)| name == command)
            .map_or((0, 0), |(_, calls, usec)| (*calls, *usec))
    }

    /// Calls of one command.
    pub fn calls(&self, command: &str) -> u64 {
        self.get(command).0
    }

    /// Mean microseconds per call of one command; `NaN` when it was never called.
    pub fn usec_per_call(&self, command: &str) -> f64 {
        let (calls, usec) = self.get(command);
        usec as f64 / calls as f64
    }

    /// Mean microseconds per call of one command since the statistics `earlier` were read.
    pub fn usec_per_call_since(&self, command: &str, earlier: &CommandStats) -> f64 {
        let (calls, usec) = self.get(command);
        let (calls_before, usec_before) = earlier.get(command);
        usec.saturating_sub(usec_before) as f64 / calls.saturating_sub(calls_before) as f64
    }
}

/// The `p`-th percentile (nearest rank) of sorted microsecond samples, in milliseconds;
/// `NaN` when there are none.
pub fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us[index] as f64 / 1000.0
}

/// `value` as a JSON number with `decimals` decimals, or `null` when it is not finite.
pub fn number(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "null".to_owned()
    }
}

/// Redis's `used_memory_human` from each master's `INFO memory`: the server's own on a single
/// server, else the masters' `used_memory` summed, in MiB.
pub fn used_memory_human(memory: &[HashMap<String, String>]) -> String {
    match memory {
        [one] => one
            .get("used_memory_human")
            .cloned()
            .unwrap_or_else(|| "?".to_owned()),
        many => {
            let bytes: u64 = many
                .iter()
                .filter_map(|node| node.get("used_memory")?.parse::<u64>().ok())
                .sum();
            format!("{:.2}M", bytes as f64 / (1024.0 * 1024.0))
        }
    }
}

/// `INFO commandstats` (summed over the masters): calls and time per command since the last
/// `CONFIG RESETSTAT`.
pub async fn command_stats(admin: &RedisNodes) -> BenchResult<CommandStats> {
    let mut commands: Vec<(String, u64, u64)> = admin
        .command_costs()
        .await?
        .into_iter()
        .map(|(name, cost)| (name, cost.calls, cost.usec))
        .collect();
    commands.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(CommandStats { commands })
}

/// The settings and the Redis the run uses, and a warning when the worker binary is not a
/// release build.
pub fn print_header(
    options: &DefaultOptions,
    own_redis: bool,
    admin: &RedisNodes,
    redis_version: &str,
) {
    let url = &options.url;
    println!(
        "baton-bench: jobs={} workers={} concurrency={} batch={} enqueuers={} rate={}/s \
         latency_secs={}",
        options.jobs,
        options.workers,
        options.concurrency,
        options.batch,
        options.enqueuers,
        options.rate,
        options.latency_secs
    );
    println!(
        "redis: {url} ({}, redis-server {}), cpus: {}",
        if own_redis {
            "own throw-away server, no persistence".to_owned()
        } else if admin.is_cluster() {
            format!("given cluster of {} masters", admin.count())
        } else {
            "given server".to_owned()
        },
        redis_version,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let worker_bin = crate::binary_path("baton-worker");
    println!("worker binary: {}", worker_bin.display());
    if !worker_bin.components().any(|c| c.as_os_str() == "release") {
        println!("warning: the worker binary is not a release build; the numbers will be low");
    }
}

/// The queue right after the enqueue phase.
#[derive(Debug)]
pub struct QueueAfterEnqueue {
    /// The queue's `enqueued` counter.
    pub enqueued: u64,
    /// Jobs waiting.
    pub waiting: u64,
    /// Jobs pending.
    pub pending: u64,
    /// Each master's `INFO memory`.
    pub memory: Vec<HashMap<String, String>>,
}

/// The enqueue phase's lines: its rate and Redis's CPU, then the queue's state.
pub fn print_enqueue(
    options: &DefaultOptions,
    enqueue: &EnqueueResult,
    cpu_secs: f64,
    queue: &QueueAfterEnqueue,
) {
    println!(
        "[enqueue] {} runs in {:.3} s = {:.0} jobs/s ({} enqueuers, batches of {}); \
         redis CPU {:.0}% of a core",
        enqueue.created,
        enqueue.elapsed.as_secs_f64(),
        per_second(enqueue.created, enqueue.elapsed),
        options.enqueuers,
        options.batch,
        100.0 * cpu_secs / enqueue.elapsed.as_secs_f64().max(1e-9)
    );
    println!(
        "[enqueue] queue counter enqueued={}, depth waiting={} pending={}, \
         redis used_memory={}",
        queue.enqueued,
        queue.waiting,
        queue.pending,
        used_memory_human(&queue.memory)
    );
}

/// The drain phase's lines: its rate, then the workers' memory and CPU and Redis's CPU.
pub fn print_e2e(options: &DefaultOptions, e2e: &E2eResult, goal: u64, cpu_secs: f64) {
    println!(
        "[e2e] {}/{goal} jobs succeeded in {:.3} s = {:.0} jobs/s ({} x baton-worker, concurrency \
         {} each){}",
        e2e.succeeded,
        e2e.elapsed.as_secs_f64(),
        per_second(e2e.succeeded, e2e.elapsed),
        options.workers,
        options.concurrency,
        if e2e.complete {
            String::new()
        } else {
            format!(" -- GAVE UP after {} s", options.drain_timeout.as_secs())
        }
    );
    println!(
        "[e2e] worker memory: max VmRSS sampled {:.1} MB, max VmHWM {:.1} MB; worker CPU {} s; \
         redis CPU {:.0}% of a core",
        e2e.max_rss_kb as f64 / 1024.0,
        e2e.max_hwm_kb as f64 / 1024.0,
        e2e.worker_cpu_secs
            .iter()
            .map(|secs| format!("{secs:.1}"))
            .collect::<Vec<_>>()
            .join(" + "),
        100.0 * cpu_secs / e2e.elapsed.as_secs_f64().max(1e-9)
    );
}

/// Redis's commands per job, split between the enqueue and the execution, the most called
/// commands one per line, and Redis's CPU per job (`cpu_secs` over both phases).
pub fn print_redis(
    all_stats: &CommandStats,
    enqueue_stats: &CommandStats,
    e2e: &E2eResult,
    goal: u64,
    cpu_secs: f64,
) {
    println!(
        "[redis] {} commands = {:.2} per job (enqueue {:.2} + execution {:.2}), commands inside \
         Lua scripts included; redis CPU {:.1} us per job",
        all_stats.total_calls(),
        commands_per_job(all_stats, goal),
        enqueue_stats.total_calls() as f64 / goal.max(1) as f64,
        all_stats
            .total_calls()
            .saturating_sub(enqueue_stats.total_calls()) as f64
            / goal.max(1) as f64,
        1e6 * cpu_secs / goal.max(1) as f64
    );
    if !e2e.complete {
        println!(
            "[redis]   note: the drain did not complete, so the execution share covers only \
             {} of the {goal} jobs",
            e2e.succeeded
        );
    }
    println!(
        "[redis]   per job: {:<14} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "command", "calls", "enqueue", "execute", "us", "us/call"
    );
    let jobs = goal.max(1) as f64;
    for (name, calls, usec) in all_stats.commands.iter().take(TOP_COMMANDS) {
        let enqueue_calls = enqueue_stats.calls(name);
        println!(
            "[redis]            {name:<14} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            *calls as f64 / jobs,
            enqueue_calls as f64 / jobs,
            calls.saturating_sub(enqueue_calls) as f64 / jobs,
            *usec as f64 / jobs,
            *usec as f64 / (*calls).max(1) as f64
        );
    }
    println!(
        "[redis]   (evalsha's time includes the commands its scripts call; enqueue evalsha = \
         {:.2} us/call, execute evalsha = {:.2} us/call)",
        enqueue_stats.usec_per_call("evalsha"),
        all_stats.usec_per_call_since("evalsha", enqueue_stats)
    );
}

/// Redis commands per job: every command of both phases over the `goal` jobs.
pub fn commands_per_job(all_stats: &CommandStats, goal: u64) -> f64 {
    all_stats.total_calls() as f64 / goal.max(1) as f64
}

/// The latency phase's line: runs, rate and enqueue-to-start percentiles.
pub fn print_latency(options: &DefaultOptions, latency: &LatencyResult) {
    println!(
        "[latency] {} runs at {}/s over {:.3} s ({} failed to enqueue), {} started; \
         enqueue-to-start p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        latency.created,
        options.rate,
        latency.enqueue_elapsed.as_secs_f64(),
        latency.failed,
        latency.samples_us.len(),
        percentile_ms(&latency.samples_us, 50.0),
        percentile_ms(&latency.samples_us, 90.0),
        percentile_ms(&latency.samples_us, 99.0),
        percentile_ms(&latency.samples_us, 100.0),
    );
}

/// The last line: the results as one JSON object.
pub fn print_summary(
    options: &DefaultOptions,
    enqueue: &EnqueueResult,
    e2e: &E2eResult,
    latency: &LatencyResult,
    commands_per_job: f64,
) {
    let rss_mb = e2e.max_rss_kb.max(e2e.max_hwm_kb) as f64 / 1024.0;
    println!(
        "{{\"enqueue_per_s\":{},\"e2e_per_s\":{},\"lat_p50_ms\":{},\"lat_p99_ms\":{},\
         \"redis_cmds_per_job\":{},\"worker_rss_mb\":{},\"jobs\":{},\"workers\":{},\
         \"concurrency\":{}}}",
        number(per_second(enqueue.created, enqueue.elapsed), 0),
        number(per_second(e2e.succeeded, e2e.elapsed), 0),
        number(percentile_ms(&latency.samples_us, 50.0), 3),
        number(percentile_ms(&latency.samples_us, 99.0), 3),
        number(commands_per_job, 2),
        number(rss_mb, 1),
        options.jobs,
        options.workers,
        options.concurrency
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&samples, 50.0), 50.0);
        assert_eq!(percentile_ms(&samples, 99.0), 99.0);
        assert_eq!(percentile_ms(&samples, 100.0), 100.0);
        assert_eq!(percentile_ms(&[1500], 50.0), 1.5);
        assert!(percentile_ms(&[], 50.0).is_nan());
    }

    #[test]
    fn numbers_are_json() {
        assert_eq!(number(1234.56, 0), "1235");
        assert_eq!(number(0.12345, 3), "0.123");
        assert_eq!(number(f64::NAN, 3), "null");
    }
}
