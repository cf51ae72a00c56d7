//! Creations of a shard taken in turns (group commit): at most one creation call of a shard
//! is on its way from a process at a time, and the creations that reach the shard meanwhile
//! wait and go together in its next call. A creation that finds its shard's line free goes at
//! once, so nothing waits while nothing else is being created; under load the calls grow and
//! the script's fixed cost (its keys, its opening, the writes it makes once per call) is
//! shared by more runs.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::creation::CreationBatch;
use crate::keys::Shard;
use crate::store::StoreResult;

/// Most runs a call carries when it takes the creations of several callers (one caller's
/// runs are never split).
pub(crate) const MAX_GROUPED_RUNS: usize = 1000;

/// What a waiting creation hears: per run, 1 when it was created and 0 when it existed.
pub(crate) type CreationReply = StoreResult<Vec<i64>>;

/// The runs of one caller waiting for their shard's next call, and where their reply goes.
pub(crate) struct WaitingCreation {
    /// The caller's runs of the shard.
    pub(crate) batch: CreationBatch,
    /// Where the call's reply for them goes.
    pub(crate) reply: oneshot::Sender<CreationReply>,
}

/// Whose turn a creation is, as [`CreationLines::join`] answers.
pub(crate) enum Joined {
    /// The line was free: the caller makes the call itself and holds the line until it is
    /// done (it then passes its turn with [`CreationLines::next_waiting`]).
    Call(CreationBatch),
    /// A call of the shard is on its way: the batch waits for the next call, whose reply
    /// comes here.
    Wait(oneshot::Receiver<CreationReply>),
}

/// One shard's line: whether a call is on its way, and the creations waiting for the next.
#[derive(Default)]
struct Line {
    calling: bool,
    waiting: VecDeque<WaitingCreation>,
}

/// The creation lines of every shard of a store, shared by its clones.
#[derive(Clone)]
pub(crate) struct CreationLines {
    lines: Arc<[Mutex<Line>]>,
}

impl CreationLines {
    /// A free line for each of `shards` shards.
    pub(crate) fn new(shards: u16) -> Self {
        Self {
            lines: (0..shards).map(|_| Mutex::default()).collect(),
        }
    }

    /// Takes `batch` into `shard`'s line: the caller's turn when the line is free, else a
    /// place among the creations waiting for the next call.
    pub(crate) fn join(&self, shard: Shard, batch: CreationBatch) -> Joined {
        let mut line = self.line(shard);
        if !line.calling {
            line.calling = true;
            return Joined::Call(batch);
        }
        let (reply, receiver) = oneshot::channel();
        line.waiting.push_back(WaitingCreation { batch, reply });
        Joined::Wait(receiver)
    }

    /// Ends the turn of the call that just finished on `shard`: the creations waiting for
    /// the next call (the oldest first, at most [`MAX_GROUPED_RUNS`] runs unless one caller
    /// brought more), whose call then holds the line; `None`, and the line free, when none
    /// wait.
    pub(crate) fn next_waiting(&self, shard: Shard) -> Option<Vec<WaitingCreation>> {
        let mut line = self.line(shard);
        let mut taken: Vec<WaitingCreation> = Vec::new();
        let mut runs = 0;
        while let Some(next) = line.waiting.front() {
            let more = next.batch.runs.len();
            if !taken.is_empty() && runs + more > MAX_GROUPED_RUNS {
                break;
            }
            runs += more;
            taken.extend(line.waiting.pop_front());
        }
        if taken.is_empty() {
            line.calling = false;
            return None;
        }
        Some(taken)
    }

    /// Frees `shard`'s line and drops whatever waits in it (their callers hear that the
    /// write was interrupted): for when no call can be made any more (the runtime is gone).
    pub(crate) fn abandon(&self, shard: Shard) {
        let mut line = self.line(shard);
        line.calling = false;
        line.waiting.clear();
    }

    fn line(&self, shard: Shard) -> MutexGuard<'_, Line> {
        self.lines[usize::from(shard.index())]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::store::engine::creation::PreparedRun;

    fn batch(runs: usize) -> CreationBatch {
        CreationBatch {
            runs: (0..runs)
                .map(|n| PreparedRun::for_test(&n.to_string()))
                .collect(),
            queues: BTreeSet::new(),
        }
    }

    #[test]
    fn a_free_line_is_the_callers_turn_and_a_busy_one_makes_it_wait() {
        let lines = CreationLines::new(2);
        let (first, second) = (Shard::new(0), Shard::new(1));
        assert!(matches!(lines.join(first, batch(1)), Joined::Call(_)));
        assert!(matches!(lines.join(first, batch(1)), Joined::Wait(_)));
        assert!(
            matches!(lines.join(second, batch(1)), Joined::Call(_)),
            "each shard has its own line"
        );
    }

    #[test]
    fn the_next_call_takes_every_waiting_creation_up_to_the_cap_then_frees_the_line() {
        let lines = CreationLines::new(1);
        let shard = Shard::new(0);
        assert!(matches!(lines.join(shard, batch(1)), Joined::Call(_)));
        let mut receivers = Vec::new();
        for runs in [600, 300, 200, MAX_GROUPED_RUNS + 5] {
            match lines.join(shard, batch(runs)) {
                Joined::Wait(receiver) => receivers.push(receiver),
                Joined::Call(_) => panic!("the line is busy"),
            }
        }
        let sizes = |taken: Vec<WaitingCreation>| -> Vec<usize> {
            taken
                .iter()
                .map(|waiting| waiting.batch.runs.len())
                .collect()
        };
        assert_eq!(sizes(lines.next_waiting(shard).unwrap()), vec![600, 300]);
        assert_eq!(sizes(lines.next_waiting(shard).unwrap()), vec![200]);
        assert_eq!(
            sizes(lines.next_waiting(shard).unwrap()),
            vec![MAX_GROUPED_RUNS + 5],
            "one caller's runs are never split"
        );
        assert!(lines.next_waiting(shard).is_none());
        assert!(
            matches!(lines.join(shard, batch(1)), Joined::Call(_)),
            "the line is free again"
        );
    }

    #[test]
    fn an_abandoned_line_tells_its_waiting_callers_and_is_free() {
        let lines = CreationLines::new(1);
        let shard = Shard::new(0);
        assert!(matches!(lines.join(shard, batch(1)), Joined::Call(_)));
        let Joined::Wait(mut receiver) = lines.join(shard, batch(1)) else {
            panic!("the line is busy")
        };
        lines.abandon(shard);
        assert!(receiver.try_recv().is_err());
        assert!(matches!(lines.join(shard, batch(1)), Joined::Call(_)));
    }
}
