//! `--json`: the parsed AT line as a JSON object, for scripts.

use herd_wire::{AtLine, fields};
use serde_json::{Value, json};

use crate::human;

/// The `n`th field of the AT line, as the server wrote it.
fn field(at: &AtLine, n: usize) -> String {
    fields::split(at.as_bytes())
        .nth(n)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .unwrap_or_default()
}

/// Every field of the AT line, in wire form and parsed.
pub fn at_object(at: &AtLine) -> Value {
    json!({
        "line": String::from_utf8_lossy(at.as_bytes()),
        "server": at.server(),
        "skew": field(at, 2),
        "skew_ns": i64::try_from(at.diff().as_nanos()).ok(),
        "skew_human": human::signed_duration(at.diff()),
        "client": String::from_utf8_lossy(at.client()),
        "position": at.position().as_str(),
        "latitude": at.position().lat(),
        "longitude": at.position().lng(),
        "client_time": field(at, 5),
        "client_time_utc": human::rfc3339(at.time()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_wire_text_beside_parsed_values() {
        let at = AtLine::parse(b"AT Riley -1.5 kiwi +34.068930-118.445127 1621464827.959498503")
            .unwrap();
        let object = at_object(&at);
        assert_eq!(object["skew"], "-1.5");
        assert_eq!(object["skew_ns"], -1_500_000_000i64);
        assert_eq!(object["skew_human"], "-1.500 s");
        assert_eq!(object["latitude"], 34.06893);
        assert_eq!(object["client_time"], "1621464827.959498503");
        assert_eq!(object["client_time_utc"], "2021-05-19T22:53:47.959498503Z");
    }
}
