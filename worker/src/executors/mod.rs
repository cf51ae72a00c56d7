//! Built-in task executors: running a program ([`command`]) and POSTing the task input to an
//! HTTP endpoint ([`http`]).
//!
//! Each executor takes its spec and the task's [`TaskContext`](crate::context::TaskContext),
//! streams log lines through the context, stops when its cancellation token fires, and returns
//! the task's result as optional JSON.

pub mod command;
pub mod http;
pub mod release;
pub mod report;
