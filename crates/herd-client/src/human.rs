//! Human forms of wire values: signed durations, degrees with N/S E/W, UTC date-times, distances.

use herd_wire::{ClientTime, Position, TimeDiff};
use time::OffsetDateTime;
use time::macros::format_description;

const NS_PER_US: u128 = 1_000;
const NS_PER_MS: u128 = 1_000_000;
const NS_PER_S: u128 = 1_000_000_000;

/// A signed difference with a unit that fits: `+263.873 ms`, `-1.500 s`, `+2d 3h 4m 5.000s`.
pub fn signed_duration(diff: TimeDiff) -> String {
    let nanos = diff.as_nanos();
    let sign = if nanos < 0 { '-' } else { '+' };
    let a = nanos.unsigned_abs();
    let body = if a < NS_PER_US {
        format!("{a} ns")
    } else if a < NS_PER_MS {
        format!("{}.{:03} µs", a / NS_PER_US, a % NS_PER_US)
    } else if a < NS_PER_S {
        format!("{}.{:03} ms", a / NS_PER_MS, a % NS_PER_MS / NS_PER_US)
    } else if a < 60 * NS_PER_S {
        format!("{}.{:03} s", a / NS_PER_S, a % NS_PER_S / NS_PER_MS)
    } else {
        let secs = a / NS_PER_S;
        let millis = a % NS_PER_S / NS_PER_MS;
        let (days, hours, minutes, seconds) =
            (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
        let mut parts = Vec::new();
        if days > 0 {
            parts.push(format!("{days}d"));
        }
        if days > 0 || hours > 0 {
            parts.push(format!("{hours}h"));
        }
        parts.push(format!("{minutes}m"));
        parts.push(format!("{seconds}.{millis:03}s"));
        parts.join(" ")
    };
    format!("{sign}{body}")
}

/// `34.068930° N, 118.445127° W`, from the client's own digits (no float re-rendering).
pub fn degrees(position: &Position) -> String {
    let hemisphere = |text: &str, positive: char, negative: char| {
        let (digits, side) = match text.strip_prefix('-') {
            Some(digits) => (digits, negative),
            None => (text.strip_prefix('+').unwrap_or(text), positive),
        };
        format!("{digits}° {side}")
    };
    format!(
        "{}, {}",
        hemisphere(position.lat_text(), 'N', 'S'),
        hemisphere(position.lng_text(), 'E', 'W')
    )
}

fn date_time(time: ClientTime) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(time.as_nanos()).ok()
}

/// `2021-05-19 22:53:47.959498503 UTC`, or a note when the time is beyond the calendar.
pub fn utc(time: ClientTime) -> String {
    let format = format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:9] UTC"
    );
    date_time(time)
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "(beyond year 9999)".to_owned())
}

/// `2021-05-19T22:53:47.959498503Z` (RFC 3339), for JSON; `None` beyond the calendar.
pub fn rfc3339(time: ClientTime) -> Option<String> {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");
    date_time(time).and_then(|t| t.format(&format).ok())
}

/// `850 m` below a kilometre, `12.34 km` above.
pub fn distance(metres: f64) -> String {
    if metres < 1000.0 {
        format!("{metres:.0} m")
    } else {
        format!("{:.2} km", metres / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(text: &str) -> String {
        signed_duration(TimeDiff::parse(text).unwrap())
    }

    #[test]
    fn durations_pick_a_unit() {
        assert_eq!(diff("+0.000000042"), "+42 ns");
        assert_eq!(diff("+0.000213457"), "+213.457 µs");
        assert_eq!(diff("+0.263873386"), "+263.873 ms");
        assert_eq!(diff("-1.500000000"), "-1.500 s");
        assert_eq!(diff("+0"), "+0 ns");
        assert_eq!(diff("+3723.5"), "+1h 2m 3.500s");
        assert_eq!(diff("-90061"), "-1d 1h 1m 1.000s");
        assert_eq!(diff("+61"), "+1m 1.000s");
    }

    #[test]
    fn degrees_keep_the_clients_digits() {
        let p = Position::parse(b"+34.068930-118.445127").unwrap();
        assert_eq!(degrees(&p), "34.068930° N, 118.445127° W");
        let p = Position::parse(b"-33.86+151.20").unwrap();
        assert_eq!(degrees(&p), "33.86° S, 151.20° E");
    }

    #[test]
    fn times_in_utc() {
        let t = ClientTime::parse(b"1621464827.959498503").unwrap();
        assert_eq!(utc(t), "2021-05-19 22:53:47.959498503 UTC");
        assert_eq!(rfc3339(t).unwrap(), "2021-05-19T22:53:47.959498503Z");
        let far = ClientTime::parse(b"99999999999999").unwrap();
        assert_eq!(utc(far), "(beyond year 9999)");
        assert_eq!(rfc3339(far), None);
    }

    #[test]
    fn distances() {
        assert_eq!(distance(849.6), "850 m");
        assert_eq!(distance(12_345.0), "12.35 km");
    }
}
