//! Client timestamps (`1621464827.959498503`) and the signed time difference an AT line carries.
//!
//! Both are kept as whole nanoseconds so that the difference is exact: a float would round the
//! client's nanoseconds away (a fault seen in real submissions).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

const NANOS_PER_SEC: i128 = 1_000_000_000;
/// The most digits of whole seconds a client time may have.
pub const MAX_SECONDS_DIGITS: usize = 28;

/// A POSIX time with nanosecond precision, as a client sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientTime {
    nanos: i128,
}

/// Why a client time was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientTimeError {
    #[error(
        "a client time is seconds since the epoch, digits with an optional fraction of 1 to 9 digits"
    )]
    Malformed,
    #[error("the client time has more than 28 digits of seconds")]
    TooLarge,
}

/// The value of ASCII digits (at most 28 significant ones, checked by the caller). Up to 19 digits
/// fit a u64, which is far cheaper than i128 arithmetic per digit; real times have 10.
fn decimal(digits: &[u8]) -> i128 {
    let digits = &digits[digits.iter().take_while(|d| **d == b'0').count()..];
    let fold64 = |s: &[u8]| s.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    if digits.len() <= 19 {
        return i128::from(fold64(digits));
    }
    let (high, low) = digits.split_at(digits.len() - 19);
    i128::from(fold64(high)) * 10_000_000_000_000_000_000 + i128::from(fold64(low))
}

/// The value of the ASCII digits at the start of `text` (at most `max` of them, `max` <= 19),
/// how many there are, and what follows them. Eight digits at a time where it can: every AT
/// line carries two times, parsed again on every hop.
fn leading_digits(text: &[u8], max: usize) -> (u64, usize, &[u8]) {
    let mut value: u64 = 0;
    let mut count = 0;
    while count + 8 <= max
        && let Some(Ok(eight)) = text.get(count..count + 8).map(<[u8; 8]>::try_from)
        && let Some(digits) = eight_digits(eight)
    {
        value = value * 100_000_000 + digits;
        count += 8;
    }
    while count < max
        && let Some(digit) = text.get(count).filter(|b| b.is_ascii_digit())
    {
        value = value * 10 + u64::from(digit - b'0');
        count += 1;
    }
    (value, count, &text[count..])
}

/// The value of eight ASCII digits, `None` when one of them is not a digit (the word method of
/// "Faster integer parsing": pairs, then fours, then all eight, with three multiplications).
fn eight_digits(eight: [u8; 8]) -> Option<u64> {
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let word = u64::from_le_bytes(eight);
    // Each byte 0x30..=0x3f, and none above 0x39 (adding 6 would carry it into 0x40).
    if word & HIGH_NIBBLES != ZEROS
        || word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES != ZEROS
    {
        return None;
    }
    let value = word & 0x0F0F_0F0F_0F0F_0F0F;
    let value = value.wrapping_mul(2561) >> 8;
    let value = (value & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    Some((value & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32)
}

impl ClientTime {
    /// Parses `digits[.digits]`, with 1 to 9 fraction digits; nothing else (no sign, exponent, nan).
    pub fn parse(text: &[u8]) -> Result<Self, ClientTimeError> {
        if let Some(time) = Self::parse_short(text) {
            return Ok(time);
        }
        let (whole, frac) = match text.iter().position(|b| *b == b'.') {
            Some(dot) => (&text[..dot], Some(&text[dot + 1..])),
            None => (text, None),
        };
        let all_digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
        if !all_digits(whole) || frac.is_some_and(|f| !all_digits(f) || f.len() > 9) {
            return Err(ClientTimeError::Malformed);
        }
        let significant = whole.iter().skip_while(|d| **d == b'0').count();
        // Nanoseconds are kept in an i128, which holds any time of up to 28 digits of seconds
        // exactly (a far-future clock is still a valid, answerable client).
        if significant > MAX_SECONDS_DIGITS {
            return Err(ClientTimeError::TooLarge);
        }
        let secs = decimal(whole);
        let frac = frac.unwrap_or_default();
        let mut sub = decimal(frac);
        for _ in frac.len()..9 {
            sub *= 10;
        }
        Ok(Self {
            nanos: secs * NANOS_PER_SEC + sub,
        })
    }

    /// One pass over a valid time of at most 19 digits of seconds (every real clock): `None`
    /// sends anything else, valid or not, to the general parser above, which decides.
    fn parse_short(text: &[u8]) -> Option<Self> {
        let (secs, whole_digits, rest) = leading_digits(text, 19);
        if whole_digits == 0 {
            return None;
        }
        let sub = match rest.split_first() {
            None => 0,
            Some((b'.', frac)) if !frac.is_empty() && frac.len() <= 9 => {
                let (value, count, after) = leading_digits(frac, 9);
                if !after.is_empty() {
                    return None;
                }
                value * 10u64.pow(9 - count as u32)
            }
            Some(_) => return None,
        };
        Some(Self {
            nanos: i128::from(secs) * NANOS_PER_SEC + i128::from(sub),
        })
    }

    /// Now, from the system clock.
    pub fn now() -> Self {
        let nanos = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(before) => -(before.duration().as_nanos() as i128),
        };
        Self { nanos }
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(self) -> i128 {
        self.nanos
    }

    /// Renders `seconds.nnnnnnnnn`, the form clients send (used by our client and bench).
    pub fn to_wire(self) -> String {
        format!(
            "{}.{:09}",
            self.nanos.div_euclid(NANOS_PER_SEC),
            self.nanos.rem_euclid(NANOS_PER_SEC)
        )
    }

    /// `later - self`, exactly.
    pub fn until(self, later: ClientTime) -> TimeDiff {
        TimeDiff {
            nanos: later.nanos - self.nanos,
        }
    }
}

/// A signed time difference in nanoseconds, shown as `+0.263873386` or `-1.500000000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeDiff {
    nanos: i128,
}

impl TimeDiff {
    /// The difference in nanoseconds.
    pub fn as_nanos(self) -> i128 {
        self.nanos
    }

    /// Parses what an AT line carries: an explicit sign, digits, an optional fraction of up to 9
    /// digits. Used to read replies; more than 9 digits are refused rather than rounded.
    pub fn parse(text: &str) -> Option<Self> {
        Self::parse_bytes(text.as_bytes())
    }

    /// [`TimeDiff::parse`] of the field's bytes (an AT line's fields need no UTF-8 check first).
    pub fn parse_bytes(text: &[u8]) -> Option<Self> {
        let (negative, rest) = match text.split_first()? {
            (b'+', rest) => (false, rest),
            (b'-', rest) => (true, rest),
            _ => return None,
        };
        let magnitude = ClientTime::parse(rest).ok()?.as_nanos();
        Some(Self {
            nanos: if negative { -magnitude } else { magnitude },
        })
    }
}

impl TimeDiff {
    /// Appends the Display form (`+0.263873386`) to `out` without the formatting machinery:
    /// every IAMAT reply carries one.
    pub fn push_to(self, out: &mut Vec<u8>) {
        out.push(if self.nanos < 0 { b'-' } else { b'+' });
        let magnitude = self.nanos.unsigned_abs();
        let per_sec = NANOS_PER_SEC.unsigned_abs();
        push_digits(out, magnitude / per_sec, 1);
        out.push(b'.');
        push_digits(out, magnitude % per_sec, 9);
    }
}

/// `n` in decimal, zero-padded to `width` digits.
fn push_digits(out: &mut Vec<u8>, mut n: u128, width: usize) {
    let mut digits = [b'0'; 40];
    let mut at = digits.len();
    while n > 0 || digits.len() - at < width {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&digits[at..]);
}

impl fmt::Display for TimeDiff {
    /// Sign always, then seconds and exactly nine fraction digits: `+0.000000000` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.nanos < 0 { '-' } else { '+' };
        let magnitude = self.nanos.unsigned_abs();
        let per_sec = NANOS_PER_SEC.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:09}",
            magnitude / per_sec,
            magnitude % per_sec
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn eight_digits_agrees_with_the_digit_loop() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut eight = [0u8; 8];
            for (i, b) in eight.iter_mut().enumerate() {
                *b = b'0' + ((state >> (i * 7)) % 10) as u8;
            }
            let naive = eight
                .iter()
                .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
            assert_eq!(eight_digits(eight), Some(naive), "{eight:?}");
            // Any other byte anywhere makes it no number.
            let at = (state % 8) as usize;
            for other in [b'/', b':', b'.', b' ', 0, 0x80, 0xb0, b'a', 0x3f] {
                let mut bad = eight;
                bad[at] = other;
                assert_eq!(eight_digits(bad), None, "{bad:?}");
            }
        }
        assert_eq!(eight_digits(*b"00000000"), Some(0));
        assert_eq!(eight_digits(*b"99999999"), Some(99_999_999));
        assert_eq!(eight_digits(*b"16214648"), Some(16_214_648));
    }

    #[test]
    fn the_short_path_and_the_general_parser_agree() {
        let cases = [
            "0",
            "7",
            "1621464827",
            "1621464827.959498503",
            "1621464827.9",
            "12345678.12345678",
            "9999999999999999999",
            "9999999999999999999.999999999",
            "0000000000000000001.1",
            "123456789012345678901",
            "1.",
            ".5",
            "1..2",
            "1.1234567890",
            "12a4",
            "+1",
            "",
            "00000000.00000000",
            "99999999.9999999",
        ];
        for text in cases {
            let short = ClientTime::parse_short(text.as_bytes());
            if let Some(time) = short {
                // Whatever the short path accepts, the general rule gives the same value.
                let digits = text.replace('.', "");
                let frac = text.split_once('.').map_or(0, |(_, f)| f.len());
                let expect: i128 = digits.parse::<i128>().unwrap() * 10i128.pow(9 - frac as u32);
                assert_eq!(time.as_nanos(), expect, "{text}");
            }
            let full = ClientTime::parse(text.as_bytes());
            assert_eq!(
                short.is_some(),
                full.is_ok() && text.split('.').next().unwrap().len() <= 19,
                "{text}"
            );
        }
    }

    use super::*;

    fn t(s: &str) -> ClientTime {
        ClientTime::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn parses_whole_and_fractional_seconds_exactly() {
        assert_eq!(
            t("1621464827.959498503").as_nanos(),
            1_621_464_827_959_498_503
        );
        assert_eq!(t("1621464827").as_nanos(), 1_621_464_827_000_000_000);
        assert_eq!(t("1.5").as_nanos(), 1_500_000_000);
        assert_eq!(t("0.000000001").as_nanos(), 1);
    }

    #[test]
    fn rejects_everything_but_digits_and_a_fraction() {
        for bad in [
            "",
            ".5",
            "5.",
            "-1",
            "+1",
            "1e9",
            "nan",
            "inf",
            "1.2.3",
            "1.0000000001",
            " 1",
            "0x10",
        ] {
            assert_eq!(
                ClientTime::parse(bad.as_bytes()),
                Err(ClientTimeError::Malformed),
                "{bad}"
            );
        }
        let most = "9".repeat(28);
        assert_eq!(
            t(&most).as_nanos(),
            most.parse::<i128>().unwrap() * 1_000_000_000
        );
        assert_eq!(
            t(&format!("000{most}.999999999")).to_wire(),
            format!("{most}.999999999")
        );
        let too_many = "1".repeat(29);
        assert_eq!(
            ClientTime::parse(too_many.as_bytes()),
            Err(ClientTimeError::TooLarge)
        );
    }

    #[test]
    fn difference_has_sign_and_nine_digits() {
        let client = t("1621464827.959498503");
        let server = t("1621464828.223371889");
        assert_eq!(client.until(server).to_string(), "+0.263873386");
        assert_eq!(server.until(client).to_string(), "-0.263873386");
        assert_eq!(t("10").until(t("8.5")).to_string(), "-1.500000000");
        assert_eq!(t("10").until(t("10")).to_string(), "+0.000000000");
    }

    #[test]
    fn pushed_difference_matches_display() {
        for (a, b) in [
            ("10", "8.5"),
            ("1.5", "1.5"),
            ("0", "99999999999999999999.5"),
        ] {
            let d = t(a).until(t(b));
            let mut out = Vec::new();
            d.push_to(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), d.to_string());
        }
    }

    #[test]
    fn long_times_parse_exactly() {
        let most = format!("{}.123456789", "9876543210".repeat(2));
        assert_eq!(t(&most).to_wire(), most);
    }

    #[test]
    fn difference_round_trips_through_parse() {
        for s in ["+0.263873386", "-1.500000000", "+12.5"] {
            let d = TimeDiff::parse(s).unwrap();
            assert_eq!(TimeDiff::parse(&d.to_string()), Some(d));
        }
        assert_eq!(TimeDiff::parse("--1.2"), None);
        assert_eq!(TimeDiff::parse("1.2"), None);
    }

    #[test]
    fn wire_form_round_trips() {
        let now = ClientTime::now();
        assert_eq!(ClientTime::parse(now.to_wire().as_bytes()), Ok(now));
    }
}
