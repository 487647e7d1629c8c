//! Synthetic places: the deterministic candidates behind every answer.

use crate::area::candidate_count;
use crate::catalog::{
    AUTHORS, BUILDING_PREFIXES, CATEGORIES, Category, LOCALITIES, STREETS, TOKEN_ALPHABET,
    TRICKY_NAMES,
};
use crate::geo::{plus_code, point_within, round7, wrap_lng};
use crate::rng::{SplitMix64, seed_from};

/// One photo of a place.
#[derive(Clone, Debug)]
pub(crate) struct Photo {
    pub(crate) height: u32,
    pub(crate) width: u32,
    pub(crate) author: &'static str,
    /// 21-digit Maps contributor number, as in Google's attribution links.
    pub(crate) contributor_id: String,
    pub(crate) reference: String,
}

/// One synthetic place, with everything either API needs to describe it.
#[derive(Clone, Debug)]
pub(crate) struct Place {
    pub(crate) name: String,
    pub(crate) category: &'static Category,
    pub(crate) lat: f64,
    pub(crate) lng: f64,
    /// `(northeast, southwest)` corners.
    pub(crate) viewport: ((f64, f64), (f64, f64)),
    pub(crate) place_id: String,
    pub(crate) business_status: &'static str,
    pub(crate) open_now: Option<bool>,
    pub(crate) photo: Option<Photo>,
    pub(crate) global_code: String,
    pub(crate) compound_code: String,
    pub(crate) price_level: Option<u8>,
    /// Rating in tenths of a star, 30..=50.
    pub(crate) rating_tenths: u32,
    pub(crate) user_ratings_total: u32,
    /// Legacy `vicinity`; a few carry an extra line separated by `"\n\n"`.
    pub(crate) vicinity: String,
    /// Places API (New) `formattedAddress`, always one line.
    pub(crate) formatted_address: String,
    pub(crate) short_address: String,
    pub(crate) maps_cid: u64,
}

impl Place {
    /// The rating as Google prints it: `4` for whole stars, `4.3` otherwise.
    pub(crate) fn rating_json(&self) -> serde_json::Value {
        if self.rating_tenths.is_multiple_of(10) {
            serde_json::Value::from(self.rating_tenths / 10)
        } else {
            serde_json::Value::from(f64::from(self.rating_tenths) / 10.0)
        }
    }
}

/// All candidates of one search, plus the seed-derived page token.
#[derive(Clone, Debug)]
pub(crate) struct SearchArea {
    pub(crate) places: Vec<Place>,
    pub(crate) page_token: String,
}

/// Position of the place whose name always contains a quote or a backslash.
const TRICKY_NAME_INDEX: usize = 1;
/// Position of the place whose `vicinity` always contains `"\n\n"`.
const TWO_LINE_VICINITY_INDEX: usize = 3;

/// Builds every candidate for a search, the same way on every run and platform.
///
/// The seed hashes the centre rounded to 1e-6 degree and the radius rounded to
/// a millimetre; the locality hashes the centre rounded to a whole degree so that
/// neighbouring searches agree on the town.
pub(crate) fn search_area(lat: f64, lng: f64, radius_m: f64) -> SearchArea {
    let count = candidate_count(lat, lng, radius_m);
    // `as` saturates and maps NaN to 0; inputs reaching here are finite anyway.
    let mut rng = SplitMix64::new(seed_from(&[
        (lat * 1e6).round() as i64,
        (lng * 1e6).round() as i64,
        (radius_m * 1e3).round() as i64,
    ]));
    let locality = nearest_locality(lat, lng);
    let city = locality.split(',').next().unwrap_or(locality);
    let page_token = format!("Aap_uE{}", rng.token(TOKEN_ALPHABET, 150));
    let places = (0..count)
        .map(|index| make_place(&mut rng, index, (lat, lng), radius_m, locality, city))
        .collect();
    SearchArea { places, page_token }
}

/// The locality whose city is nearest to `(lat, lng)`, by a flat-map distance in degrees:
/// plain arithmetic (no platform trigonometry), so the choice is the same everywhere.
fn nearest_locality(lat: f64, lng: f64) -> &'static str {
    let flat_distance = |(_, city_lat, city_lng): &(&str, f64, f64)| {
        let d_lng = (lng - city_lng + 540.0).rem_euclid(360.0) - 180.0;
        (lat - city_lat).powi(2) + d_lng.powi(2)
    };
    LOCALITIES
        .iter()
        .min_by(|a, b| flat_distance(a).total_cmp(&flat_distance(b)))
        .map_or("Los Angeles, California", |(name, _, _)| name)
}

fn make_place(
    rng: &mut SplitMix64,
    index: usize,
    center: (f64, f64),
    radius_m: f64,
    locality: &str,
    city: &str,
) -> Place {
    let (name, category) = if index == TRICKY_NAME_INDEX {
        let (name, category) = TRICKY_NAMES[rng.index(TRICKY_NAMES.len())];
        (name.to_string(), &CATEGORIES[category])
    } else {
        let category = &CATEGORIES[rng.index(CATEGORIES.len())];
        (
            category.names[rng.index(category.names.len())].to_string(),
            category,
        )
    };
    let (lat, lng) = point_within(rng, center, radius_m);
    let north = 0.0012 + 0.0003 * rng.unit();
    let east = 0.0012 + 0.0003 * rng.unit();
    let viewport = (
        (
            round7((lat + north).min(90.0)),
            round7(wrap_lng(lng + east)),
        ),
        (
            round7((lat - north).max(-90.0)),
            round7(wrap_lng(lng - east)),
        ),
    );
    let place_id = format!("ChIJ{}", rng.token(TOKEN_ALPHABET, 23));
    let business_status = if rng.chance(1, 12) {
        "CLOSED_TEMPORARILY"
    } else {
        "OPERATIONAL"
    };
    let open_now = (business_status == "OPERATIONAL" && rng.chance(3, 4)).then(|| rng.chance(1, 2));
    let photo = rng.chance(2, 3).then(|| {
        let landscape = rng.chance(1, 2);
        Photo {
            height: if landscape { 3024 } else { 4032 },
            width: if landscape { 4032 } else { 3024 },
            author: AUTHORS[rng.index(AUTHORS.len())],
            contributor_id: format!("10{:019}", rng.below(10_000_000_000_000_000_000)),
            reference: format!("AUjq9j{}", rng.token(TOKEN_ALPHABET, 120)),
        }
    });
    let global_code = plus_code(lat, lng);
    let compound_code = format!("{} {locality}", global_code.get(4..).unwrap_or(""));
    // `below(3) + 1` is 1..=3, which fits a u8.
    let price_level = (category.priced && rng.chance(1, 2)).then(|| (rng.below(3) + 1) as u8);
    // 30..=50 and 1..=3000 fit a u32.
    let rating_tenths = 30 + rng.below(21) as u32;
    let user_ratings_total = 1 + rng.below(3000) as u32;
    let street = STREETS[rng.index(STREETS.len())];
    let number = 1 + rng.below(999);
    let street_address = format!("{number} {street}");
    let vicinity = if index == TWO_LINE_VICINITY_INDEX {
        let building = BUILDING_PREFIXES[rng.index(BUILDING_PREFIXES.len())];
        format!("{building}\n\n{street_address}, {city}")
    } else {
        format!("{street_address}, {city}")
    };
    Place {
        name,
        category,
        lat,
        lng,
        viewport,
        place_id,
        business_status,
        open_now,
        photo,
        global_code,
        compound_code,
        price_level,
        rating_tenths,
        user_ratings_total,
        vicinity,
        formatted_address: format!("{street_address}, {locality}"),
        short_address: format!("{street_address}, {city}"),
        maps_cid: rng.next_u64() >> 1,
    }
}

#[cfg(test)]
mod locality_tests {
    use super::nearest_locality;

    #[test]
    fn a_search_gets_the_nearest_city() {
        assert_eq!(
            nearest_locality(34.068930, -118.445127),
            "Los Angeles, California"
        );
        assert_eq!(
            nearest_locality(-33.86, 151.20),
            "Sydney, New South Wales, Australia"
        );
        assert_eq!(nearest_locality(47.0, 8.0), "Zürich, Switzerland");
        // Across the date line, -179° is next to Sydney's side of the map, not Los Angeles'.
        assert_eq!(
            nearest_locality(-33.0, -179.0),
            "Sydney, New South Wales, Australia"
        );
    }
}
