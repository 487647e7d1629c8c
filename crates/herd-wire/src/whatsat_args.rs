//! WHATSAT's radius (kilometres, at most 50) and bound (number of places, at most 20).
//!
//! Decision (the original is silent): the radius may have a fraction (`10.5`), written as
//! `digits[.digits]` with no sign or exponent; the bound is whole digits only.

/// A radius in kilometres, 0 < r ≤ 50.
#[derive(Clone, Debug, PartialEq)]
pub struct Radius {
    whole: u64,
    frac: String,
}

/// At most this many kilometres.
pub const MAX_RADIUS_KM: u64 = 50;
/// At most this many places.
pub const MAX_BOUND: u32 = 20;

/// Why a WHATSAT operand was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WhatsatArgError {
    #[error("the radius is kilometres as digits with an optional fraction, like 10 or 2.5")]
    MalformedRadius,
    #[error("the radius must be more than 0 km")]
    RadiusNotPositive,
    #[error("the radius must be at most 50 km")]
    RadiusTooLarge,
    #[error("the bound is a whole number of places, like 5")]
    MalformedBound,
    #[error("the bound must be at most 20 places")]
    BoundTooLarge,
}

impl Radius {
    /// Parses the radius operand.
    pub fn parse(text: &[u8]) -> Result<Self, WhatsatArgError> {
        let (whole, frac) = match text.iter().position(|b| *b == b'.') {
            Some(dot) => (&text[..dot], &text[dot + 1..]),
            None => (text, &b""[..]),
        };
        let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
        let has_dot = whole.len() != text.len();
        if whole.is_empty() || !digits(whole) || !digits(frac) || (has_dot && frac.is_empty()) {
            return Err(WhatsatArgError::MalformedRadius);
        }
        let significant = whole.iter().skip_while(|d| **d == b'0').count();
        if significant > 3 {
            return Err(WhatsatArgError::RadiusTooLarge);
        }
        let whole: u64 = whole
            .iter()
            .fold(0, |acc, d| acc * 10 + u64::from(d - b'0'));
        let frac = String::from_utf8_lossy(frac)
            .trim_end_matches('0')
            .to_owned();
        if whole > MAX_RADIUS_KM || (whole == MAX_RADIUS_KM && !frac.is_empty()) {
            return Err(WhatsatArgError::RadiusTooLarge);
        }
        if whole == 0 && frac.is_empty() {
            return Err(WhatsatArgError::RadiusNotPositive);
        }
        Ok(Self { whole, frac })
    }

    /// Kilometres as a float (for display and geometry).
    pub fn km(&self) -> f64 {
        format!("{}.{}0", self.whole, self.frac)
            .parse()
            .unwrap_or(0.0)
    }

    /// Metres as the shortest exact decimal: `10` → `10000`, `10.5` → `10500`, `0.0015` → `1.5`.
    pub fn metres(&self) -> String {
        let mut frac = self.frac.clone();
        while frac.len() < 3 {
            frac.push('0');
        }
        let (to_metres, below_metre) = frac.split_at(3);
        let metres = self.whole * 1000 + to_metres.parse::<u64>().unwrap_or(0);
        if below_metre.is_empty() {
            metres.to_string()
        } else {
            format!("{metres}.{below_metre}")
        }
    }
}

/// How many places to return at most, 0 ≤ b ≤ 20.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound(u32);

impl Bound {
    /// The largest bound, 20.
    pub const MAX: Bound = Bound(MAX_BOUND);

    /// Parses the bound operand.
    pub fn parse(text: &[u8]) -> Result<Self, WhatsatArgError> {
        if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
            return Err(WhatsatArgError::MalformedBound);
        }
        if text.iter().skip_while(|d| **d == b'0').count() > 2 {
            return Err(WhatsatArgError::BoundTooLarge);
        }
        let value = text.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0'));
        if value > MAX_BOUND {
            return Err(WhatsatArgError::BoundTooLarge);
        }
        Ok(Self(value))
    }

    /// The bound as a number.
    pub fn get(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metres(s: &str) -> String {
        Radius::parse(s.as_bytes()).unwrap().metres()
    }

    #[test]
    fn radius_to_metres_is_exact() {
        assert_eq!(metres("10"), "10000");
        assert_eq!(metres("10.5"), "10500");
        assert_eq!(metres("0.0015"), "1.5");
        assert_eq!(metres("50"), "50000");
        assert_eq!(metres("50.000"), "50000");
        assert_eq!(metres("007"), "7000");
        assert_eq!(Radius::parse(b"2.5").unwrap().km(), 2.5);
    }

    #[test]
    fn radius_limits() {
        use WhatsatArgError::*;
        let err = |s: &str| Radius::parse(s.as_bytes()).unwrap_err();
        assert_eq!(err("51"), RadiusTooLarge);
        assert_eq!(err("50.001"), RadiusTooLarge);
        assert_eq!(err("100000000000000000000000"), RadiusTooLarge);
        assert_eq!(err("0"), RadiusNotPositive);
        assert_eq!(err("0.000"), RadiusNotPositive);
        for bad in ["-1", "+5", "1e1", "ten", "", ".5", "5.", "1.2.3", "nan"] {
            assert_eq!(err(bad), MalformedRadius, "{bad}");
        }
    }

    #[test]
    fn bound_limits() {
        use WhatsatArgError::*;
        assert_eq!(Bound::parse(b"0").unwrap().get(), 0);
        assert_eq!(Bound::parse(b"20").unwrap().get(), 20);
        assert_eq!(Bound::parse(b"0005").unwrap().get(), 5);
        assert_eq!(Bound::parse(b"21"), Err(BoundTooLarge));
        assert_eq!(Bound::parse(b"99999999999999999999"), Err(BoundTooLarge));
        for bad in ["-1", "5.0", "+5", "", "x"] {
            assert_eq!(Bound::parse(bad.as_bytes()), Err(MalformedBound), "{bad}");
        }
    }
}
