//! Renders JSON the way Google's legacy Maps web services lay it out.
//!
//! The legacy Places Nearby Search answer (and therefore the body of a WHATSAT
//! reply) uses a layout that no common JSON library produces: a 3-space indent,
//! `"key" : value` with a space on both sides of the colon, and arrays of scalars
//! kept on one line as `[ "a", "b" ]`. [`to_google_string`] reproduces it.

use serde_json::Value;

/// Spaces added per nesting level.
const INDENT: &str = "   ";

/// Renders `value` in Google's legacy layout.
///
/// Rules:
/// - 3-space indent per level; object members one per line as `"key" : value`,
///   in the map's order (the workspace enables serde_json's `preserve_order`);
/// - `{}` and `[]` for an empty object or array;
/// - an array of scalars only (string, number, bool, null) on one line:
///   `[ "bar", "restaurant" ]`;
/// - an array holding any object or array: one element after another on their own
///   indented lines, separated by `,`, the closing `]` at the parent's indent;
/// - strings escaped and numbers printed as serde_json does;
/// - no trailing newline.
///
/// ```
/// let value = serde_json::json!({"status": "OK", "types": ["bar", "cafe"]});
/// assert_eq!(
///     herd_wire::google_json::to_google_string(&value),
///     "{\n   \"status\" : \"OK\",\n   \"types\" : [ \"bar\", \"cafe\" ]\n}"
/// );
/// ```
pub fn to_google_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

/// Appends `value` to `out`; `depth` is the nesting level of the line the value starts on.
fn write_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Object(members) if members.is_empty() => out.push_str("{}"),
        Value::Object(members) => {
            out.push_str("{\n");
            for (index, (key, member)) in members.iter().enumerate() {
                if index > 0 {
                    out.push_str(",\n");
                }
                push_indent(out, depth + 1);
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(" : ");
                write_value(out, member, depth + 1);
            }
            out.push('\n');
            push_indent(out, depth);
            out.push('}');
        }
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) if items.iter().all(is_scalar) => {
            out.push_str("[ ");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                out.push_str(&item.to_string());
            }
            out.push_str(" ]");
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(",\n");
                }
                push_indent(out, depth + 1);
                write_value(out, item, depth + 1);
            }
            out.push('\n');
            push_indent(out, depth);
            out.push(']');
        }
        // `Display` of a scalar `Value` is serde_json's compact serialisation.
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Whether `value` is a string, number, bool or null.
fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Object(_) | Value::Array(_))
}

fn push_indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str(INDENT);
    }
}

#[cfg(test)]
mod tests {
    use super::to_google_string;
    use serde_json::json;

    #[test]
    fn scalars_render_as_serde_json_does() {
        assert_eq!(to_google_string(&json!(null)), "null");
        assert_eq!(to_google_string(&json!(true)), "true");
        assert_eq!(to_google_string(&json!(42)), "42");
        assert_eq!(to_google_string(&json!(-118.4451276)), "-118.4451276");
        assert_eq!(to_google_string(&json!(4.0)), "4.0");
        assert_eq!(to_google_string(&json!("Royce Hall")), "\"Royce Hall\"");
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let value = json!({"vicinity": "Joe's \"Diner\"\\Back\n\nCafé\u{1}"});
        assert_eq!(
            to_google_string(&value),
            "{\n   \"vicinity\" : \"Joe's \\\"Diner\\\"\\\\Back\\n\\nCafé\\u0001\"\n}"
        );
    }

    #[test]
    fn keys_are_escaped_too() {
        let value = json!({"a\"b": 1});
        assert_eq!(to_google_string(&value), "{\n   \"a\\\"b\" : 1\n}");
    }

    #[test]
    fn empty_object_and_array_stay_on_one_line() {
        assert_eq!(to_google_string(&json!({})), "{}");
        assert_eq!(to_google_string(&json!([])), "[]");
        let value = json!({"html_attributions": [], "extra": {}});
        assert_eq!(
            to_google_string(&value),
            "{\n   \"html_attributions\" : [],\n   \"extra\" : {}\n}"
        );
    }

    #[test]
    fn object_members_one_per_line_with_spaced_colon() {
        let value = json!({"lat": 34.0689254, "lng": -118.4451276});
        assert_eq!(
            to_google_string(&value),
            "{\n   \"lat\" : 34.0689254,\n   \"lng\" : -118.4451276\n}"
        );
    }

    #[test]
    fn keys_keep_insertion_order() {
        let value = json!({"status": "OK", "html_attributions": [], "results": []});
        assert_eq!(
            to_google_string(&value),
            "{\n   \"status\" : \"OK\",\n   \"html_attributions\" : [],\n   \"results\" : []\n}"
        );
    }

    #[test]
    fn nested_objects_indent_three_spaces_per_level() {
        let value = json!({"a": {"b": {"c": 1}}});
        assert_eq!(
            to_google_string(&value),
            "{\n   \"a\" : {\n      \"b\" : {\n         \"c\" : 1\n      }\n   }\n}"
        );
    }

    #[test]
    fn array_of_scalars_goes_on_one_line() {
        let value = json!({"types": ["bar", "restaurant"], "mixed": [1, "x", null, false]});
        assert_eq!(
            to_google_string(&value),
            "{\n   \"types\" : [ \"bar\", \"restaurant\" ],\n   \"mixed\" : [ 1, \"x\", null, false ]\n}"
        );
        assert_eq!(to_google_string(&json!(["solo"])), "[ \"solo\" ]");
    }

    #[test]
    fn array_with_an_object_goes_one_element_per_line() {
        let value = json!({"results": [{"name": "A"}, {"name": "B"}]});
        assert_eq!(
            to_google_string(&value),
            "{\n   \"results\" : [\n      {\n         \"name\" : \"A\"\n      },\n      {\n         \"name\" : \"B\"\n      }\n   ]\n}"
        );
    }

    #[test]
    fn array_mixing_scalars_and_containers_goes_one_element_per_line() {
        let value = json!([1, [2, 3], {}, []]);
        assert_eq!(
            to_google_string(&value),
            "[\n   1,\n   [ 2, 3 ],\n   {},\n   []\n]"
        );
    }

    #[test]
    fn no_trailing_newline() {
        assert!(!to_google_string(&json!({"status": "OK"})).ends_with('\n'));
        assert!(!to_google_string(&json!([{"a": 1}])).ends_with('\n'));
    }

    #[test]
    fn the_documented_example_renders_exactly() {
        let value = json!({
            "html_attributions": [],
            "results": [{
                "geometry": {"location": {"lat": 34.0689254, "lng": -118.4451276}},
                "name": "Royce Hall",
                "types": ["point_of_interest", "establishment"]
            }],
            "status": "OK"
        });
        let expected = r#"{
   "html_attributions" : [],
   "results" : [
      {
         "geometry" : {
            "location" : {
               "lat" : 34.0689254,
               "lng" : -118.4451276
            }
         },
         "name" : "Royce Hall",
         "types" : [ "point_of_interest", "establishment" ]
      }
   ],
   "status" : "OK"
}"#;
        assert_eq!(to_google_string(&value), expected);
    }
}
