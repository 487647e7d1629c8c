//! Great-circle distance, for the distance column of the places table.

/// Mean Earth radius in metres (IUGG), the figure Google's own samples use.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Haversine distance in metres between two `(lat, lng)` points in degrees.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let d_lat = lat2 - lat1;
    let d_lng = (b.1 - a.1).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let d = distance_m((34.0, -118.0), (35.0, -118.0));
        assert!((d - 111_195.0).abs() < 10.0, "{d}");
        assert_eq!(distance_m((1.0, 2.0), (1.0, 2.0)), 0.0);
    }
}
