//! How many places the stand-in knows around a point, and where it knows none.

/// A region where the stand-in knows no places at all.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ZeroResultsArea {
    /// Every search whose centre lies strictly south of this latitude is empty.
    pub south_of_latitude: f64,
    /// A `(lat, lng)` inside the area, handy for tests: near Concordia Station, Antarctica.
    pub example: (f64, f64),
}

impl ZeroResultsArea {
    /// Whether a search centred on `(lat, lng)` finds nothing.
    pub fn contains(&self, lat: f64, _lng: f64) -> bool {
        lat < self.south_of_latitude
    }
}

/// The empty area: any search centred south of 60°S (Antarctica and the
/// Southern Ocean) answers `ZERO_RESULTS` (legacy) or `{}` (Places API New),
/// whatever the radius. Only the centre counts, not the circle.
pub const ZERO_RESULTS_AREA: ZeroResultsArea = ZeroResultsArea {
    south_of_latitude: -60.0,
    example: (-75.1, 123.35),
};

/// Candidates per started 250 m of radius.
const METRES_PER_CANDIDATE: f64 = 250.0;

/// Google never offers more than 60 places (three pages of 20) for one search.
pub const MAX_CANDIDATES: usize = 60;

/// How many places the stand-in knows within `radius_m` metres of `(lat, lng)`.
///
/// `0` in [`ZERO_RESULTS_AREA`], for a radius below 1 m, or for non-finite input;
/// otherwise `ceil(radius_m / 250)` capped at [`MAX_CANDIDATES`]: 1 up to 250 m,
/// exactly 20 at 5 000 m, 21 (so a `next_page_token`) just above, 40 at 10 km,
/// 60 from 14 750 m on.
pub fn candidate_count(lat: f64, lng: f64, radius_m: f64) -> usize {
    if !(lat.is_finite() && lng.is_finite() && radius_m.is_finite())
        || radius_m < 1.0
        || ZERO_RESULTS_AREA.contains(lat, lng)
    {
        return 0;
    }
    let wanted = (radius_m / METRES_PER_CANDIDATE).ceil();
    if wanted >= MAX_CANDIDATES as f64 {
        MAX_CANDIDATES
    } else {
        // 1 <= wanted < 60 here, so the cast is exact.
        wanted as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_grow_with_radius() {
        assert_eq!(candidate_count(34.0, -118.0, 0.5), 0);
        assert_eq!(candidate_count(34.0, -118.0, 1.0), 1);
        assert_eq!(candidate_count(34.0, -118.0, 250.0), 1);
        assert_eq!(candidate_count(34.0, -118.0, 251.0), 2);
        assert_eq!(candidate_count(34.0, -118.0, 5_000.0), 20);
        assert_eq!(candidate_count(34.0, -118.0, 5_001.0), 21);
        assert_eq!(candidate_count(34.0, -118.0, 50_000.0), 60);
    }

    #[test]
    fn the_empty_area_is_empty() {
        let (lat, lng) = ZERO_RESULTS_AREA.example;
        assert!(ZERO_RESULTS_AREA.contains(lat, lng));
        assert_eq!(candidate_count(lat, lng, 50_000.0), 0);
        assert_eq!(candidate_count(-60.0, 0.0, 50_000.0), 60);
        assert_eq!(candidate_count(f64::NAN, 0.0, 50_000.0), 0);
    }
}
