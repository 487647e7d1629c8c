//! Inputs the tests make up: fresh positions and client times that no other test uses.

use crate::expect::{now_ns, time_text};

/// A position no other test uses, with 6 fractional digits whose last digit is not 0 (so only
/// the tests meant to catch a re-rendered position do), away from the poles and the zero-results
/// area. Returns the text and the numbers.
pub fn unique_position() -> (String, f64, f64) {
    let sign = || if rand::random::<bool>() { '+' } else { '-' };
    position_with_signs(sign(), sign())
}

/// Like [`unique_position`], with the signs chosen by the caller (a test about the longitude's
/// `+` needs one there).
pub fn position_with_signs(lat_sign: char, lng_sign: char) -> (String, f64, f64) {
    let digits = |whole: u32| {
        let int = rand::random_range(0..whole);
        let frac = rand::random_range(0..100_000u32) * 10 + rand::random_range(1..10u32);
        (int, frac)
    };
    let (lat_i, lat_f) = digits(50);
    let (lng_i, lng_f) = digits(170);
    let text = format!("{lat_sign}{lat_i}.{lat_f:06}{lng_sign}{lng_i}.{lng_f:06}");
    // Parse the text, as a server would, so the numbers are bit-identical to what Places sees.
    let num = |sign: char, i: u32, f: u32| {
        let v: f64 = format!("{i}.{f:06}").parse().unwrap_or(f64::NAN);
        if sign == '-' { -v } else { v }
    };
    (
        text,
        num(lat_sign, lat_i, lat_f),
        num(lng_sign, lng_i, lng_f),
    )
}

/// A client time `offset_ns` from now, with 9 fractional digits.
pub fn time_from_now(offset_ns: i128) -> String {
    time_text(now_ns() + offset_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_fresh_and_end_in_a_non_zero_digit() {
        for _ in 0..100 {
            let (text, lat, lng) = unique_position();
            assert!(!text.ends_with('0'), "{text}");
            let second = text[1..].find(['+', '-']).map(|i| i + 1).unwrap_or(0);
            assert_eq!(text[..second].parse::<f64>().ok(), Some(lat), "{text}");
            assert_eq!(text[second..].parse::<f64>().ok(), Some(lng), "{text}");
        }
    }
}
