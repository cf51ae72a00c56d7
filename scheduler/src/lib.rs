//! Baton's scheduler: under a leader lease (standbys take over when it lapses), it fires
//! periodic definitions exactly once per slot, promotes due delayed jobs, reclaims jobs whose
//! worker died, and trims streams and expired runs.
//!
//! # Layout
//! - [`config`]: flags and environment.
//! - [`leader`]: the lease loop that decides whether this scheduler acts.
//! - [`chores`]: one tick of work, each chore a testable step, reading "now" from a clock
//!   the chores are given (tests step it).
//! - [`operator`]: operator commands (dead letters).
//! - [`releases`]: release polling: task service health, tasks in flight, phases.
//! - [`studies`]: studies mirrored from the data service.
//! - [`rounds`]: chores that call other services, run in the background one round at a time.
//! - [`cadence`]: when something done every so often is due again.
//! - [`claims`]: human tasks whose holder went quiet past the claim timeout return to the pool.

pub mod cadence;
pub mod chores;
pub mod claims;
pub mod config;
pub mod leader;
pub mod operator;
pub mod releases;
pub mod rounds;
pub mod studies;

pub use config::SchedulerOptions;
pub use leader::run;
