//! The two text formats `/metrics` speaks, chosen by the request's `Accept`: OpenMetrics
//! 1.0.0, which the encoder writes and Prometheus asks for first, and Prometheus' text format
//! 0.0.4 for every other client.
//!
//! Each answer is labelled with the format it is in: parsers of the 0.0.4 format expect a
//! counter's samples to bear its family's name, so an OpenMetrics family (`# TYPE x counter`
//! over samples `x_total`) read as 0.0.4 comes out as an empty counter beside an untyped
//! `x_total`. The 0.0.4 answer therefore names each counter family after its samples.

use std::fmt::Write;

/// A text exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0.0.
    OpenMetrics,
    /// Prometheus' text format 0.0.4.
    Text,
}

impl Format {
    /// The format to answer a request whose `Accept` header is `accept`: OpenMetrics when the
    /// client lists it (version 1.0.0 or none) at least as high as the text format, the text
    /// format otherwise (and when the header is absent).
    pub fn negotiate(accept: Option<&str>) -> Self {
        let mut openmetrics = 0.0_f64;
        let mut text = 0.0_f64;
        for entry in accept.unwrap_or_default().split(',') {
            let mut parts = entry.split(';').map(str::trim);
            let media_type = parts.next().unwrap_or_default().to_ascii_lowercase();
            let mut quality = 1.0_f64;
            let mut version = None;
            for parameter in parts {
                let Some((name, value)) = parameter.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match name.trim().to_ascii_lowercase().as_str() {
                    "q" => quality = value.parse().unwrap_or(0.0_f64).clamp(0.0, 1.0),
                    "version" => version = Some(value.to_owned()),
                    _ => {}
                }
            }
            match (media_type.as_str(), version.as_deref()) {
                ("application/openmetrics-text", None | Some("1.0.0")) => {
                    openmetrics = openmetrics.max(quality);
                }
                ("text/plain", None | Some("0.0.4")) | ("text/*" | "*/*", _) => {
                    text = text.max(quality);
                }
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics >= text {
            Self::OpenMetrics
        } else {
            Self::Text
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Self::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// The exposition `openmetrics` (as the encoder wrote it) in this format.
    pub fn render(self, openmetrics: String) -> String {
        match self {
            Self::OpenMetrics => openmetrics,
            Self::Text => to_text_format(&openmetrics),
        }
    }
}

/// The family a sample line belongs to, as the last `# TYPE` line declared it.
struct Family<'a> {
    name: &'a str,
    counter: bool,
}

/// Rewrites an OpenMetrics exposition in the 0.0.4 text format: a counter family is named
/// after its `_total` samples, and an `info` one after its `_info` samples (as a gauge);
/// `unknown` becomes `untyped`; `# UNIT` and `# EOF` lines, counters' `_created` samples,
/// timestamps and exemplars are left out.
fn to_text_format(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut help: Option<&str> = None;
    let mut family = Family {
        name: "",
        counter: false,
    };
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            // The encoder writes each family's HELP just before its TYPE.
            help = Some(rest.split_once(' ').map_or("", |(_, text)| text));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.rsplit_once(' ').unwrap_or((rest, "unknown"));
            let (exposed, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "gauge" | "histogram" | "summary" => (name.to_owned(), kind),
                "info" => (format!("{name}_info"), "gauge"),
                _ => (name.to_owned(), "untyped"),
            };
            if let Some(text) = help.take() {
                let _ = writeln!(out, "# HELP {exposed} {text}");
            }
            let _ = writeln!(out, "# TYPE {exposed} {kind}");
            family = Family {
                name,
                counter: kind == "counter",
            };
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, rest) = split_series(line);
        let sample_name = series.split('{').next().unwrap_or_default();
        if family.counter
            && sample_name
                .strip_prefix(family.name)
                .is_some_and(|suffix| suffix == "_created")
        {
            continue;
        }
        let value = rest.split_whitespace().next().unwrap_or_default();
        let _ = writeln!(out, "{series} {value}");
    }
    out
}

/// Splits a sample line after its name and labels (quoted label values may hold any
/// character, escaped quotes included).
fn split_series(line: &str) -> (&str, &str) {
    let Some(open) = line.find(['{', ' ']) else {
        return (line, "");
    };
    if line.as_bytes()[open] == b' ' {
        return line.split_at(open);
    }
    let (mut quoted, mut escaped) = (false, false);
    for (index, character) in line[open..].char_indices() {
        match character {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return line.split_at(open + index + 1),
            _ => {}
        }
    }
    (line, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_gets_openmetrics_and_other_clients_the_text_format() {
        let prometheus = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
                          application/openmetrics-text;version=0.0.1;q=0.5,\
                          text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
                          text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text")),
            Format::OpenMetrics
        );
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0.2, text/plain")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=2.0.0")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
        assert_eq!(Format::negotiate(Some(";;,=,q=x")), Format::Text);
    }

    #[test]
    fn the_text_format_names_counters_after_their_samples() {
        let openmetrics = "# HELP baton_http_requests HTTP requests.\n\
                           # TYPE baton_http_requests counter\n\
                           baton_http_requests_total{route=\"/a {b}\",method=\"GET\"} 3\n\
                           baton_http_requests_created{route=\"/a\"} 1.5\n\
                           # HELP baton_workers Workers.\n\
                           # TYPE baton_workers gauge\n\
                           baton_workers 2\n\
                           # HELP baton_task_duration_seconds Durations.\n\
                           # TYPE baton_task_duration_seconds histogram\n\
                           # UNIT baton_task_duration_seconds seconds\n\
                           baton_task_duration_seconds_sum{queue=\"q\"} 0.5\n\
                           baton_task_duration_seconds_count{queue=\"q\"} 1\n\
                           baton_task_duration_seconds_bucket{le=\"+Inf\",queue=\"q\"} 1 # {id=\"x\"} 0.5\n\
                           # TYPE odd unknown\n\
                           odd{label=\"a \\\" } b\"} 7 123\n\
                           # EOF\n";
        assert_eq!(
            Format::Text.render(openmetrics.to_owned()),
            "# HELP baton_http_requests_total HTTP requests.\n\
             # TYPE baton_http_requests_total counter\n\
             baton_http_requests_total{route=\"/a {b}\",method=\"GET\"} 3\n\
             # HELP baton_workers Workers.\n\
             # TYPE baton_workers gauge\n\
             baton_workers 2\n\
             # HELP baton_task_duration_seconds Durations.\n\
             # TYPE baton_task_duration_seconds histogram\n\
             baton_task_duration_seconds_sum{queue=\"q\"} 0.5\n\
             baton_task_duration_seconds_count{queue=\"q\"} 1\n\
             baton_task_duration_seconds_bucket{le=\"+Inf\",queue=\"q\"} 1\n\
             # TYPE odd untyped\n\
             odd{label=\"a \\\" } b\"} 7\n"
        );
        assert_eq!(
            Format::OpenMetrics.render(openmetrics.to_owned()),
            openmetrics
        );
    }
}
