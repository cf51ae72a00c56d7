//! Periodic schedules: a fixed interval or a cron expression, and the slots they define.
//!
//! A *slot* is one fire time of a schedule, in Unix milliseconds (UTC). The scheduler asks
//! for the slot a given instant falls in ([`Periodic::slot_at`]) and for the next one
//! ([`Periodic::next_after`]); a slot's start identifies the run it creates, so the same
//! slot is never started twice.
//!
//! # Cron expressions
//! [`CronSchedule::parse`] accepts the 5-field Unix form users write (`m h dom mon dow`, as in
//! Celery Director's `periodic > crontab` key) and converts it to the form of the `cron`
//! crate (seconds first, weekdays numbered from 1 = Sunday). 6- and 7-field expressions and
//! the `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly` shorthands are taken as the `cron`
//! crate's own form, unchanged.
//!
//! When both the day of month and the day of week are restricted, a day must match **both**
//! (`0 0 1-7 * MON` is the first Monday of each month). That is what Celery's `crontab` (and
//! so Director) and the `cron` crate do; Vixie cron would instead fire on days matching
//! *either* field.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::error::InvalidInput;

/// How often a workflow is started on its own.
#[derive(Debug, Clone, PartialEq)]
pub enum Periodic {
    /// Every `seconds` seconds, in slots aligned on the Unix epoch.
    Interval {
        /// The length of a slot, in seconds (never 0 when built with
        /// [`Periodic::interval_secs`]).
        seconds: u64,
    },
    /// At the fire times of a cron expression, in UTC.
    Cron(CronSchedule),
}

impl Periodic {
    /// A fixed interval of `seconds`; refuses 0.
    pub fn interval_secs(seconds: u64) -> Result<Self, InvalidInput> {
        if seconds == 0 {
            return Err(InvalidInput::new(
                "invalid periodic interval: it must be at least 1 second, got 0",
            ));
        }
        Ok(Self::Interval { seconds })
    }

    /// The start (Unix ms) of the most recent slot at or before `now_ms`.
    ///
    /// `None` for a zero interval, or for a cron expression that never fired at or before
    /// `now_ms` (or whose last fire time is more than [`CRON_LOOKBACK_DAYS`] days ago).
    pub fn slot_at(&self, now_ms: u64) -> Option<u64> {
        match self {
            Self::Interval { seconds } => {
                let interval_ms = interval_ms(*seconds)?;
                Some(match interval_ms {
                    Some(interval_ms) => now_ms / interval_ms * interval_ms,
                    // Longer than any representable time: the only slot starts at the epoch.
                    None => 0,
                })
            }
            Self::Cron(cron) => cron.last_at_or_before(now_ms),
        }
    }

    /// The start (Unix ms) of the first slot strictly after `after_ms`; `None` if there is
    /// none (zero interval, overflow, or a cron expression with no later fire time).
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        match self {
            Self::Interval { seconds } => {
                let interval_ms = interval_ms(*seconds)??;
                (after_ms / interval_ms)
                    .checked_add(1)?
                    .checked_mul(interval_ms)
            }
            Self::Cron(cron) => cron.first_after(after_ms),
        }
    }
}

/// How far back [`Periodic::slot_at`] looks for the last fire time of a cron expression.
pub const CRON_LOOKBACK_DAYS: u64 = 366;

/// The interval in ms: `None` for a zero interval, `Some(None)` when it overflows `u64`.
fn interval_ms(seconds: u64) -> Option<Option<u64>> {
    if seconds == 0 {
        None
    } else {
        Some(seconds.checked_mul(1000))
    }
}

/// A parsed cron expression, with the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct CronSchedule {
    expression: String,
    // Boxed: a parsed schedule is large, and `Periodic` is passed around by value.
    schedule: Box<cron::Schedule>,
}

impl CronSchedule {
    /// Parses a 5-field Unix cron expression (`m h dom mon dow`, weekdays 0-7 with 0 and 7 =
    /// Sunday, or names like `MON-FRI`), or a 6-/7-field expression or `@daily`-style
    /// shorthand in the `cron` crate's own form.
    pub fn parse(expr: &str) -> Result<Self, InvalidInput> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let converted = match fields.as_slice() {
            [shorthand] if shorthand.starts_with('@') => (*shorthand).to_owned(),
            [minute, hour, dom, month, dow] => unix_to_cron(expr, [minute, hour, dom, month, dow])?,
            [_, _, _, _, _, _] | [_, _, _, _, _, _, _] => fields.join(" "),
            _ => {
                return Err(InvalidInput::new(format!(
                    "invalid cron expression '{expr}': expected 5 fields \
                     (minute hour day-of-month month day-of-week), got {}",
                    fields.len()
                )));
            }
        };
        Self::from_cron_form(expr, &converted)
    }

    /// Parses Director's legacy `schedule` key, whose 5 fields are ordered
    /// `m h dow dom mon` (Celery's `crontab` argument order): reorders them, then parses
    /// like [`CronSchedule::parse`].
    pub fn parse_legacy(expr: &str) -> Result<Self, InvalidInput> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let [minute, hour, dow, dom, month] = fields.as_slice() else {
            return Err(InvalidInput::new(format!(
                "invalid legacy schedule '{expr}': expected 5 fields \
                 (minute hour day-of-week day-of-month month), got {}",
                fields.len()
            )));
        };
        let converted = unix_to_cron(expr, [minute, hour, dom, month, dow])?;
        Self::from_cron_form(expr, &converted)
    }

    /// The expression as the user wrote it.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The expression in the `cron` crate's form (seconds first, 1 = Sunday).
    pub fn cron_form(&self) -> &str {
        self.schedule.source()
    }

    /// The parsed schedule.
    pub fn schedule(&self) -> &cron::Schedule {
        &self.schedule
    }

    fn from_cron_form(expr: &str, converted: &str) -> Result<Self, InvalidInput> {
        let schedule = cron::Schedule::from_str(converted).map_err(|error| {
            InvalidInput::new(format!("invalid cron expression '{expr}': {error}"))
        })?;
        Ok(Self {
            expression: expr.to_owned(),
            schedule: Box::new(schedule),
        })
    }

    /// The latest fire time at or before `now_ms`, within [`CRON_LOOKBACK_DAYS`].
    fn last_at_or_before(&self, now_ms: u64) -> Option<u64> {
        // Fire times fall on whole seconds, and the crate looks strictly before the
        // whole second it is given: start from the second after `now_ms`'s.
        let start_secs = i64::try_from(now_ms / 1000).ok()?.checked_add(1)?;
        let start = DateTime::<Utc>::from_timestamp(start_secs, 0)?;
        let fire = self.schedule.after(&start).next_back()?;
        let fire_ms = u64::try_from(fire.timestamp_millis()).ok()?;
        let lookback_ms = CRON_LOOKBACK_DAYS * 24 * 3600 * 1000;
        (fire_ms <= now_ms && now_ms - fire_ms <= lookback_ms).then_some(fire_ms)
    }

    /// The first fire time strictly after `after_ms`.
    fn first_after(&self, after_ms: u64) -> Option<u64> {
        let after = DateTime::<Utc>::from_timestamp_millis(i64::try_from(after_ms).ok()?)?;
        let fire = self.schedule.after(&after).next()?;
        u64::try_from(fire.timestamp_millis()).ok()
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

/// Converts the 5 Unix fields `m h dom mon dow` to the `cron` crate's 6-field form.
fn unix_to_cron(
    expr: &str,
    [minute, hour, dom, month, dow]: [&str; 5],
) -> Result<String, InvalidInput> {
    let dow = unix_dow_to_cron(expr, dow)?;
    Ok(format!("0 {minute} {hour} {dom} {month} {dow}"))
}

/// Converts a Unix day-of-week field (0-7, 0 and 7 = Sunday) to the `cron` crate's
/// numbering (1-7, 1 = Sunday). Numeric items (points, ranges, steps) are expanded to an
/// explicit list, since a Unix range such as `5-7` (Friday to Sunday) has no contiguous
/// equivalent; named items (`MON-FRI`, `sun`) pass through unchanged.
fn unix_dow_to_cron(expr: &str, field: &str) -> Result<String, InvalidInput> {
    let invalid = |why: String| {
        InvalidInput::new(format!(
            "invalid cron expression '{expr}': day-of-week '{field}': {why}"
        ))
    };
    let mut days = BTreeSet::new();
    let mut named = Vec::new();
    let mut every_day = None;
    for item in field.split(',') {
        if item == "*" || item == "?" {
            every_day = Some(item);
            continue;
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let step = step
                    .parse::<u32>()
                    .ok()
                    .filter(|step| *step >= 1)
                    .ok_or_else(|| invalid(format!("step '{step}' must be a number >= 1")))?;
                (base, Some(step))
            }
            None => (item, None),
        };
        let is_numeric = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        let day = |text: &str| -> Result<u32, InvalidInput> {
            text.parse::<u32>()
                .ok()
                .filter(|day| *day <= 7)
                .ok_or_else(|| invalid(format!("day {text} is out of range 0-7")))
        };
        let (first, last) = if base == "*" {
            (0, 7)
        } else if let Some((from, to)) = base
            .split_once('-')
            .filter(|(from, to)| is_numeric(from) && is_numeric(to))
        {
            let (from, to) = (day(from)?, day(to)?);
            if from > to {
                return Err(invalid(format!("range {from}-{to} is backwards")));
            }
            (from, to)
        } else if is_numeric(base) {
            let from = day(base)?;
            // `N/step` means from N to the end of the week.
            (from, if step.is_some() { 7 } else { from })
        } else if !base.is_empty() && base.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            named.push(item.to_owned());
            continue;
        } else {
            return Err(invalid(format!("cannot read '{item}'")));
        };
        let step = step.unwrap_or(1) as usize;
        days.extend((first..=last).step_by(step).map(|unix| unix % 7 + 1));
    }
    if let Some(every_day) = every_day {
        // Every day, whatever else the list says.
        return Ok(every_day.to_owned());
    }
    let mut items: Vec<String> = days.iter().map(u32::to_string).collect();
    items.extend(named);
    Ok(items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, Timelike, Weekday};
    use proptest::prelude::*;

    /// Unix ms of a UTC date and time.
    fn ms(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> u64 {
        NaiveDate::from_ymd_opt(year, month, day)
            .unwrap()
            .and_hms_opt(hour, minute, second)
            .unwrap()
            .and_utc()
            .timestamp_millis() as u64
    }

    fn utc(ms: u64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms as i64).unwrap()
    }

    fn cron(expr: &str) -> Periodic {
        Periodic::Cron(CronSchedule::parse(expr).unwrap())
    }

    /// Fire times of `periodic` strictly after `from`, `count` of them.
    fn fires(periodic: &Periodic, from: u64, count: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut at = from;
        for _ in 0..count {
            at = periodic.next_after(at).unwrap();
            out.push(utc(at));
        }
        out
    }

    #[test]
    fn five_field_conversion_table() {
        let table = [
            ("*/5 * * * *", "0 */5 * * * *"),
            ("0 9 * * 1-5", "0 0 9 * * 2,3,4,5,6"),
            ("0 0 * * 0", "0 0 0 * * 1"),
            ("0 0 * * 7", "0 0 0 * * 1"),
            ("30 2 1 * *", "0 30 2 1 * *"),
            ("0 0 * * 5-7", "0 0 0 * * 1,6,7"),
            ("0 0 * * 0,3", "0 0 0 * * 1,4"),
            ("0 0 * * */2", "0 0 0 * * 1,3,5,7"),
            ("0 0 * * 1-5/2", "0 0 0 * * 2,4,6"),
            ("0 0 * * 1/3", "0 0 0 * * 1,2,5"),
            ("0 9 * * MON-FRI", "0 0 9 * * MON-FRI"),
            ("0 9 * * sun,3", "0 0 9 * * 4,sun"),
            ("0 0 1-7 * ?", "0 0 0 1-7 * ?"),
            ("0 0 * * 1,*", "0 0 0 * * *"),
        ];
        for (unix, expected) in table {
            let parsed = CronSchedule::parse(unix).unwrap();
            assert_eq!(parsed.cron_form(), expected, "{unix}");
            assert_eq!(parsed.expression(), unix);
            assert_eq!(parsed.to_string(), unix);
        }
    }

    #[test]
    fn six_and_seven_fields_and_shorthands_pass_through() {
        for expr in ["*/10 * * * * *", "0 0 12 * * Mon 2030", "@daily", "@weekly"] {
            assert_eq!(CronSchedule::parse(expr).unwrap().cron_form(), expr);
        }
    }

    #[test]
    fn every_five_minutes() {
        let schedule = cron("*/5 * * * *");
        let start = ms(2024, 3, 4, 10, 2, 30);
        assert_eq!(schedule.slot_at(start), Some(ms(2024, 3, 4, 10, 0, 0)));
        assert_eq!(schedule.next_after(start), Some(ms(2024, 3, 4, 10, 5, 0)));
        let exact = ms(2024, 3, 4, 10, 5, 0);
        assert_eq!(schedule.slot_at(exact), Some(exact));
        assert_eq!(schedule.next_after(exact), Some(ms(2024, 3, 4, 10, 10, 0)));
        assert_eq!(schedule.slot_at(exact + 999), Some(exact));
        assert_eq!(schedule.slot_at(exact - 1), Some(ms(2024, 3, 4, 10, 0, 0)));
    }

    #[test]
    fn weekdays_fire_monday_not_sunday() {
        let schedule = cron("0 9 * * 1-5");
        // 2024-03-03 is a Sunday, 2024-03-04 a Monday.
        assert_eq!(utc(ms(2024, 3, 3, 0, 0, 0)).weekday(), Weekday::Sun);
        let next = schedule.next_after(ms(2024, 3, 2, 12, 0, 0)).unwrap();
        assert_eq!(next, ms(2024, 3, 4, 9, 0, 0));
        assert_eq!(utc(next).weekday(), Weekday::Mon);
        // At Monday 10:00 the slot is Monday 9:00; on Sunday it is still Friday's.
        assert_eq!(
            schedule.slot_at(ms(2024, 3, 4, 10, 0, 0)),
            Some(ms(2024, 3, 4, 9, 0, 0))
        );
        assert_eq!(
            schedule.slot_at(ms(2024, 3, 3, 23, 0, 0)),
            Some(ms(2024, 3, 1, 9, 0, 0))
        );
        let week: Vec<Weekday> = fires(&schedule, ms(2024, 3, 3, 0, 0, 0), 6)
            .iter()
            .map(|fire| {
                assert_eq!((fire.hour(), fire.minute()), (9, 0));
                fire.weekday()
            })
            .collect();
        use Weekday::*;
        assert_eq!(week, [Mon, Tue, Wed, Thu, Fri, Mon]);
        // Names give the same schedule.
        let named = cron("0 9 * * MON-FRI");
        assert_eq!(
            fires(&named, ms(2024, 3, 3, 0, 0, 0), 6),
            fires(&schedule, ms(2024, 3, 3, 0, 0, 0), 6)
        );
    }

    #[test]
    fn zero_and_seven_are_sunday() {
        for expr in ["0 0 * * 0", "0 0 * * 7", "0 0 * * SUN"] {
            let schedule = cron(expr);
            for fire in fires(&schedule, ms(2024, 3, 1, 0, 0, 0), 5) {
                assert_eq!(fire.weekday(), Weekday::Sun, "{expr}");
                assert_eq!((fire.hour(), fire.minute()), (0, 0), "{expr}");
            }
        }
    }

    #[test]
    fn friday_to_sunday_range() {
        let schedule = cron("0 0 * * 5-7");
        let days: Vec<Weekday> = fires(&schedule, ms(2024, 3, 4, 0, 0, 0), 4)
            .iter()
            .map(Datelike::weekday)
            .collect();
        assert_eq!(
            days,
            [Weekday::Fri, Weekday::Sat, Weekday::Sun, Weekday::Fri]
        );
    }

    #[test]
    fn monthly_at_half_past_two() {
        let schedule = cron("30 2 1 * *");
        let fired = fires(&schedule, ms(2024, 1, 15, 0, 0, 0), 3);
        let expected = [
            ms(2024, 2, 1, 2, 30, 0),
            ms(2024, 3, 1, 2, 30, 0),
            ms(2024, 4, 1, 2, 30, 0),
        ];
        assert_eq!(fired, expected.map(utc));
        assert_eq!(
            schedule.slot_at(ms(2024, 3, 20, 0, 0, 0)),
            Some(ms(2024, 3, 1, 2, 30, 0))
        );
    }

    #[test]
    fn day_of_month_and_day_of_week_must_both_match() {
        // The first Monday of each month (Celery's semantics, not Vixie cron's "either").
        let schedule = cron("0 0 1-7 * 1");
        for fire in fires(&schedule, ms(2024, 1, 1, 0, 0, 1), 12) {
            assert_eq!(fire.weekday(), Weekday::Mon);
            assert!(fire.day() <= 7);
        }
    }

    #[test]
    fn legacy_order_is_m_h_dow_dom_mon() {
        let legacy = CronSchedule::parse_legacy("0 9 1-5 * *").unwrap();
        assert_eq!(legacy.cron_form(), "0 0 9 * * 2,3,4,5,6");
        assert_eq!(legacy.expression(), "0 9 1-5 * *");
        let legacy = CronSchedule::parse_legacy("30 2 * 1 6").unwrap();
        assert_eq!(legacy.cron_form(), "0 30 2 1 6 *");
        let legacy = CronSchedule::parse_legacy("0 0 0 * *").unwrap();
        assert_eq!(legacy.cron_form(), "0 0 0 * * 1");
        // Same fire times as the Unix order.
        let legacy = Periodic::Cron(CronSchedule::parse_legacy("15 3 sat 10 *").unwrap());
        let unix = cron("15 3 10 * sat");
        let from = ms(2024, 1, 1, 0, 0, 0);
        assert_eq!(fires(&legacy, from, 3), fires(&unix, from, 3));
        assert!(CronSchedule::parse_legacy("0 0 * * * *").is_err());
        assert!(CronSchedule::parse_legacy("0 0 8 * *").is_err());
    }

    #[test]
    fn invalid_expressions_are_refused() {
        for expr in [
            "",
            "* * *",
            "* * * *",
            "61 * * * *",
            "* 24 * * *",
            "* * 32 * *",
            "* * * 13 *",
            "* * * * 8",
            "* * * * 5-2",
            "* * * * */0",
            "* * * * 1,,2",
            "* * * * *,99",
            "* * * * L",
            "* * * * 1#2",
            "garbage",
            "what is this thing",
            "a b c d e",
            "* * * * * * * *",
            "@sometimes",
        ] {
            let error = CronSchedule::parse(expr).unwrap_err();
            assert!(error.to_string().contains(&format!("'{expr}'")), "{error}");
        }
        let error = CronSchedule::parse("* * *").unwrap_err().to_string();
        assert!(error.contains("expected 5 fields"), "{error}");
        let error = CronSchedule::parse("* * * * 9").unwrap_err().to_string();
        assert!(error.contains("day-of-week"), "{error}");
    }

    #[test]
    fn interval_slots() {
        assert!(Periodic::interval_secs(0).is_err());
        let every_minute = Periodic::interval_secs(60).unwrap();
        assert_eq!(every_minute, Periodic::Interval { seconds: 60 });
        assert_eq!(every_minute.slot_at(0), Some(0));
        assert_eq!(every_minute.slot_at(59_999), Some(0));
        assert_eq!(every_minute.slot_at(60_000), Some(60_000));
        assert_eq!(every_minute.slot_at(125_000), Some(120_000));
        assert_eq!(every_minute.next_after(120_000), Some(180_000));
        assert_eq!(every_minute.next_after(179_999), Some(180_000));
        let zero = Periodic::Interval { seconds: 0 };
        assert_eq!(zero.slot_at(1_000), None);
        assert_eq!(zero.next_after(1_000), None);
        let huge = Periodic::Interval { seconds: u64::MAX };
        assert_eq!(huge.slot_at(u64::MAX), Some(0));
        assert_eq!(huge.next_after(0), None);
        assert_eq!(every_minute.next_after(u64::MAX), None);
    }

    #[test]
    fn cron_edges() {
        // Never fires: February 30th.
        let never = cron("0 0 30 2 *");
        assert_eq!(never.slot_at(ms(2024, 6, 1, 0, 0, 0)), None);
        assert_eq!(never.next_after(ms(2024, 6, 1, 0, 0, 0)), None);
        // Last fired more than a year ago.
        let leap = cron("0 0 29 2 *");
        assert_eq!(
            leap.slot_at(ms(2024, 3, 1, 0, 0, 0)),
            Some(ms(2024, 2, 29, 0, 0, 0))
        );
        assert_eq!(leap.slot_at(ms(2026, 3, 1, 0, 0, 0)), None);
        // Before the epoch and beyond what chrono represents.
        let hourly = cron("0 * * * *");
        assert_eq!(hourly.slot_at(0), Some(0));
        assert_eq!(hourly.slot_at(1_000), Some(0));
        assert_eq!(hourly.slot_at(u64::MAX), None);
        assert_eq!(hourly.next_after(u64::MAX), None);
        // Seconds in the crate's own form.
        let every_ten_seconds = cron("*/10 * * * * *");
        assert_eq!(every_ten_seconds.slot_at(25_500), Some(20_000));
        assert_eq!(every_ten_seconds.next_after(20_000), Some(30_000));
    }

    /// Times between 1970 and 2090.
    fn any_time() -> impl Strategy<Value = u64> {
        0u64..3_786_912_000_000
    }

    proptest! {
        #[test]
        fn interval_slot_contains_now(seconds in 1u64..=400 * 24 * 3600, now in any_time()) {
            let periodic = Periodic::interval_secs(seconds).unwrap();
            let slot = periodic.slot_at(now).unwrap();
            let next = periodic.next_after(slot).unwrap();
            prop_assert!(slot <= now);
            prop_assert!(now < next);
            prop_assert_eq!(next - slot, seconds * 1000);
            prop_assert_eq!(periodic.next_after(now), Some(next));
            prop_assert_eq!(slot % (seconds * 1000), 0);
        }

        #[test]
        fn interval_never_panics(seconds in any::<u64>(), now in any::<u64>()) {
            let periodic = Periodic::Interval { seconds };
            if let Some(slot) = periodic.slot_at(now) {
                prop_assert!(slot <= now);
            }
            if let Some(next) = periodic.next_after(now) {
                prop_assert!(next > now);
            }
        }

        #[test]
        fn cron_slot_contains_now(
            expr in prop::sample::select(vec![
                "*/5 * * * *",
                "0 9 * * 1-5",
                "0 0 * * 0",
                "30 2 1 * *",
                "0 0 * * 5-7",
                "17 */3 * * *",
                "0 12 1-7 * MON",
                "*/15 * * * * *",
            ]),
            now in 946_684_800_000u64..3_786_912_000_000,
        ) {
            let periodic = cron(expr);
            let slot = periodic.slot_at(now).unwrap();
            let next = periodic.next_after(now).unwrap();
            prop_assert!(slot <= now);
            prop_assert!(now < next);
            // No fire time strictly between the slot and now: the first one after the slot
            // is already after now.
            prop_assert!(periodic.next_after(slot).unwrap() > now);
            prop_assert_eq!(periodic.next_after(slot), Some(next));
            prop_assert_eq!(periodic.slot_at(slot), Some(slot));
            // The slot is itself a fire time.
            prop_assert_eq!(periodic.next_after(slot - 1), Some(slot));
        }

        #[test]
        fn unix_weekday_numbers_match_names(day in 0u32..=7, minute in 0u32..60) {
            let names = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
            let numeric = cron(&format!("{minute} 0 * * {day}"));
            let named = cron(&format!("{minute} 0 * * {}", names[day as usize]));
            let from = ms(2024, 1, 1, 0, 0, 0);
            prop_assert_eq!(fires(&numeric, from, 3), fires(&named, from, 3));
        }
    }
}
