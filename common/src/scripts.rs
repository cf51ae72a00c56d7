//! The Lua scripts behind every multi-key transition, one `.lua` file each under `lua/`.
//!
//! Each script opens with a comment that lists its KEYS and ARGV. Every key a script touches
//! is passed in KEYS, built in `keys.rs`, and shares one hash tag, so scripts run unchanged on
//! Redis Cluster. The shard scripts (batches of runs and jobs of one shard) open with
//! `shard_prelude.lua`, which reads the shard's index and queue keys they all take first; the
//! two that start jobs then share `start_job.lua`. Those and the others that read run hashes
//! open with the values a run hash leaves out (`DEFAULT_QUEUE`).

use std::sync::LazyLock;

use redis::Script;

use crate::engine::model::QueueName;

/// The opening every shard script shares: the layout of its keys and arguments, and helpers.
const SHARD_PRELUDE: &str = include_str!("lua/shard_prelude.lua");

/// The opening of every script that reads run hashes: the values a run hash leaves out
/// ([`QueueName::default`], the queue of a run stored without one), from the same Rust
/// constants its readers here use.
static RUN_DEFAULTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "-- The queue of a run stored without one.\nlocal DEFAULT_QUEUE = '{}'",
        QueueName::default().as_str()
    )
});

macro_rules! scripts {
    ($($(#[$meta:meta])* $name:ident => $(shard $shard_file:literal $(+ $more_file:literal)*)? $(runs $runs_file:literal)? $($file:literal)?),+ $(,)?) => {
        $(
            $(#[$meta])*
            pub static $name: LazyLock<Script> = LazyLock::new(|| {
                $(let text = [RUN_DEFAULTS.as_str(), SHARD_PRELUDE, include_str!(concat!("lua/", $shard_file)) $(, include_str!(concat!("lua/", $more_file)))*].join("\n");)?
                $(let text = [RUN_DEFAULTS.as_str(), include_str!(concat!("lua/", $runs_file))].join("\n");)?
                $(let text = include_str!(concat!("lua/", $file)).to_owned();)?
                Script::new(&text)
            });
        )+

        /// Every script, for loading them all when a store connects.
        pub fn all() -> Vec<&'static Script> {
            vec![$(&*$name),+]
        }
    };
}

scripts! {
    /// Creates runs of one shard with their indexes and first jobs, unless they exist.
    CREATE_RUNS => shard "create_runs.lua",
    /// Starts the attempts a batch of jobs of one shard asks for, or settles them.
    START_JOBS => shard "start_job.lua" + "start_jobs.lua",
    /// Reads the new jobs of a queue's stream on one shard for a woken worker and starts
    /// the ones it was woken for, unless the queue is paused.
    TAKE_JOBS => shard "start_job.lua" + "take_jobs.lua",
    /// Records a batch of outcomes of one shard and settles their jobs.
    FINISH_JOBS => shard "finish_jobs.lua",
    /// Fails a task whose job was lost too many times.
    FAIL_TASK => runs "fail_task.lua",
    /// Cancels a run and its unfinished tasks.
    CANCEL_RUN => "cancel_run.lua",
    /// Gives a failed task a new attempt and reopens its run.
    REQUEUE_TASK => runs "requeue_task.lua",
    /// Moves due delayed jobs onto their streams.
    PROMOTE_DELAYED => "promote_delayed.lua",
    /// Acknowledges a pending job and re-adds it to a stream (retry or dead letter).
    MOVE_ENTRY => "move_entry.lua",
    /// Takes or renews a lease.
    RENEW_LEASE => "renew_lease.lua",
    /// Gives up a lease.
    RELEASE_LEASE => "release_lease.lua",
    /// Records a task's log line or progress.
    REPORT => "report.lua",
    /// Records a periodic definition's last fired slot.
    ADVANCE_SLOT => "advance_slot.lua",
    /// Saves or submits a person's work on a human task they claimed.
    HUMAN_STEP => "human_step.lua",
    /// Moves a human queue's group past head entries whose tasks wait for nobody.
    PASS_CLAIMED_ENTRIES => "pass_claimed_entries.lua",
    /// A release task's or release's guarded transition, the release recomputed, with events.
    RELEASE_STEP => "release_step.lua",
    /// Sets fields of a releases-front record, moving it between its per-field indexes.
    UPDATE_RECORD => "update_record.lua",
    /// Deletes a releases-front record and its index entries.
    DELETE_RECORD => "delete_record.lua",
    /// Registers a task service, or registers again the one at the same URL (new token).
    REGISTER_SERVICE => "register_service.lua",
    /// Counts a login attempt for its user and its address.
    LOGIN_ATTEMPT => "login_attempt.lua",
    /// Adds a batch of observations to a queue's timing histograms.
    RECORD_TIMINGS => "record_timings.lua",
    /// Deletes a finished run and its index entries.
    DELETE_FINISHED_RUN => "delete_finished_run.lua",
    /// Publishes a set of definitions if the published version is still the one compared.
    PUBLISH_DEFINITIONS => "publish_definitions.lua",
    /// Sets a project's status (paused, active, aborted); an aborted project stays so.
    PROJECT_STATUS => "project_status.lua",
    /// Gives a claimed human task back to the pool, or to another person.
    HUMAN_HOLDER => "human_holder.lua",
    /// Reads tasks of project runs of one shard, each without its run's other tasks.
    PROJECT_TASKS => "project_tasks.lua",
}
