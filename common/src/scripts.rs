//! The Lua scripts behind every multi-key transition, one `.lua` file each under `lua/`.
//!
//! Each script opens with a comment that lists its KEYS and ARGV. Every key a script touches
//! shares one hash tag, so scripts run unchanged on Redis Cluster.

use std::sync::LazyLock;

use redis::Script;

macro_rules! scripts {
    ($($(#[$meta:meta])* $name:ident => $file:literal),+ $(,)?) => {
        $(
            $(#[$meta])*
            pub static $name: LazyLock<Script> =
                LazyLock::new(|| Script::new(include_str!(concat!("lua/", $file))));
        )+

        /// Every script, for loading them all when a store connects.
        pub fn all() -> Vec<&'static Script> {
            vec![$(&*$name),+]
        }
    };
}

scripts! {
    /// Creates a run and its tasks unless it exists.
    CREATE_RUN => "create_run.lua",
    /// Starts an attempt of a task, or says why not.
    START_TASK => "start_task.lua",
    /// Records an attempt's outcome and queues ready successors.
    FINISH_TASK => "finish_task.lua",
    /// Fails a task whose job was lost too many times.
    FAIL_TASK => "fail_task.lua",
    /// Cancels a run and its unfinished tasks.
    CANCEL_RUN => "cancel_run.lua",
    /// Gives a failed task a new attempt and reopens its run.
    REQUEUE_TASK => "requeue_task.lua",
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
    /// A release task's or release's guarded transition, the release recomputed, with events.
    RELEASE_STEP => "release_step.lua",
    /// Sets fields of a releases-front record, moving it between its per-field indexes.
    UPDATE_RECORD => "update_record.lua",
    /// Deletes a releases-front record and its index entries.
    DELETE_RECORD => "delete_record.lua",
    /// Counts a login attempt for its user and its address.
    LOGIN_ATTEMPT => "login_attempt.lua",
    /// Adds a batch of observations to a queue's timing histograms.
    RECORD_TIMINGS => "record_timings.lua",
}
