//! The engine's Redis access: runs, jobs and queues, and what keeps them moving and visible.
//!
//! - [`runs`]: creating, reading, canceling and requeueing runs; task logs.
//! - [`front_runs`]: the runs one front sees (those of its kind); every front's run lookup.
//! - [`jobs`]: the queue protocol: reading jobs, starting and finishing attempts.
//! - [`dead_letters`]: jobs that failed for good, to inspect, delete or requeue.
//! - [`maintenance`]: the scheduler's chores: delayed jobs, reclaiming, trimming.
//! - [`retention`]: each workflow's newest runs kept, the older finished ones deleted.
//! - [`workers`]: the worker registry (heartbeats).
//! - [`lease`]: the scheduler's leader lease.
//! - [`queues`]: pausing and resuming queues; each queue's counters and summary (sums over
//!   shards).
//! - [`series`]: each queue's recent outcomes by second and by minute.
//! - [`run_index`]: indexes of runs by kind, definition and status; filtered run lists.
//! - [`run_summaries`]: runs as lists show them, without their tasks.
//! - [`run_progress`]: runs' steps and how many succeeded, from their counters.
//! - `run_facts`: what never changes of a run, kept in memory by a process that lists runs.
//! - [`timings`]: task duration and start latency histograms by queue, for `/metrics`.

pub mod dead_letters;
pub mod front_runs;
pub mod jobs;
pub mod lease;
pub mod maintenance;
pub mod queues;
pub mod retention;
pub(crate) mod run_facts;
pub mod run_index;
pub mod run_progress;
pub mod run_summaries;
pub mod runs;
pub mod series;
pub(crate) mod shard_call;
pub mod timings;
pub mod workers;
