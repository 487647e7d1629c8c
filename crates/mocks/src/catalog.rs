//! The fixed word lists that synthetic places are assembled from.
//!
//! Names and addresses deliberately include non-ASCII letters, quotes and a
//! backslash so that servers relaying the JSON have escapes to get right.

/// A kind of place: its Google types, map icon and candidate names.
#[derive(Debug)]
pub(crate) struct Category {
    /// Google place types, most specific first.
    pub(crate) types: &'static [&'static str],
    /// `icon` URL.
    pub(crate) icon: &'static str,
    /// `icon_background_color`.
    pub(crate) background: &'static str,
    /// `icon_mask_base_uri`.
    pub(crate) pinlet: &'static str,
    /// Whether Google gives this kind a `price_level`.
    pub(crate) priced: bool,
    pub(crate) names: &'static [&'static str],
}

macro_rules! icon {
    ($file:literal) => {
        concat!(
            "https://maps.gstatic.com/mapfiles/place_api/icons/v1/png_71/",
            $file
        )
    };
}
macro_rules! pinlet {
    ($file:literal) => {
        concat!(
            "https://maps.gstatic.com/mapfiles/place_api/icons/v2/",
            $file
        )
    };
}

/// Every category a synthetic place can have.
pub(crate) const CATEGORIES: &[Category] = &[
    Category {
        types: &["restaurant", "food", "point_of_interest", "establishment"],
        icon: icon!("restaurant-71.png"),
        background: "#FF9E67",
        pinlet: pinlet!("restaurant_pinlet"),
        priced: true,
        names: &[
            "Taquería El Güero",
            "Trattoria Sant'Ambrogio",
            "Phở Hòa",
            "Ramen 一風堂",
            "Sunset Grill",
            "Le Petit Bistro",
            "Smörgås Chef",
        ],
    },
    Category {
        types: &[
            "cafe",
            "food",
            "point_of_interest",
            "store",
            "establishment",
        ],
        icon: icon!("cafe-71.png"),
        background: "#FF9E67",
        pinlet: pinlet!("cafe_pinlet"),
        priced: true,
        names: &[
            "Café Lumière",
            "Kaffeehaus Müller",
            "Blue Bottle Coffee",
            "Kiwi Espresso",
        ],
    },
    Category {
        types: &["bar", "point_of_interest", "establishment"],
        icon: icon!("bar-71.png"),
        background: "#FF9E67",
        pinlet: pinlet!("bar_pinlet"),
        priced: true,
        names: &["The Rusty Anchor", "Bodega Añeja", "Piwnica pod Baranami"],
    },
    Category {
        types: &["lodging", "point_of_interest", "establishment"],
        icon: icon!("lodging-71.png"),
        background: "#909CE1",
        pinlet: pinlet!("hotel_pinlet"),
        priced: false,
        names: &[
            "Hôtel du Parc",
            "Westwood Inn",
            "Ryokan さくら",
            "Grand Hotel Øresund",
        ],
    },
    Category {
        types: &["book_store", "store", "point_of_interest", "establishment"],
        icon: icon!("shopping-71.png"),
        background: "#4B96F3",
        pinlet: pinlet!("shopping_pinlet"),
        priced: false,
        names: &[
            "Librería Ñandú",
            "Bücherstube am Markt",
            "Powell's Corner Books",
        ],
    },
    Category {
        types: &[
            "park",
            "tourist_attraction",
            "point_of_interest",
            "establishment",
        ],
        icon: icon!("park-71.png"),
        background: "#4DB546",
        pinlet: pinlet!("tree_pinlet"),
        priced: false,
        names: &["Jardín Botánico", "Riverside Park", "Parc de la Tête d'Or"],
    },
    Category {
        types: &[
            "museum",
            "tourist_attraction",
            "point_of_interest",
            "establishment",
        ],
        icon: icon!("museum-71.png"),
        background: "#13B5C7",
        pinlet: pinlet!("museum_pinlet"),
        priced: false,
        names: &["Musée d'Art Moderne", "Fowler Museum", "Muzeum Narodowe"],
    },
    Category {
        types: &["university", "point_of_interest", "establishment"],
        icon: icon!("school-71.png"),
        background: "#7B9EB0",
        pinlet: pinlet!("school_pinlet"),
        priced: false,
        names: &["Royce Hall", "Powell Library", "Hörsaalgebäude Süd"],
    },
    Category {
        types: &["point_of_interest", "establishment"],
        icon: icon!("generic_business-71.png"),
        background: "#7B9EB0",
        pinlet: pinlet!("generic_pinlet"),
        priced: false,
        names: &[
            "Dr. Åsa Lindqvist, DDS",
            "Kiwi Laundromat",
            "Zoë's Hair Studio",
        ],
    },
];

/// Names with a double quote or a backslash, given to the second place of every
/// answer; each is paired with the index of its category in [`CATEGORIES`].
pub(crate) const TRICKY_NAMES: &[(&str, usize)] = &[
    ("Joe's \"Famous\" Diner", 0),
    ("Back\\Slash Books", 4),
    ("Bar \"El Sótano\"", 2),
    ("C:\\Users\\Café", 1),
];

pub(crate) const STREETS: &[&str] = &[
    "Westwood Plaza",
    "Rue de l'Église",
    "Straße des 17. Juni",
    "Calle de Año Nuevo",
    "Via dell'Orso",
    "ulica Świętokrzyska",
    "Main Street",
    "Sunset Boulevard",
    "Kärntner Straße",
    "Avenida São João",
];

/// Localities as Google writes them after the short plus code (the text before
/// the first comma is the city used in `vicinity`), with the city's position: a
/// search is given the locality nearest to it, so UCLA's places are in Los Angeles.
pub(crate) const LOCALITIES: &[(&str, f64, f64)] = &[
    ("Los Angeles, California", 34.05, -118.24),
    ("Zürich, Switzerland", 47.37, 8.54),
    ("São Paulo, State of São Paulo, Brazil", -23.55, -46.63),
    ("Kraków, Poland", 50.06, 19.94),
    ("Montréal, Quebec, Canada", 45.50, -73.57),
    ("Reykjavík, Iceland", 64.15, -21.94),
    ("Köln, Germany", 50.94, 6.96),
    ("Sydney, New South Wales, Australia", -33.87, 151.21),
];

/// Photo contributors.
pub(crate) const AUTHORS: &[&str] = &["María José", "Jürgen Weiß", "李雷", "Seán O'Brien", "Ana"];

/// Prefix of the extra line that some `vicinity` values carry before the
/// street address, separated by a blank line (`"\n\n"` inside the JSON string).
pub(crate) const BUILDING_PREFIXES: &[&str] = &["Building B", "Ground floor", "Unit 4"];

/// base64url characters, as Google's opaque ids use.
pub(crate) const TOKEN_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
