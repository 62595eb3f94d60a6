//! Calendar arithmetic on ledger time (ms since the Unix epoch, UTC), deterministic
//! (ARCHITECTURE.md, "Determinism"): the Nth day after D is 00:00 UTC of date(D) + N days; adding months
//! is calendar arithmetic clamped to the month's end.

use time::{Date, Month, OffsetDateTime};

/// The UTC date of an instant (clamped to the range `time` supports).
pub fn date_of(ms: i64) -> Date {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| t.date())
        .unwrap_or(if ms < 0 { Date::MIN } else { Date::MAX })
}

/// 00:00 UTC of a date, in ms.
pub fn midnight_ms(d: Date) -> i64 {
    d.midnight().assume_utc().unix_timestamp() * 1000
}

/// 00:00 UTC of the `days`-th day after the date of `ms` (Art. 20.4, 25.3: "the
/// ninetieth day after").
pub fn days_after(ms: i64, days: u32) -> i64 {
    let d = date_of(ms);
    let target = d
        .checked_add(time::Duration::days(i64::from(days)))
        .unwrap_or(Date::MAX);
    midnight_ms(target)
}

/// 00:00 UTC of the date `months` calendar months after the date of `ms`, clamped to the
/// end of the month (31 August + 6 months = 28/29 February).
pub fn months_after(ms: i64, months: u32) -> i64 {
    let d = date_of(ms);
    let total = i64::from(d.year()) * 12 + i64::from(u8::from(d.month()) - 1) + i64::from(months);
    let year = i32::try_from(total.div_euclid(12)).unwrap_or(i32::MAX);
    let month = u8::try_from(total.rem_euclid(12) + 1)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .unwrap_or(Month::December);
    let last = time::util::days_in_month(month, year);
    let day = d.day().min(last);
    Date::from_calendar_date(year, month, day)
        .map(midnight_ms)
        .unwrap_or(i64::MAX)
}

/// `YYYY-MM-DD` of an instant.
pub fn format_date(ms: i64) -> String {
    let d = date_of(ms);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// An instant as ISO 8601 / RFC 3339 in UTC (`2008-01-01T00:00:00Z`, with milliseconds
/// when there are any), or the raw milliseconds if it is outside the years 0-9999.
pub fn format_instant(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms since 1970"))
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Result<Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, format).map_err(|e| format!("`{s}` is not a YYYY-MM-DD date: {e}"))
}

/// Parses `YYYY-MM-DD` into 00:00 UTC ms.
pub fn parse_date_ms(s: &str) -> Option<i64> {
    parse_date(s).ok().map(midnight_ms)
}

/// Parses `YYYY-MM-DD` (00:00 UTC) or an RFC 3339 timestamp into ms since the epoch.
pub fn parse_instant_ms(s: &str) -> Result<i64, String> {
    if let Some(ms) = parse_date_ms(s) {
        return Ok(ms);
    }
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok())
        .ok_or_else(|| format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_format_as_rfc_3339_in_utc() {
        assert_eq!(format_instant(1_199_145_600_000), "2008-01-01T00:00:00Z");
        assert_eq!(
            format_instant(1_447_977_600_123),
            "2015-11-20T00:00:00.123Z"
        );
        assert_eq!(
            parse_instant_ms(&format_instant(1_447_977_600_123)),
            Ok(1_447_977_600_123)
        );
        assert_eq!(
            format_instant(i64::MAX),
            format!("{} ms since 1970", i64::MAX)
        );
    }

    #[test]
    fn instants_are_dates_or_rfc_3339_times() {
        assert_eq!(parse_instant_ms("1970-01-02"), Ok(86_400_000));
        assert_eq!(parse_instant_ms("1970-01-01T00:00:01Z"), Ok(1000));
        assert_eq!(
            parse_instant_ms("2008-01-01T09:00:00+09:00"),
            parse_instant_ms("2008-01-01")
        );
        assert!(parse_instant_ms("2008-13-01").is_err());
        assert!(parse_date("1 January 2008").is_err());
    }

    #[test]
    fn ninetieth_day_after_russias_deposit_is_the_protocols_entry_into_force() {
        let deposit = parse_date_ms("2004-11-18").unwrap() + 15 * 3_600_000;
        assert_eq!(format_date(days_after(deposit, 90)), "2005-02-16");
    }

    #[test]
    fn months_clamp_to_the_end_of_the_month() {
        assert_eq!(
            format_date(months_after(parse_date_ms("2011-08-31").unwrap(), 6)),
            "2012-02-29"
        );
        assert_eq!(
            format_date(months_after(parse_date_ms("2012-08-31").unwrap(), 6)),
            "2013-02-28"
        );
        assert_eq!(
            format_date(months_after(parse_date_ms("2012-12-15").unwrap(), 12)),
            "2013-12-15"
        );
        assert_eq!(
            format_date(months_after(parse_date_ms("2009-11-30").unwrap(), 3)),
            "2010-02-28"
        );
    }
}
