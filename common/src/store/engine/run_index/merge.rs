//! The k-way merge of the shards' newest-first lists of runs into one newest-first list.

use std::collections::{BinaryHeap, VecDeque};

/// A run id with its index score (creation time, Unix ms). Ordered by time, then by id, so the
/// greatest is the first a newest-first listing shows: a sorted set read in reverse lists
/// equal scores by id, the largest first, and the merge keeps that order across shards.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Ranked {
    /// Creation time (Unix ms).
    pub(super) created_ms: u64,
    /// The run id.
    pub(super) id: String,
}

impl Ranked {
    /// An entry as a sorted set answers it `WITHSCORES`.
    pub(super) fn from_scored((id, score): (String, f64)) -> Self {
        Self {
            // Scores are whole milliseconds; a negative one (never written) counts as 0.
            created_ms: score as u64,
            id,
        }
    }
}

/// Merges lanes (one per shard), each newest first, into one newest-first order. A lane may
/// arrive in pieces: until it is known to be complete, the merge stops when it runs dry (its
/// next entries may be newer than every other lane's), and goes on once it is given more.
#[derive(Debug)]
pub(super) struct NewestFirst {
    lanes: Vec<Lane>,
    /// The head of every lane that has one, newest on top.
    heads: BinaryHeap<(Ranked, usize)>,
    /// Lanes without a head that may still have entries.
    starved: usize,
}

#[derive(Debug, Default)]
struct Lane {
    /// Entries after the lane's head, newest first.
    queued: VecDeque<Ranked>,
    /// True when the lane has a head in the heap.
    has_head: bool,
    /// True when no entry follows those given.
    complete: bool,
}

impl Lane {
    fn is_starved(&self) -> bool {
        !self.has_head && !self.complete
    }
}

impl NewestFirst {
    /// A merge of `lanes` lanes, each still to be given its entries.
    pub(super) fn new(lanes: usize) -> Self {
        Self {
            lanes: (0..lanes).map(|_| Lane::default()).collect(),
            heads: BinaryHeap::with_capacity(lanes),
            starved: lanes,
        }
    }

    /// Gives lane `lane` its next entries (newest first, each older than those it was given
    /// before); `complete` when none follow them.
    pub(super) fn extend(
        &mut self,
        lane: usize,
        entries: impl IntoIterator<Item = Ranked>,
        complete: bool,
    ) {
        let state = &mut self.lanes[lane];
        let was_starved = state.is_starved();
        state.queued.extend(entries);
        state.complete |= complete;
        if !state.has_head
            && let Some(head) = state.queued.pop_front()
        {
            state.has_head = true;
            self.heads.push((head, lane));
        }
        match (was_starved, state.is_starved()) {
            (true, false) => self.starved -= 1,
            (false, true) => self.starved += 1,
            _ => {}
        }
    }

    /// The lanes that ran dry before their end: they must be given more before the merge
    /// goes on.
    pub(super) fn starved(&self) -> Vec<usize> {
        if self.starved == 0 {
            return Vec::new();
        }
        self.lanes
            .iter()
            .enumerate()
            .filter(|(_, lane)| lane.is_starved())
            .map(|(index, _)| index)
            .collect()
    }

    /// The newest entry left, or `None` when every lane is done or one is starved.
    pub(super) fn pop(&mut self) -> Option<Ranked> {
        if self.starved > 0 {
            return None;
        }
        let (newest, lane) = self.heads.pop()?;
        let state = &mut self.lanes[lane];
        match state.queued.pop_front() {
            Some(next) => self.heads.push((next, lane)),
            None => {
                state.has_head = false;
                if !state.complete {
                    self.starved += 1;
                }
            }
        }
        Some(newest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(created_ms: u64, id: &str) -> Ranked {
        Ranked {
            created_ms,
            id: id.to_owned(),
        }
    }

    fn drain(merge: &mut NewestFirst) -> Vec<String> {
        std::iter::from_fn(|| merge.pop()).map(|r| r.id).collect()
    }

    #[test]
    fn complete_lanes_merge_newest_first_with_ties_by_id() {
        let mut merge = NewestFirst::new(3);
        merge.extend(0, [ranked(9, "a"), ranked(5, "d"), ranked(1, "x")], true);
        merge.extend(1, [ranked(9, "c"), ranked(5, "b")], true);
        merge.extend(2, [], true);
        assert_eq!(drain(&mut merge), ["c", "a", "d", "b", "x"]);
        assert!(merge.starved().is_empty());
    }

    #[test]
    fn a_lane_that_runs_dry_stops_the_merge_until_it_is_given_more() {
        let mut merge = NewestFirst::new(2);
        assert_eq!(merge.starved(), [0, 1]);
        assert_eq!(merge.pop(), None, "no lane given yet");
        merge.extend(0, [ranked(10, "a"), ranked(8, "b")], false);
        merge.extend(1, [ranked(9, "c"), ranked(1, "z")], true);
        assert_eq!(drain(&mut merge), ["a", "c", "b"]);
        assert_eq!(merge.starved(), [0], "lane 0 may hold runs newer than z");
        merge.extend(0, [ranked(7, "e")], false);
        assert_eq!(drain(&mut merge), ["e"]);
        merge.extend(0, [], true);
        assert_eq!(drain(&mut merge), ["z"]);
        assert!(merge.starved().is_empty());
        assert_eq!(merge.pop(), None);
    }

    #[test]
    fn the_merge_equals_sorting_the_union() {
        // Lanes of pseudo-random entries, given in pieces of various sizes.
        let mut all = Vec::new();
        let mut lanes: Vec<Vec<Ranked>> = vec![Vec::new(); 5];
        let mut seed = 7u64;
        for index in 0..500 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let entry = ranked((seed >> 33) % 40, &format!("run-{index:03}"));
            lanes[(seed >> 20) as usize % 5].push(entry.clone());
            all.push(entry);
        }
        all.sort_by(|a, b| b.cmp(a));
        for lane in &mut lanes {
            lane.sort_by(|a, b| b.cmp(a));
        }
        let mut merge = NewestFirst::new(lanes.len());
        let mut given = vec![0; lanes.len()];
        let mut merged = Vec::new();
        loop {
            for lane in merge.starved() {
                let piece = 1 + lane * 3;
                let end = (given[lane] + piece).min(lanes[lane].len());
                let entries = lanes[lane][given[lane]..end].to_vec();
                given[lane] = end;
                merge.extend(lane, entries, end == lanes[lane].len());
            }
            match merge.pop() {
                Some(entry) => merged.push(entry),
                None if merge.starved().is_empty() => break,
                None => {}
            }
        }
        assert_eq!(merged, all);
    }
}
