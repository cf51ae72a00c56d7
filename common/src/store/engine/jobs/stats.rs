//! Outcomes of a batch counted per queue, for the queues' outcome series.

use std::collections::HashMap;

use crate::engine::model::QueueName;
use crate::keys::Keys;
use crate::store::engine::series::{Outcome, push_outcomes};

/// Outcomes of a batch counted per queue, for the queues' outcome series.
#[derive(Debug, Default)]
pub(super) struct OutcomeCounts(HashMap<(QueueName, Outcome), i64>);

impl OutcomeCounts {
    pub(super) fn add(&mut self, queue: &QueueName, outcome: Outcome) {
        *self.0.entry((queue.clone(), outcome)).or_default() += 1;
    }

    pub(super) fn flush_into(self, pipe: &mut redis::Pipeline, keys: &Keys, now: u64) {
        for ((queue, outcome), count) in self.0 {
            push_outcomes(pipe, keys, &queue, outcome, count, now);
        }
    }
}
