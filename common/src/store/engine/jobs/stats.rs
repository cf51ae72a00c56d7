//! Outcomes of a batch counted per queue, for the queues' outcome series.

use std::collections::HashMap;

use crate::engine::model::QueueName;
use crate::keys::Keys;
use crate::store::engine::series::{Outcome, push_outcomes};

/// Outcomes of a batch of finished jobs counted per queue, at the time they were recorded:
/// what the queues' outcome series are to add (see [`crate::store::Store::record_job_metrics`]).
#[derive(Debug, Default)]
pub struct OutcomeCounts {
    counts: HashMap<(QueueName, Outcome), i64>,
    at_ms: u64,
}

impl OutcomeCounts {
    /// No outcomes counted, at `at_ms` (Unix ms).
    pub(super) fn at(at_ms: u64) -> Self {
        Self {
            counts: HashMap::new(),
            at_ms,
        }
    }

    pub(super) fn add(&mut self, queue: &QueueName, outcome: Outcome) {
        *self.counts.entry((queue.clone(), outcome)).or_default() += 1;
    }

    /// Adds the series writes to `pipe`.
    pub(crate) fn flush_into(self, pipe: &mut redis::Pipeline, keys: &Keys) {
        for ((queue, outcome), count) in self.counts {
            push_outcomes(pipe, keys, &queue, outcome, count, self.at_ms);
        }
    }
}
