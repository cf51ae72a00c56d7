//! A workflow's `periodic` block: exactly one of `interval`, `crontab` or Director's legacy
//! `schedule` (converted to the Unix field order), checked as the scheduler will read it, and
//! the payload of the runs it fires.

use serde_json::{Value, json};
use serde_yaml::Value as Yaml;

use super::yaml::{check_keys, describe, to_json};
use crate::engine::schedule::CronSchedule;
use crate::workflows::definition::PeriodicSpec;

/// Reads `periodic`: the block as JSON, and the schedule with its payload.
pub(super) fn read_periodic(value: &Yaml) -> Result<(Value, PeriodicSpec), String> {
    let Yaml::Mapping(block) = value else {
        return Err(format!(
            "'periodic' must be a mapping with 'interval' or 'crontab', not {}",
            describe(value)
        ));
    };
    check_keys(
        block,
        &["interval", "crontab", "schedule", "payload"],
        "'periodic'",
    )?;
    let json = to_json(value)?;
    let payload = json.get("payload").cloned().unwrap_or_else(|| json!({}));
    let spec = match (
        json.get("interval"),
        json.get("crontab"),
        json.get("schedule"),
    ) {
        (Some(interval), None, None) => PeriodicSpec {
            interval: Some(read_interval(interval)?),
            crontab: None,
            payload,
        },
        (None, Some(crontab), None) => {
            let crontab = crontab
                .as_str()
                .ok_or_else(|| format!("'crontab' must be a string, not {crontab}"))?;
            CronSchedule::parse(crontab).map_err(|error| error.to_string())?;
            PeriodicSpec {
                interval: None,
                crontab: Some(crontab.trim().to_owned()),
                payload,
            }
        }
        (None, None, Some(schedule)) => {
            let schedule = schedule
                .as_str()
                .ok_or_else(|| format!("'schedule' must be a string, not {schedule}"))?;
            CronSchedule::parse_legacy(schedule).map_err(|error| error.to_string())?;
            PeriodicSpec {
                interval: None,
                crontab: Some(legacy_to_unix(schedule)?),
                payload,
            }
        }
        _ => {
            return Err(
                "'periodic' needs exactly one of 'interval', 'crontab' and 'schedule'".into(),
            );
        }
    };
    // The scheduler reads it the same way.
    spec.schedule().map_err(|error| error.to_string())?;
    Ok((json, spec))
}

/// A positive whole number of seconds (a number, or a string of digits).
fn read_interval(interval: &Value) -> Result<u64, String> {
    interval
        .as_u64()
        .or_else(|| {
            interval
                .as_f64()
                .filter(|seconds| seconds.fract() == 0.0 && *seconds >= 1.0 && *seconds < 1e18)
                .map(|seconds| seconds as u64)
        })
        .or_else(|| interval.as_str().and_then(|text| text.trim().parse().ok()))
        .filter(|seconds| *seconds > 0)
        .ok_or_else(|| {
            format!("'interval' must be a positive whole number of seconds, not {interval}")
        })
}

/// Director's legacy `schedule` orders the fields `m h dow dom mon`; Unix cron orders them
/// `m h dom mon dow`.
fn legacy_to_unix(expression: &str) -> Result<String, String> {
    match expression.split_whitespace().collect::<Vec<_>>().as_slice() {
        [minute, hour, dow, dom, month] => Ok(format!("{minute} {hour} {dom} {month} {dow}")),
        fields => Err(format!(
            "'schedule' needs 5 fields (minute hour day-of-week day-of-month month), got {}",
            fields.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflows::tests::{load, workflow};

    #[test]
    fn periodic_interval_crontab_and_legacy_schedule() {
        let workflows = load(
            "p.A:\n  tasks: [X]\n  periodic: {crontab: \"0 9 * * 1-5\"}\n\
             p.B:\n  tasks: [X]\n  periodic: {schedule: \"30 2 1 * *\", payload: {n: 1}}\n\
             p.C:\n  tasks: [X]\n  periodic: {schedule: \"0 0 * 1-7 6\"}\n\
             p.D:\n  tasks: [X]\n  periodic: {interval: \"90\"}\n",
        )
        .unwrap();
        let periodic = |name: &str| {
            workflow(&workflows, name)
                .definition
                .periodic
                .clone()
                .unwrap()
        };
        assert_eq!(periodic("p.A").crontab.as_deref(), Some("0 9 * * 1-5"));
        assert_eq!(periodic("p.A").payload, json!({}));
        // Legacy: m h dow dom mon → m h dom mon dow.
        assert_eq!(periodic("p.B").crontab.as_deref(), Some("30 2 * * 1"));
        assert_eq!(periodic("p.B").payload, json!({"n": 1}));
        assert_eq!(periodic("p.C").crontab.as_deref(), Some("0 0 1-7 6 *"));
        assert_eq!(periodic("p.D").interval, Some(90));
        assert_eq!(
            workflow(&workflows, "p.B").periodic_json,
            Some(json!({"schedule": "30 2 1 * *", "payload": {"n": 1}}))
        );
        for name in ["p.A", "p.B", "p.C", "p.D"] {
            assert!(periodic(name).schedule().is_ok(), "{name}");
        }
    }
}
