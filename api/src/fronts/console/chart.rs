//! Bar charts of jobs succeeded and failed per interval, drawn as SVG (no script, no inline
//! style: colours come from the stylesheet's classes, so both themes apply).

use askama::Template;

/// One bar: jobs succeeded and failed in one interval starting at `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bucket {
    /// Start of the interval (Unix ms).
    pub at_ms: u64,
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// Jobs that failed.
    pub failed: u64,
}

/// A bar's geometry.
#[derive(Debug, Clone, PartialEq)]
struct Bar {
    x: f64,
    width: f64,
    succeeded_y: f64,
    succeeded_height: f64,
    failed_y: f64,
    failed_height: f64,
    label: String,
}

/// The chart, ready to render.
#[derive(Template)]
#[template(path = "console/chart.svg", escape = "html")]
struct Chart<'a> {
    title: &'a str,
    width: f64,
    height: f64,
    plot_top: f64,
    plot_bottom: f64,
    max: u64,
    total_succeeded: u64,
    total_failed: u64,
    bars: Vec<Bar>,
    start_label: &'a str,
    end_label: &'a str,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 150.0;
const TOP: f64 = 18.0;
const BOTTOM: f64 = 128.0;
const LEFT: f64 = 36.0;

/// Draws `buckets` (oldest first) as stacked bars, titled `title`, its time axis labelled
/// `start_label` to `end_label`.
pub fn bar_chart(title: &str, buckets: &[Bucket], start_label: &str, end_label: &str) -> String {
    let max = buckets
        .iter()
        .map(|bucket| bucket.succeeded + bucket.failed)
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_height = BOTTOM - TOP;
    let slot = (WIDTH - LEFT) / buckets.len().max(1) as f64;
    let width = (slot * 0.8).max(0.5);
    let bars = buckets
        .iter()
        .enumerate()
        .map(|(index, bucket)| {
            let scale = |count: u64| count as f64 / max as f64 * plot_height;
            let succeeded_height = scale(bucket.succeeded);
            let failed_height = scale(bucket.failed);
            Bar {
                x: LEFT + index as f64 * slot,
                width,
                succeeded_y: BOTTOM - succeeded_height,
                succeeded_height,
                failed_y: BOTTOM - succeeded_height - failed_height,
                failed_height,
                label: format!(
                    "{}: {} succeeded, {} failed",
                    crate::fronts::console::html::clock(bucket.at_ms),
                    bucket.succeeded,
                    bucket.failed
                ),
            }
        })
        .collect();
    let chart = Chart {
        title,
        width: WIDTH,
        height: HEIGHT,
        plot_top: TOP,
        plot_bottom: BOTTOM,
        max,
        total_succeeded: buckets.iter().map(|bucket| bucket.succeeded).sum(),
        total_failed: buckets.iter().map(|bucket| bucket.failed).sum(),
        bars,
        start_label,
        end_label,
    };
    chart.render().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_interval_and_say_what_they_show() {
        let buckets = [
            Bucket {
                at_ms: 0,
                succeeded: 4,
                failed: 0,
            },
            Bucket {
                at_ms: 1000,
                succeeded: 1,
                failed: 1,
            },
        ];
        let svg = bar_chart("Jobs <per> second", &buckets, "5 min ago", "now");
        assert!(svg.starts_with("<svg"));
        assert!(
            svg.contains("Jobs &#60;per&#62; second") || svg.contains("Jobs &lt;per&gt; second")
        );
        assert!(svg.contains("5 succeeded, 1 failed"));
        assert!(svg.contains("class=\"bar-failed\""));
        assert!(!svg.contains("style="));
    }
}
