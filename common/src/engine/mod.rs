//! The engine every front stands on: runs, tasks and jobs with their statuses, queue names,
//! periodic schedules, retry backoff and task failures.

pub mod backoff;
pub mod executor;
pub mod failure;
pub mod model;
pub mod schedule;
