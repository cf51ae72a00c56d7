//! A small time series of each queue's outcomes (jobs succeeded and failed), bucketed by second
//! and by minute, written where the outcomes are counted and expiring on its own.
//!
//! Seconds are kept in one hash per minute (fields `s<second>` and `f<second>`), minutes in one
//! hash per hour (fields `s<minute>` and `f<minute>`), so reading the last five minutes by
//! second and the last hour by minute takes eight `HGETALL`s per queue, sent in one pipeline.

use std::collections::HashMap;

use redis::{FromRedisValue, Value as RedisValue};

use crate::engine::model::QueueName;
use crate::keys::Keys;
use crate::store::{Store, StoreResult};

const SECOND_MS: u64 = 1_000;
const MINUTE_MS: u64 = 60 * SECOND_MS;
const HOUR_MS: u64 = 60 * MINUTE_MS;

/// Points of the per-second series: the last five minutes.
pub const PER_SECOND_POINTS: usize = 300;
/// Points of the per-minute series: the last hour.
pub const PER_MINUTE_POINTS: usize = 60;

/// How long a bucket hash outlives the end of its period: the span its points are read over,
/// plus a margin for clocks that differ between machines.
const SECONDS_KEPT_AFTER_MS: u64 = PER_SECOND_POINTS as u64 * SECOND_MS + MINUTE_MS;
const MINUTES_KEPT_AFTER_MS: u64 = PER_MINUTE_POINTS as u64 * MINUTE_MS + 10 * MINUTE_MS;

/// One interval's outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeriesPoint {
    /// Start of the interval (Unix ms).
    pub at_ms: u64,
    /// Jobs that succeeded in it.
    pub succeeded: u64,
    /// Jobs that failed for good in it.
    pub failed: u64,
}

/// Recent outcomes of a queue (or of every queue, summed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueSeries {
    /// The last [`PER_SECOND_POINTS`] seconds, oldest first, ending with the current second.
    pub per_second: Vec<SeriesPoint>,
    /// The last [`PER_MINUTE_POINTS`] minutes, oldest first, ending with the current minute.
    pub per_minute: Vec<SeriesPoint>,
}

/// Which outcome a series field counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Outcome {
    /// A job succeeded.
    Succeeded,
    /// A job failed for good.
    Failed,
}

impl Outcome {
    fn field(self, slot: u64) -> String {
        match self {
            Self::Succeeded => format!("s{slot}"),
            Self::Failed => format!("f{slot}"),
        }
    }
}

/// Adds `count` outcomes of `queue` at `now_ms` to its series, in a pipeline: one increment
/// and one expiry on the second's bucket and on the minute's.
pub(crate) fn push_outcomes(
    pipe: &mut redis::Pipeline,
    keys: &Keys,
    queue: &QueueName,
    outcome: Outcome,
    count: i64,
    now_ms: u64,
) {
    let minute = now_ms - now_ms % MINUTE_MS;
    let hour = now_ms - now_ms % HOUR_MS;
    let seconds_key = keys.queue_series_seconds(queue, minute);
    let minutes_key = keys.queue_series_minutes(queue, hour);
    pipe.cmd("HINCRBY")
        .arg(&seconds_key)
        .arg(outcome.field((now_ms - minute) / SECOND_MS))
        .arg(count)
        .ignore()
        .cmd("PEXPIREAT")
        .arg(&seconds_key)
        .arg(minute + MINUTE_MS + SECONDS_KEPT_AFTER_MS)
        .ignore()
        .cmd("HINCRBY")
        .arg(&minutes_key)
        .arg(outcome.field((now_ms - hour) / MINUTE_MS))
        .arg(count)
        .ignore()
        .cmd("PEXPIREAT")
        .arg(&minutes_key)
        .arg(hour + HOUR_MS + MINUTES_KEPT_AFTER_MS)
        .ignore();
}

/// The buckets one series is read from: each hash key with the start of its period.
struct Window {
    /// Start of the first point (Unix ms).
    first_ms: u64,
    /// Length of a point (ms).
    step_ms: u64,
    /// Number of points.
    points: usize,
    /// Length of a bucket hash's period (ms).
    bucket_ms: u64,
}

impl Window {
    fn per_second(now_ms: u64) -> Self {
        let current = now_ms - now_ms % SECOND_MS;
        Self {
            first_ms: current.saturating_sub((PER_SECOND_POINTS as u64 - 1) * SECOND_MS),
            step_ms: SECOND_MS,
            points: PER_SECOND_POINTS,
            bucket_ms: MINUTE_MS,
        }
    }

    fn per_minute(now_ms: u64) -> Self {
        let current = now_ms - now_ms % MINUTE_MS;
        Self {
            first_ms: current.saturating_sub((PER_MINUTE_POINTS as u64 - 1) * MINUTE_MS),
            step_ms: MINUTE_MS,
            points: PER_MINUTE_POINTS,
            bucket_ms: HOUR_MS,
        }
    }

    /// Starts of the bucket hashes that hold the window's points, oldest first.
    fn buckets(&self) -> Vec<u64> {
        let last = self.first_ms + (self.points as u64 - 1) * self.step_ms;
        let mut bucket = self.first_ms - self.first_ms % self.bucket_ms;
        let mut buckets = Vec::new();
        while bucket <= last {
            buckets.push(bucket);
            bucket += self.bucket_ms;
        }
        buckets
    }

    /// Empty points covering the window.
    fn empty(&self) -> Vec<SeriesPoint> {
        (0..self.points)
            .map(|index| SeriesPoint {
                at_ms: self.first_ms + index as u64 * self.step_ms,
                ..SeriesPoint::default()
            })
            .collect()
    }

    /// Adds one bucket hash's fields to the points they fall on.
    fn add(&self, points: &mut [SeriesPoint], bucket_ms: u64, fields: &HashMap<String, u64>) {
        for (name, count) in fields {
            let (outcome, slot) = match name.split_at_checked(1) {
                Some(("s", slot)) => (Outcome::Succeeded, slot),
                Some(("f", slot)) => (Outcome::Failed, slot),
                _ => continue,
            };
            let Ok(slot) = slot.parse::<u64>() else {
                continue;
            };
            let at = bucket_ms + slot * self.step_ms;
            if at < self.first_ms {
                continue;
            }
            let Some(point) = points.get_mut(((at - self.first_ms) / self.step_ms) as usize) else {
                continue;
            };
            match outcome {
                Outcome::Succeeded => point.succeeded += count,
                Outcome::Failed => point.failed += count,
            }
        }
    }
}

impl Store {
    /// The outcomes of `queue` over the last five minutes by second and the last hour by
    /// minute, as of `now_ms`, zeros where nothing happened.
    pub async fn queue_series(&self, queue: &QueueName, now_ms: u64) -> StoreResult<QueueSeries> {
        self.series_of(std::slice::from_ref(queue), now_ms).await
    }

    /// The outcomes of every queue, summed, as [`Store::queue_series`] gives them for one.
    pub async fn all_queues_series(&self, now_ms: u64) -> StoreResult<QueueSeries> {
        let queues = self.queue_names().await?;
        self.series_of(&queues, now_ms).await
    }

    /// The summed series of `queues`, read in one pipeline.
    async fn series_of(&self, queues: &[QueueName], now_ms: u64) -> StoreResult<QueueSeries> {
        let seconds = Window::per_second(now_ms);
        let minutes = Window::per_minute(now_ms);
        let second_buckets = seconds.buckets();
        let minute_buckets = minutes.buckets();
        let mut pipe = redis::pipe();
        for queue in queues {
            for bucket in &second_buckets {
                pipe.cmd("HGETALL")
                    .arg(self.keys.queue_series_seconds(queue, *bucket));
            }
            for bucket in &minute_buckets {
                pipe.cmd("HGETALL")
                    .arg(self.keys.queue_series_minutes(queue, *bucket));
            }
        }
        let mut conn = self.conn().await?;
        let replies: Vec<RedisValue> = self.query_pipeline(&mut conn, &pipe).await?;
        let mut series = QueueSeries {
            per_second: seconds.empty(),
            per_minute: minutes.empty(),
        };
        let per_queue = second_buckets.len() + minute_buckets.len();
        for replies in replies.chunks(per_queue) {
            for (index, reply) in replies.iter().enumerate() {
                let fields = HashMap::<String, u64>::from_redis_value_ref(reply)
                    .map_err(redis::RedisError::from)?;
                match index.checked_sub(second_buckets.len()) {
                    None => seconds.add(&mut series.per_second, second_buckets[index], &fields),
                    Some(minute) => {
                        minutes.add(&mut series.per_minute, minute_buckets[minute], &fields)
                    }
                }
            }
        }
        Ok(series)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_end_at_the_current_interval_and_cover_their_points_with_few_buckets() {
        let now = 1_700_000_123_456;
        let seconds = Window::per_second(now);
        let points = seconds.empty();
        assert_eq!(points.len(), PER_SECOND_POINTS);
        assert_eq!(points.last().map(|p| p.at_ms), Some(1_700_000_123_000));
        assert_eq!(points[0].at_ms, 1_700_000_123_000 - 299_000);
        let buckets = seconds.buckets();
        assert!((5..=6).contains(&buckets.len()), "{buckets:?}");
        assert!(buckets[0] <= points[0].at_ms);

        let minutes = Window::per_minute(now);
        let points = minutes.empty();
        assert_eq!(points.len(), PER_MINUTE_POINTS);
        assert_eq!(points.last().map(|p| p.at_ms), Some(now - now % MINUTE_MS));
        assert!((1..=2).contains(&minutes.buckets().len()));
    }

    #[test]
    fn bucket_fields_land_on_their_points_and_outside_ones_are_ignored() {
        let now = 10 * HOUR_MS + 30 * MINUTE_MS + 15 * SECOND_MS;
        let seconds = Window::per_second(now);
        let mut points = seconds.empty();
        let minute = now - now % MINUTE_MS;
        let fields = HashMap::from([
            ("s15".to_owned(), 3),
            ("f15".to_owned(), 1),
            ("s14".to_owned(), 2),
            ("s59".to_owned(), 9), // in the future of this window: ignored
            ("x1".to_owned(), 5),  // not a series field: ignored
        ]);
        seconds.add(&mut points, minute, &fields);
        let last = points[PER_SECOND_POINTS - 1];
        assert_eq!((last.at_ms, last.succeeded, last.failed), (now, 3, 1));
        assert_eq!(points[PER_SECOND_POINTS - 2].succeeded, 2);
        let total: u64 = points.iter().map(|p| p.succeeded + p.failed).sum();
        assert_eq!(total, 6);
        // A bucket that starts before the window only adds its seconds inside it.
        let old = minute - 5 * MINUTE_MS;
        seconds.add(
            &mut points,
            old,
            &HashMap::from([("s0".to_owned(), 7), ("s16".to_owned(), 4)]),
        );
        assert_eq!(points[0].at_ms, old + 16 * SECOND_MS);
        assert_eq!(points[0].succeeded, 4);
    }
}
