//! Timing histograms by queue: how long attempts run (start to finish) and how long jobs wait
//! before they start. Workers add what they observe in batches; the API reads them back to
//! render `/metrics`, since the workers that observe and the process that is scraped differ.
//!
//! Each queue keeps one hash ([`Keys::queue_timings`](crate::keys::Keys::queue_timings)) with,
//! for each histogram, a cumulative counter per bucket bound (`duration:le:0.5`), the sum of
//! the observations in seconds (`duration:sum`) and their count (`duration:count`). A batch is
//! added to a queue by one script, so a reader never sees a bucket without its count. An
//! observation is recorded at most once: a batch that fails is dropped, not repeated, as
//! metrics must never hold up the jobs they describe.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::engine::model::QueueName;
use crate::scripts;
use crate::store::engine::jobs::stats::OutcomeCounts;
use crate::store::{Store, StoreResult};

/// Upper bounds of the histograms' buckets, in seconds (`+Inf` is implied): from 5 ms, for
/// quick handlers, to 5 minutes.
pub const TIMING_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// The timings of one attempt that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTiming {
    /// The queue its job was read from.
    pub queue: QueueName,
    /// From the moment its job reached the stream (added, or moved there once due) to the
    /// attempt's start.
    pub start_latency: Duration,
    /// From the attempt's start to its end.
    pub duration: Duration,
}

impl JobTiming {
    /// The timings of an attempt of the job at stream entry `entry_id` (whose first part is the
    /// Unix ms at which Redis added it), started at `started_ms` (Unix ms) and run for
    /// `duration`. A start that seems earlier than the entry (clocks apart) counts as no wait.
    pub fn new(queue: QueueName, entry_id: &str, started_ms: u64, duration: Duration) -> Self {
        let queued_ms = stream_entry_ms(entry_id).unwrap_or(started_ms);
        Self {
            queue,
            start_latency: Duration::from_millis(started_ms.saturating_sub(queued_ms)),
            duration,
        }
    }
}

/// The Unix ms at which Redis added a stream entry, read from its id (`MS-SEQ`).
pub fn stream_entry_ms(entry_id: &str) -> Option<u64> {
    entry_id
        .split_once('-')
        .map_or(entry_id, |(ms, _)| ms)
        .parse()
        .ok()
}

/// One histogram as stored: cumulative counts by bucket bound, sum and count.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimingHistogram {
    /// Each bound of [`TIMING_BUCKETS`] with how many observations were at most that many
    /// seconds (cumulative, so never decreasing).
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observations, in seconds.
    pub sum: f64,
    /// How many observations there were (the `+Inf` bucket).
    pub count: u64,
}

/// The timing histograms of one queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueTimings {
    /// The queue.
    pub queue: QueueName,
    /// Attempts' durations, start to finish.
    pub duration: TimingHistogram,
    /// Jobs' waits from reaching their stream to their attempt's start.
    pub start_latency: TimingHistogram,
}

/// The field-name prefixes of the two histograms in a queue's timings hash.
const DURATION: &str = "duration";
const START_LATENCY: &str = "latency";

/// The increments a batch makes to one queue's hash: integer ones by field, and sums.
#[derive(Debug, Default)]
struct Increments {
    counts: BTreeMap<String, u64>,
    sums: BTreeMap<String, f64>,
}

impl Increments {
    fn observe(&mut self, histogram: &str, value: Duration) {
        let seconds = value.as_secs_f64();
        for bound in TIMING_BUCKETS.iter().filter(|bound| seconds <= **bound) {
            *self
                .counts
                .entry(format!("{histogram}:le:{bound}"))
                .or_default() += 1;
        }
        *self.counts.entry(format!("{histogram}:count")).or_default() += 1;
        *self.sums.entry(format!("{histogram}:sum")).or_default() += seconds;
    }

    /// The script's arguments: field, increment, ...
    fn args(&self) -> Vec<String> {
        let counts = self
            .counts
            .iter()
            .map(|(field, count)| (field.clone(), count.to_string()));
        let sums = self
            .sums
            .iter()
            .map(|(field, sum)| (field.clone(), sum.to_string()));
        counts
            .chain(sums)
            .flat_map(|(field, increment)| [field, increment])
            .collect()
    }
}

fn histogram(fields: &HashMap<String, String>, name: &str) -> TimingHistogram {
    let number = |field: String| {
        fields
            .get(&field)
            .and_then(|value| value.parse::<u64>().ok())
    };
    let mut cumulative = 0;
    let buckets = TIMING_BUCKETS
        .iter()
        .map(|bound| {
            // Never decreasing, whatever was stored.
            cumulative = number(format!("{name}:le:{bound}"))
                .unwrap_or(0)
                .max(cumulative);
            (*bound, cumulative)
        })
        .collect();
    TimingHistogram {
        buckets,
        sum: fields
            .get(&format!("{name}:sum"))
            .and_then(|value| value.parse::<f64>().ok())
            .filter(|sum| sum.is_finite() && *sum >= 0.0)
            .unwrap_or(0.0),
        count: number(format!("{name}:count")).unwrap_or(0).max(cumulative),
    }
}

impl Store {
    /// Adds the outcomes a batch's finish counted to their queues' series and the timings of
    /// its ended attempts to their queues' histograms, in one round trip.
    pub async fn record_job_metrics(
        &self,
        outcomes: OutcomeCounts,
        timings: &[JobTiming],
    ) -> StoreResult<()> {
        let mut by_queue: BTreeMap<&QueueName, Increments> = BTreeMap::new();
        for timing in timings {
            let increments = by_queue.entry(&timing.queue).or_default();
            increments.observe(DURATION, timing.duration);
            increments.observe(START_LATENCY, timing.start_latency);
        }
        let mut pipe = redis::pipe();
        outcomes.flush_into(&mut pipe, &self.keys);
        for (queue, increments) in by_queue {
            let mut invocation = scripts::RECORD_TIMINGS.key(self.keys.queue_timings(queue));
            for arg in increments.args() {
                invocation.arg(arg);
            }
            pipe.invoke_script(&invocation).ignore();
        }
        if pipe.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        self.query_pipeline::<()>(&mut conn, &pipe).await
    }

    /// The timing histograms of every queue used in this deployment (empty ones for queues
    /// that have seen no attempt end).
    pub async fn job_timings(&self) -> StoreResult<Vec<QueueTimings>> {
        let queues = self.queue_names().await?;
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for queue in &queues {
            pipe.cmd("HGETALL").arg(self.keys.queue_timings(queue));
        }
        let mut conn = self.conn().await?;
        let hashes: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await?;
        Ok(queues
            .into_iter()
            .zip(hashes)
            .map(|(queue, fields)| QueueTimings {
                queue,
                duration: histogram(&fields, DURATION),
                start_latency: histogram(&fields, START_LATENCY),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_give_the_time_they_were_added() {
        assert_eq!(stream_entry_ms("1700000000123-7"), Some(1_700_000_000_123));
        assert_eq!(stream_entry_ms("1700000000123"), Some(1_700_000_000_123));
        assert_eq!(stream_entry_ms("not-an-id"), None);
        let queue = QueueName::parse("default").unwrap();
        let timing = JobTiming::new(queue.clone(), "1000-0", 3_500, Duration::from_millis(20));
        assert_eq!(timing.start_latency, Duration::from_millis(2_500));
        // A worker whose clock is behind Redis' records no wait rather than a negative one.
        let early = JobTiming::new(queue, "5000-0", 4_000, Duration::ZERO);
        assert_eq!(early.start_latency, Duration::ZERO);
    }

    #[test]
    fn observations_count_in_every_bucket_at_or_above_them() {
        let mut increments = Increments::default();
        increments.observe(DURATION, Duration::from_millis(5));
        increments.observe(DURATION, Duration::from_millis(700));
        increments.observe(DURATION, Duration::from_secs(1_000));
        let fields: HashMap<String, String> = increments
            .args()
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect();
        let read = histogram(&fields, DURATION);
        assert_eq!(read.count, 3);
        assert!((read.sum - 1_000.705).abs() < 1e-9, "{}", read.sum);
        let at = |bound: f64| {
            read.buckets
                .iter()
                .find(|(le, _)| *le == bound)
                .map(|(_, count)| *count)
        };
        assert_eq!(at(0.005), Some(1), "an observation on a bound counts in it");
        assert_eq!(at(0.5), Some(1));
        assert_eq!(at(1.0), Some(2));
        assert_eq!(at(300.0), Some(2), "past the last bound: only in +Inf");
        assert_eq!(read.buckets.len(), TIMING_BUCKETS.len());
        assert_eq!(
            fields.get("duration:le:0.005").map(String::as_str),
            Some("1")
        );
        assert_eq!(fields.get("duration:le:300").map(String::as_str), Some("2"));
    }

    #[test]
    fn missing_or_damaged_fields_read_as_an_empty_consistent_histogram() {
        let mut fields = HashMap::new();
        fields.insert("latency:le:0.01".to_owned(), "4".to_owned());
        fields.insert("latency:le:0.025".to_owned(), "garbage".to_owned());
        fields.insert("latency:sum".to_owned(), "-3".to_owned());
        let read = histogram(&fields, START_LATENCY);
        assert!(read.buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1));
        assert_eq!(read.count, 4);
        assert_eq!(read.sum, 0.0);
        assert_eq!(histogram(&HashMap::new(), DURATION).count, 0);
    }
}
