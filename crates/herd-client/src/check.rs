//! Operands checked before anything is sent, so a typo gets a precise message instead of a `?`.

use herd_wire::{Bound, ClientTime, Position, Radius, fields};

/// A client ID is one word: any run of characters that are not white space.
pub fn client_id(client: &str) -> Result<(), String> {
    if client.is_empty() {
        return Err("the client ID is empty; give a word like kiwi.cs.ucla.edu".to_owned());
    }
    if client.bytes().any(fields::is_space) {
        return Err(format!(
            "the client ID `{client}` contains white space; it must be one word"
        ));
    }
    Ok(())
}

/// The IAMAT position, ISO 6709.
pub fn position(text: &str) -> Result<Position, String> {
    Position::parse(text.as_bytes()).map_err(|e| format!("invalid position `{text}`: {e}"))
}

/// `--time`, or now with nanoseconds.
pub fn client_time(time: Option<&str>) -> Result<String, String> {
    match time {
        Some(text) => ClientTime::parse(text.as_bytes())
            .map(|_| text.to_owned())
            .map_err(|e| format!("invalid --time `{text}`: {e}")),
        None => Ok(ClientTime::now().to_wire()),
    }
}

/// WHATSAT's radius, at most 50 km.
pub fn radius(text: &str) -> Result<Radius, String> {
    Radius::parse(text.as_bytes()).map_err(|e| format!("invalid radius `{text}`: {e}"))
}

/// WHATSAT's bound, at most 20 places.
pub fn bound(text: &str) -> Result<Bound, String> {
    Bound::parse(text.as_bytes()).map_err(|e| format!("invalid bound `{text}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_operand_and_the_rule() {
        assert_eq!(
            radius("51").unwrap_err(),
            "invalid radius `51`: the radius must be at most 50 km"
        );
        assert_eq!(
            bound("21").unwrap_err(),
            "invalid bound `21`: the bound must be at most 20 places"
        );
        assert!(
            position("34-118")
                .unwrap_err()
                .starts_with("invalid position `34-118`: ")
        );
        assert!(
            client_time(Some("1e9"))
                .unwrap_err()
                .starts_with("invalid --time `1e9`")
        );
        assert!(client_id("a b").is_err());
        assert!(client_id("").is_err());
        assert!(client_id("kiwi.cs.ucla.edu").is_ok());
        assert!(ClientTime::parse(client_time(None).unwrap().as_bytes()).is_ok());
    }
}
