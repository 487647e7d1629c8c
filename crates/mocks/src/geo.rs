//! Geometry on the sphere: distances, random points inside a circle, plus codes.
//!
//! Everything that shapes the stand-in's answers uses only `+ - * /`, `sqrt` and
//! rounding, which IEEE 754 fixes bit for bit, plus a Taylor-series sine; the
//! platform's `sin`/`cos` (which may differ in the last bit between C libraries)
//! are used only by [`haversine_m`], which checks answers rather than makes them.

use std::f64::consts::{PI, TAU};

use crate::rng::SplitMix64;

/// Mean Earth radius in metres (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres between two `(lat, lng)` points in degrees.
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let d_lat = lat2 - lat1;
    let d_lng = (b.1 - a.1).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Sine computed with basic arithmetic only, so it is identical on every platform.
fn portable_sin(x: f64) -> f64 {
    // Reduce to [-pi, pi]; the Taylor series below is accurate to ~1e-16 there.
    let x = x - TAU * (x / TAU).round();
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    for n in 1..=14 {
        let k = f64::from(2 * n);
        term *= -x2 / (k * (k + 1.0));
        sum += term;
    }
    sum
}

fn portable_cos(x: f64) -> f64 {
    portable_sin(x + PI / 2.0)
}

/// Degrees to radians with a fixed formula (std's `to_radians` is fine too, but
/// this keeps the whole path visibly portable).
fn radians(degrees: f64) -> f64 {
    degrees * (PI / 180.0)
}

/// Whether `b` lies within `limit_m` metres of `a`, computed portably.
///
/// Compares haversines (`sin²(θ/2)` is increasing on `[0, π]`), so no `asin` is needed.
/// NaN anywhere gives `false`.
fn portable_within(a: (f64, f64), b: (f64, f64), limit_m: f64) -> bool {
    let (lat1, lat2) = (radians(a.0), radians(b.0));
    let half_d_lat = portable_sin((lat2 - lat1) / 2.0);
    let half_d_lng = portable_sin(radians(b.1 - a.1) / 2.0);
    let h =
        half_d_lat * half_d_lat + portable_cos(lat1) * portable_cos(lat2) * half_d_lng * half_d_lng;
    let angle = limit_m / EARTH_RADIUS_M;
    if angle >= PI {
        return h.is_finite();
    }
    let limit = portable_sin(angle / 2.0);
    h <= limit * limit
}

/// Rounds degrees to 7 decimal places, as Google prints coordinates.
pub(crate) fn round7(degrees: f64) -> f64 {
    (degrees * 1e7).round() / 1e7
}

/// Wraps a longitude into `[-180, 180)`.
pub(crate) fn wrap_lng(lng: f64) -> f64 {
    (lng + 180.0).rem_euclid(360.0) - 180.0
}

/// A random point (rounded to 7 decimals) at most 95% of `radius_m` from `center`.
///
/// Draws with a flat-Earth offset, then keeps the first draw the portable
/// great-circle test accepts; near the poles, where the flat offset is poor,
/// several draws may be needed, and the rounded centre is the last resort
/// (within ~1 cm of the centre, so inside any radius of 1 m or more).
pub(crate) fn point_within(rng: &mut SplitMix64, center: (f64, f64), radius_m: f64) -> (f64, f64) {
    let metres_per_degree = EARTH_RADIUS_M * PI / 180.0;
    for _ in 0..16 {
        let distance = 0.9 * radius_m * rng.unit().sqrt();
        let bearing = TAU * rng.unit();
        let north = distance * portable_cos(bearing);
        let east = distance * portable_sin(bearing);
        let mut lat = center.0 + north / metres_per_degree;
        let mut lng = center.1 + east / (metres_per_degree * portable_cos(radians(center.0)));
        if lat > 90.0 {
            lat = 180.0 - lat;
            lng += 180.0;
        } else if lat < -90.0 {
            lat = -180.0 - lat;
            lng += 180.0;
        }
        let candidate = (round7(lat), round7(wrap_lng(lng)));
        if portable_within(center, candidate, 0.95 * radius_m) {
            return candidate;
        }
    }
    (round7(center.0), round7(center.1))
}

/// Open Location Code digits.
const OLC_ALPHABET: &[u8; 20] = b"23456789CFGHJMPQRVWX";

/// The 10-digit Open Location Code ("plus code", e.g. `85632HJ8+QJ`) of a point,
/// encoded with integer arithmetic after one scaling step (1/8000 degree cells).
pub(crate) fn plus_code(lat: f64, lng: f64) -> String {
    const CELLS_PER_DEGREE: f64 = 8000.0;
    let max_lat_cell = (180.0 * CELLS_PER_DEGREE) as i64 - 1;
    let lng_cells = (360.0 * CELLS_PER_DEGREE) as i64;
    // Float-to-int `as` saturates and maps NaN to 0, so no input can panic here.
    let mut lat_cell = (((lat + 90.0) * CELLS_PER_DEGREE).floor() as i64).clamp(0, max_lat_cell);
    let mut lng_cell = (((lng + 180.0) * CELLS_PER_DEGREE).floor() as i64).rem_euclid(lng_cells);
    let mut pairs = [(0u8, 0u8); 5];
    for pair in pairs.iter_mut().rev() {
        // Both remainders are in 0..20, so the casts and the indexing are in range.
        let lat_digit = OLC_ALPHABET[(lat_cell % 20) as usize];
        let lng_digit = OLC_ALPHABET[(lng_cell % 20) as usize];
        *pair = (lat_digit, lng_digit);
        lat_cell /= 20;
        lng_cell /= 20;
    }
    let mut code = String::with_capacity(11);
    for (index, (lat_digit, lng_digit)) in pairs.iter().enumerate() {
        if index == 4 {
            code.push('+');
        }
        code.push(char::from(*lat_digit));
        code.push(char::from(*lng_digit));
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_trig_matches_std_closely() {
        for i in -100..=100 {
            let x = f64::from(i) * 0.1;
            assert!((portable_sin(x) - x.sin()).abs() < 1e-14, "sin {x}");
            assert!((portable_cos(x) - x.cos()).abs() < 1e-14, "cos {x}");
        }
    }

    #[test]
    fn haversine_of_a_known_pair() {
        // UCLA to Santa Monica Pier is about 9.3 km.
        let d = haversine_m((34.068930, -118.445127), (34.0092, -118.4976));
        assert!((8_000.0..10_000.0).contains(&d), "{d}");
    }

    #[test]
    fn plus_codes_of_known_places() {
        // The Open Location Code reference example (Zürich).
        assert_eq!(plus_code(47.365590, 8.524997), "8FVC9G8F+6X");
        // Extremes stay in the alphabet and never panic.
        assert_eq!(plus_code(90.0, 180.0), "C2X2X2X2+X2");
        assert_eq!(plus_code(-90.0, -180.0), "22222222+22");
    }

    #[test]
    fn points_stay_inside_even_at_the_poles() {
        let mut rng = SplitMix64::new(1);
        for center in [
            (90.0, 0.0),
            (89.99, 10.0),
            (-89.9, 179.9),
            (0.0, 179.9999),
            (34.0, -118.0),
        ] {
            for radius in [1.0, 50.0, 5_000.0, 50_000.0] {
                for _ in 0..50 {
                    let p = point_within(&mut rng, center, radius);
                    assert!(
                        haversine_m(center, p) <= radius,
                        "{center:?} {radius} {p:?}"
                    );
                    assert!((-90.0..=90.0).contains(&p.0) && (-180.0..=180.0).contains(&p.1));
                }
            }
        }
    }
}
