//! Prometheus metrics: requests by route and status, counted in this process, and the
//! queues' job counters, depths, timing histograms and the worker count, read from Redis at
//! each scrape (workers observe the timings; this process only renders them).
//!
//! - [`mod@format`]: OpenMetrics or the 0.0.4 text format, as the scraper asks.
//! - [`token`]: the bearer token a scraper may present instead of a signature.
//!
//! Request labels come from closed sets, so no client can grow the output: the route is a
//! pattern named in the code (`unmatched` for requests no route takes), the method one of
//! HTTP's own or `OTHER`.

pub mod format;
pub mod token;

use std::sync::{Arc, Mutex};

use common::store::Store;
use common::store::engine::timings::{QueueTimings, TimingHistogram};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use warp::http::Method;

pub use format::Format;
pub use token::{MetricsToken, MetricsTokenError};

/// The label of a method: its name when it is one of HTTP's, `OTHER` for any other.
pub fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("OTHER", |known| match *known {
            Method::GET => "GET",
            Method::HEAD => "HEAD",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::DELETE => "DELETE",
            Method::PATCH => "PATCH",
            Method::OPTIONS => "OPTIONS",
            Method::TRACE => "TRACE",
            _ => "CONNECT",
        })
}

/// Labels of the request counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route pattern (e.g. `/api/workflows/{id}`), never the raw path.
    pub route: String,
    /// The HTTP method, or `OTHER`.
    pub method: String,
    /// The response status code.
    pub status: u16,
}

/// Job counters of each queue, as last read from Redis.
#[derive(Debug, Default)]
struct QueueSnapshot {
    /// (queue, counter name, value)
    counters: Vec<(String, &'static str, u64)>,
    /// (queue, waiting, pending)
    depths: Vec<(String, u64, u64)>,
    /// The timing histograms of each queue.
    timings: Vec<QueueTimings>,
    workers: u64,
}

/// Emits the queue snapshot on each scrape.
#[derive(Debug, Clone, Default)]
struct QueueCollector(Arc<Mutex<QueueSnapshot>>);

/// The job counters every queue keeps, as they are named in Redis.
const JOB_COUNTERS: [&str; 6] = [
    "enqueued",
    "started",
    "succeeded",
    "failed",
    "retried",
    "dead",
];

impl Collector for QueueCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for name in JOB_COUNTERS {
            let metric = format!("baton_jobs_{name}");
            let help = format!("Jobs {name}, by queue.");
            let mut family = encoder.encode_descriptor(
                &metric,
                &help,
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for (queue, counter, value) in snapshot
                .counters
                .iter()
                .filter(|(_, counter, _)| *counter == name)
            {
                let _ = counter;
                ConstCounter::new(*value)
                    .encode(family.encode_family(&[("queue", queue.as_str())])?)?;
            }
        }
        let mut waiting = encoder.encode_descriptor(
            "baton_queue_waiting",
            "Jobs waiting on a queue (not yet delivered, or delayed).",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (queue, depth, _) in &snapshot.depths {
            ConstGauge::new(*depth as i64)
                .encode(waiting.encode_family(&[("queue", queue.as_str())])?)?;
        }
        let mut pending = encoder.encode_descriptor(
            "baton_queue_pending",
            "Jobs delivered to a worker and not yet acknowledged.",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (queue, _, count) in &snapshot.depths {
            ConstGauge::new(*count as i64)
                .encode(pending.encode_family(&[("queue", queue.as_str())])?)?;
        }
        let workers = encoder.encode_descriptor(
            "baton_workers",
            "Workers in the registry.",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        ConstGauge::new(snapshot.workers as i64).encode(workers)?;
        type Pick = fn(&QueueTimings) -> &TimingHistogram;
        let histograms: [(&str, &str, Pick); 2] = [
            (
                "baton_task_duration",
                "Attempts' durations from start to finish, by queue.",
                |timings| &timings.duration,
            ),
            (
                "baton_task_start_latency",
                "Waits from a job reaching its queue (or becoming due) to its attempt's start, \
                 by queue.",
                |timings| &timings.start_latency,
            ),
        ];
        for (name, help, pick) in histograms {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            for timings in &snapshot.timings {
                encode_histogram(
                    family.encode_family(&[("queue", timings.queue.as_str())])?,
                    pick(timings),
                )?;
            }
        }
        Ok(())
    }
}

/// Encodes a histogram stored with cumulative buckets (the encoder takes each bucket's own
/// count, and the `+Inf` bucket as the bound `f64::MAX`).
fn encode_histogram(
    mut encoder: MetricEncoder,
    histogram: &TimingHistogram,
) -> Result<(), std::fmt::Error> {
    let mut below = 0;
    let mut buckets: Vec<(f64, u64)> = histogram
        .buckets
        .iter()
        .map(|(bound, cumulative)| {
            let own = cumulative.saturating_sub(below);
            below = below.max(*cumulative);
            (*bound, own)
        })
        .collect();
    buckets.push((f64::MAX, histogram.count.saturating_sub(below)));
    encoder.encode_histogram::<NoLabelSet>(histogram.sum, histogram.count, &buckets, None)
}

/// The API's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    queues: QueueCollector,
    token: Option<MetricsToken>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics, scraped with a signature only.
    pub fn new() -> Self {
        Self::with_token(None)
    }

    /// Empty metrics, which a scraper may also read with `token` as a bearer token.
    pub fn with_token(token: Option<MetricsToken>) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "baton_http_requests",
            "HTTP requests by route, method and status.",
            requests.clone(),
        );
        let queues = QueueCollector::default();
        registry.register_collector(Box::new(queues.clone()));
        Self {
            registry,
            requests,
            queues,
            token,
        }
    }

    /// True when `presented` is the configured scrape token (never when none is configured).
    pub fn accepts_token(&self, presented: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|token| token.matches(presented))
    }

    /// Counts one answered request: `route` is a pattern and `method` a
    /// [`method_label`], both from closed sets.
    pub fn record_request(&self, route: &'static str, method: &'static str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
    }

    /// Reads the queues from Redis and renders everything in `format`.
    pub async fn render(
        &self,
        store: &Store,
        format: Format,
    ) -> Result<String, common::error::StoreError> {
        let mut snapshot = QueueSnapshot::default();
        for queue in store.queue_names().await? {
            let stats = store.queue_stats(&queue).await?;
            for name in JOB_COUNTERS {
                snapshot.counters.push((
                    queue.to_string(),
                    name,
                    stats.get(name).copied().unwrap_or(0),
                ));
            }
            let (waiting, pending) = store.queue_depth(&queue).await?;
            snapshot.depths.push((queue.to_string(), waiting, pending));
        }
        snapshot.timings = store.job_timings().await?;
        snapshot.workers = store.live_workers(common::time::now_ms()).await?.len() as u64;
        *self
            .queues
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = snapshot;
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).map_err(|error| {
            common::error::StoreError::Corrupt(format!("cannot encode metrics: {error}"))
        })?;
        Ok(format.render(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::CONNECT), "CONNECT");
        assert_eq!(
            method_label(&Method::from_bytes(b"PURGE").unwrap()),
            "OTHER"
        );
        assert_eq!(
            method_label(&Method::from_bytes(&[b'X'; 5000]).unwrap()),
            "OTHER"
        );
    }
}
