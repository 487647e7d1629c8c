//! ISO 6709 positions as IAMAT carries them: `+34.068930-118.445127`.
//!
//! The text is kept byte for byte (replies copy it); the numbers are checked with exact decimal
//! comparison, so `+90.0000000000000000001` is out of range even though it rounds to 90.0 as f64.

use std::fmt;

/// A valid position: its original text and where the latitude ends. The coordinates are read
/// from the text when asked for (only Places calls need them, and every IAMAT and AT line
/// carries a position).
#[derive(Clone, Debug, PartialEq)]
pub struct Position {
    text: String,
    lat_end: usize,
}

/// Why a position was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error(
        "a position is two signed decimal numbers with no separator, like +34.068930-118.445127"
    )]
    Malformed,
    #[error("latitude must be within -90 and +90 degrees")]
    LatitudeOutOfRange,
    #[error("longitude must be within -180 and +180 degrees")]
    LongitudeOutOfRange,
}

/// One signed decimal: returns (length in bytes, integer part digits, fraction digits).
fn signed_decimal(text: &[u8]) -> Option<(usize, &[u8], &[u8])> {
    if !matches!(text.first(), Some(b'+' | b'-')) {
        return None;
    }
    let int_end = digits_from(text, 1);
    if int_end == 1 {
        return None;
    }
    if text.get(int_end) != Some(&b'.') {
        return Some((int_end, &text[1..int_end], &[]));
    }
    let frac_end = digits_from(text, int_end + 1);
    if frac_end == int_end + 1 {
        return None;
    }
    Some((frac_end, &text[1..int_end], &text[int_end + 1..frac_end]))
}

/// Where the run of ASCII digits starting at `at` ends.
fn digits_from(text: &[u8], mut at: usize) -> usize {
    while text.get(at).is_some_and(u8::is_ascii_digit) {
        at += 1;
    }
    at
}

/// True when |value| ≤ limit, decided on the digits rather than on a rounded float.
fn within(int_part: &[u8], frac: &[u8], limit: u64) -> bool {
    let zeros = int_part.iter().take_while(|b| **b == b'0').count();
    let significant = &int_part[zeros..];
    if significant.len() > 3 {
        return false;
    }
    let whole = significant
        .iter()
        .fold(0, |acc, d| acc * 10 + u64::from(d - b'0'));
    whole < limit || (whole == limit && frac.iter().all(|d| *d == b'0'))
}

impl Position {
    /// Parses the IAMAT position operand.
    pub fn parse(text: &[u8]) -> Result<Self, PositionError> {
        let lat_end = Self::check(text)?;
        // Only ASCII digits, signs and dots got here, so this is valid UTF-8 and valid floats.
        let text = String::from_utf8(text.to_vec()).map_err(|_| PositionError::Malformed)?;
        Ok(Self { text, lat_end })
    }

    /// Checks a position without keeping it: where its latitude ends, or why it is invalid.
    /// (An AT line checks its position on every hop and keeps it only as part of its text.)
    pub(crate) fn check(text: &[u8]) -> Result<usize, PositionError> {
        let (lat_len, lat_int, lat_frac) = signed_decimal(text).ok_or(PositionError::Malformed)?;
        let (lng_len, lng_int, lng_frac) =
            signed_decimal(&text[lat_len..]).ok_or(PositionError::Malformed)?;
        if lat_len + lng_len != text.len() {
            return Err(PositionError::Malformed);
        }
        if !within(lat_int, lat_frac, 90) {
            return Err(PositionError::LatitudeOutOfRange);
        }
        if !within(lng_int, lng_frac, 180) {
            return Err(PositionError::LongitudeOutOfRange);
        }
        Ok(lat_len)
    }

    /// A position [`Position::check`] accepted, with the latitude's end it found.
    pub(crate) fn checked(text: &str, lat_end: usize) -> Self {
        Self {
            text: text.to_owned(),
            lat_end,
        }
    }

    /// Where the latitude ends in [`Position::as_str`].
    pub(crate) fn lat_end(&self) -> usize {
        self.lat_end
    }

    /// The position exactly as the client wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        // Checked at parse time: a signed decimal, which f64 always parses.
        self.text[..self.lat_end].parse().unwrap_or(0.0)
    }

    /// Longitude in degrees.
    pub fn lng(&self) -> f64 {
        self.text[self.lat_end..].parse().unwrap_or(0.0)
    }

    /// The client's latitude digits with a `+` sign dropped: `+34.068930` → `34.068930`.
    pub fn lat_text(&self) -> &str {
        unsigned_plus(&self.text[..self.lat_end])
    }

    /// The client's longitude digits with a `+` sign dropped.
    pub fn lng_text(&self) -> &str {
        unsigned_plus(&self.text[self.lat_end..])
    }

    /// `LAT,LNG` for Google's `location` parameter, from the client's own digits (no float
    /// re-rendering, so `+34.068930` stays `34.068930`).
    pub fn places_location(&self) -> String {
        format!("{},{}", self.lat_text(), self.lng_text())
    }
}

fn unsigned_plus(number: &str) -> &str {
    number.strip_prefix('+').unwrap_or(number)
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_clients_digits() {
        let p = Position::parse(b"+34.068930-118.445127").unwrap();
        assert_eq!(p.as_str(), "+34.068930-118.445127");
        assert_eq!(p.places_location(), "34.068930,-118.445127");
        assert_eq!(p.lat(), 34.06893);
        assert_eq!(p.lng(), -118.445127);
    }

    #[test]
    fn accepts_integers_and_the_extremes() {
        for ok in [
            &b"+34-118"[..],
            b"-33.86+151.20",
            b"+90-180",
            b"-90.000+180.0",
            b"+00-000",
        ] {
            assert!(
                Position::parse(ok).is_ok(),
                "{}",
                String::from_utf8_lossy(ok)
            );
        }
    }

    #[test]
    fn rejects_malformed_positions() {
        for bad in [
            &b"34.0-118.4"[..],
            b"+34.0",
            b"+34.-118",
            b"+34.0,-118.4",
            b"+34.0-118.4x",
            b"++34-118",
            b"+.5-118",
            b"",
            b"+34e1-118",
            b"+3\xff4-118",
        ] {
            assert_eq!(
                Position::parse(bad),
                Err(PositionError::Malformed),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn range_is_exact_not_float_rounded() {
        assert_eq!(
            Position::parse(b"+90.0000000000000000001+0"),
            Err(PositionError::LatitudeOutOfRange)
        );
        assert_eq!(
            Position::parse(b"-91+0"),
            Err(PositionError::LatitudeOutOfRange)
        );
        assert_eq!(
            Position::parse(b"+0+180.5"),
            Err(PositionError::LongitudeOutOfRange)
        );
        assert_eq!(
            Position::parse(b"+0-0180.000"),
            Ok(Position::parse(b"+0-0180.000").unwrap())
        );
        assert_eq!(
            Position::parse(b"+0+1000"),
            Err(PositionError::LongitudeOutOfRange)
        );
    }
}
