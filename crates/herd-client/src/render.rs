//! Pretty output: the AT reply as labelled fields, the places as a table. Colour goes through
//! `anstream`, which drops it when stdout is not a terminal or `NO_COLOR` is set.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, TableComponent, presets};
use herd_wire::AtLine;
use serde_json::Value;

use crate::human;
use crate::places::{Place, places, problem};
use crate::target::Target;

/// Field labels.
pub const LABEL: Style = Style::new().bold();
/// The AT line as received, shown above its fields.
pub const MUTED: Style = Style::new().dimmed();
/// Something the reader should notice (a Places status that is not OK).
pub const WARN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
/// Errors.
pub const ERROR: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));

fn field(out: &mut dyn Write, label: &str, value: &str) -> io::Result<()> {
    writeln!(out, "{LABEL}{label:<15}{LABEL:#}{value}")
}

/// The AT reply as labelled fields.
pub fn at_summary(out: &mut dyn Write, at: &AtLine, target: &Target) -> io::Result<()> {
    writeln!(
        out,
        "{MUTED}{}{MUTED:#}",
        String::from_utf8_lossy(at.as_bytes())
    )?;
    field(out, "asked", &target.describe())?;
    field(out, "server", at.server())?;
    field(
        out,
        "clock skew",
        &format!(
            "{}  (server receive time − client time)",
            human::signed_duration(at.diff())
        ),
    )?;
    field(out, "client", &String::from_utf8_lossy(at.client()))?;
    field(out, "position", &human::degrees(&at.position()))?;
    field(out, "client time", &human::utc(at.time()))
}

/// A table with the common look.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_NO_BORDERS)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(Cell::new));
    // Rows are single lines, so lines between them only add noise.
    table
        .remove_style(TableComponent::HorizontalLines)
        .remove_style(TableComponent::MiddleIntersections)
        .remove_style(TableComponent::LeftBorderIntersections)
        .remove_style(TableComponent::RightBorderIntersections);
    table
}

/// The WHATSAT summary's second half: the Places status when not OK, then the places table.
pub fn places_table(out: &mut dyn Write, at: &AtLine, json: &Value) -> io::Result<()> {
    if let Some(problem) = problem(json) {
        field(out, "places status", &format!("{WARN}{problem}{WARN:#}"))?;
    }
    let places = places(json);
    if places.is_empty() {
        return field(out, "places", "none");
    }
    field(out, "places", &places.len().to_string())?;
    let client = (at.position().lat(), at.position().lng());
    let mut table = table(&["#", "name", "distance", "rating", "vicinity", "types"]);
    for (n, place) in places.iter().enumerate() {
        table.add_row(row(n + 1, place, client));
    }
    for column in [0, 2, 3] {
        if let Some(column) = table.column_mut(column) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    writeln!(out, "{}", table.trim_fmt())
}

fn row(n: usize, place: &Place, client: (f64, f64)) -> Vec<String> {
    vec![
        n.to_string(),
        one_line(&place.name),
        place
            .location
            .map(|at| human::distance(crate::geo::distance_m(client, at)))
            .unwrap_or_else(|| "?".to_owned()),
        place
            .rating
            .map(|r| format!("{r:.1}"))
            .unwrap_or_else(|| "-".to_owned()),
        one_line(&place.vicinity),
        place.types.join(", "),
    ]
}

/// Cell text on one line: runs of white space (addresses may hold newlines) become one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
