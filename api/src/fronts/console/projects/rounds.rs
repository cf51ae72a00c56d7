//! The rounds of a human task's review as people read them: the claimant's submissions and
//! the reviewer's decisions (the snapshots of their assignments, with Orchestra's types), in
//! the order they happened, and the reviewer's latest decision to send it back.

use common::store::projects::HumanRecord;
use serde_json::Value;

use super::{data_rows, snapshot_time};
use crate::fronts::projects::view::{SNAPSHOT_ACCEPT, SNAPSHOT_REJECT, SNAPSHOT_SUBMIT};

/// One round: a submission, or a reviewer's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    /// What it was, in words: `submitted`, `accepted` or `rejected`.
    pub kind: &'static str,
    /// Who did it (a key id).
    pub by: String,
    /// When (UTC, `YYYY-MM-DD HH:MM:SS`).
    pub at: String,
    /// The data, field by field.
    pub rows: Vec<(String, String)>,
}

/// The word for a snapshot's type (Orchestra's 0, 1, 2).
pub fn kind_word(kind: u64) -> &'static str {
    match kind {
        k if k == u64::from(SNAPSHOT_SUBMIT) => "submitted",
        k if k == u64::from(SNAPSHOT_ACCEPT) => "accepted",
        k if k == u64::from(SNAPSHOT_REJECT) => "rejected",
        _ => "recorded",
    }
}

fn round(snapshot: &Value, by: &str, order: &[String]) -> Round {
    Round {
        kind: kind_word(snapshot["type"].as_u64().unwrap_or(0)),
        by: by.to_owned(),
        at: snapshot_time(snapshot),
        rows: data_rows(&snapshot["data"], order),
    }
}

/// Every round of the task, oldest first: `claimant`'s submissions and the reviewer's
/// decisions, by time (a submission first when they share a second); their data's fields in
/// the form's `order`.
pub fn rounds(human: &HumanRecord, claimant: &str, order: &[String]) -> Vec<Round> {
    let reviewer = human.reviewer.as_deref().unwrap_or("");
    let mut all: Vec<(String, Round)> = human
        .snapshots
        .iter()
        .map(|snapshot| (snapshot, claimant))
        .chain(human.review_snapshots.iter().map(|s| (s, reviewer)))
        .map(|(snapshot, by)| {
            let at = snapshot["datetime"].as_str().unwrap_or("").to_owned();
            (at, round(snapshot, by, order))
        })
        .collect();
    // Stable: a submission stays before a decision of the same time.
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.into_iter().map(|(_, round)| round).collect()
}

/// The reviewer's latest decision, when it sent the task back (`None` once they accepted it,
/// or before any decision); its data's fields in the form's `order`.
pub fn sent_back(human: &HumanRecord, order: &[String]) -> Option<Round> {
    let last = human.review_snapshots.last()?;
    let reviewer = human.reviewer.as_deref().unwrap_or("the reviewer");
    (last["type"].as_u64() == Some(u64::from(SNAPSHOT_REJECT)))
        .then(|| round(last, reviewer, order))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot(data: Value, at: &str, kind: u8) -> Value {
        json!({"data": data, "datetime": at, "work_time_seconds": 3, "type": kind})
    }

    #[test]
    fn rounds_interleave_submissions_and_decisions_by_time() {
        let human = HumanRecord {
            snapshots: vec![
                snapshot(
                    json!({"text": "v1", "__version": 1}),
                    "2026-01-02T10:00:00.000000",
                    0,
                ),
                snapshot(json!({"text": "v2"}), "2026-01-02T12:00:00.000000", 0),
            ],
            reviewer: Some("bob".into()),
            review_snapshots: vec![
                snapshot(
                    json!({"text": "v1", "comments": "Too short"}),
                    "2026-01-02T11:00:00.000000",
                    2,
                ),
                snapshot(json!({"text": "v2"}), "2026-01-02T12:00:00.000000", 1),
            ],
            ..HumanRecord::default()
        };
        let all = rounds(&human, "alice", &[]);
        let summary: Vec<(&str, &str, &str)> = all
            .iter()
            .map(|round| (round.kind, round.by.as_str(), round.at.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("submitted", "alice", "2026-01-02 10:00:00"),
                ("rejected", "bob", "2026-01-02 11:00:00"),
                ("submitted", "alice", "2026-01-02 12:00:00"),
                ("accepted", "bob", "2026-01-02 12:00:00"),
            ]
        );
        // Orchestra's mark is not shown.
        assert_eq!(all[0].rows, [("text".to_owned(), "v1".to_owned())]);
        assert_eq!(sent_back(&human, &[]), None, "accepted last");
    }

    #[test]
    fn the_latest_decision_sending_it_back_is_found_and_words_name_types() {
        let mut human = HumanRecord {
            reviewer: Some("bob".into()),
            ..HumanRecord::default()
        };
        assert_eq!(sent_back(&human, &[]), None);
        human.review_snapshots.push(snapshot(
            json!({"comments": "Add a title"}),
            "2026-01-02T11:00:00.000000",
            2,
        ));
        let note = sent_back(&human, &[]).unwrap();
        assert_eq!(note.by, "bob");
        assert_eq!(note.kind, "rejected");
        assert_eq!(
            note.rows,
            [("comments".to_owned(), "Add a title".to_owned())]
        );
        assert_eq!(kind_word(0), "submitted");
        assert_eq!(kind_word(1), "accepted");
        assert_eq!(kind_word(2), "rejected");
        assert_eq!(kind_word(7), "recorded");
    }
}
