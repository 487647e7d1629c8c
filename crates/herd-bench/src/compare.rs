//! `--compare`: the herds' figures side by side, named A, B, C, … in the order given, with each
//! herd's ratio to A (the first herd, usually the reference). One table for the terminal, one
//! JSON object for `--json`.

use std::fmt::Write as _;

use crate::report::{Report, ms};
use crate::stats::Percentiles;

/// The name of the herd at `side`: A, B, … Z, then H27, H28, ….
pub fn letter(side: usize) -> String {
    match u8::try_from(side) {
        Ok(n) if n < 26 => char::from(b'A' + n).to_string(),
        _ => format!("H{}", side + 1),
    }
}

/// X / A, or None when either is missing or A is zero.
pub fn ratio(a: Option<f64>, x: Option<f64>) -> Option<f64> {
    match (a, x) {
        (Some(a), Some(x)) if a > 0.0 => Some(x / a),
        _ => None,
    }
}

/// One row of the comparison: every herd's figure (`None`: nothing was measured), and whether
/// it is a latency in µs.
struct Row {
    name: &'static str,
    values: Vec<Option<f64>>,
    latency: bool,
}

/// A latency percentile, or `None` when its histogram is empty.
pub fn pick(p: &Percentiles, f: fn(&Percentiles) -> u64) -> Option<f64> {
    (p.count > 0).then(|| f(p) as f64)
}

fn rows(reports: &[Report]) -> Vec<Row> {
    let each = |f: &dyn Fn(&Report) -> Option<f64>| reports.iter().map(f).collect::<Vec<_>>();
    let p50: fn(&Percentiles) -> u64 = |p| p.p50_us;
    let p99: fn(&Percentiles) -> u64 = |p| p.p99_us;
    let row = |name, values, latency| Row {
        name,
        values,
        latency,
    };
    let mut rows = vec![
        row(
            "throughput (replies/s)",
            each(&|r| Some(r.rate.replies_per_s)),
            false,
        ),
        row(
            "IAMAT p50",
            each(&|r| pick(&r.iamat.all.latency, p50)),
            true,
        ),
        row(
            "IAMAT p99",
            each(&|r| pick(&r.iamat.all.latency, p99)),
            true,
        ),
    ];
    if reports.iter().any(|r| r.whatsat.all.sent > 0) {
        rows.push(row(
            "WHATSAT p50",
            each(&|r| pick(&r.whatsat.all.latency, p50)),
            true,
        ));
        rows.push(row(
            "WHATSAT p99",
            each(&|r| pick(&r.whatsat.all.latency, p99)),
            true,
        ));
    }
    if reports.iter().any(|r| r.propagation.probes.started > 0) {
        rows.push(row(
            "convergence p50",
            each(&|r| pick(&r.propagation.convergence, p50)),
            true,
        ));
        rows.push(row(
            "convergence p99",
            each(&|r| pick(&r.propagation.convergence, p99)),
            true,
        ));
        rows.push(row(
            "lost probes",
            each(&|r| Some(r.propagation.probes.lost as f64)),
            false,
        ));
    }
    rows
}

/// The side-by-side table printed after a `--compare` run; `-` where a herd measured nothing.
/// Columns: every herd's figure, then every other herd's ratio to A.
pub fn table(reports: &[Report]) -> String {
    let herds: Vec<String> = (0..reports.len()).map(letter).collect();
    let others = &herds[1..];
    let title = match others {
        [b] => format!("{b} / A"),
        _ => "each herd / A".to_owned(),
    };
    let mut out = format!("Comparison: {title}\n{:<24}", "");
    for h in &herds {
        let _ = write!(out, " {h:>14}");
    }
    for h in others {
        let _ = write!(out, " {:>9}", format!("{h}/A"));
    }
    out.push('\n');
    for row in rows(reports) {
        let show = |v: Option<f64>| match v {
            None => "-".to_owned(),
            Some(v) if row.latency => ms(v as u64),
            Some(v) => format!("{v:.1}"),
        };
        let name = if row.latency {
            format!("{} (ms)", row.name)
        } else {
            row.name.to_owned()
        };
        let _ = write!(out, "{name:<24}");
        for v in &row.values {
            let _ = write!(out, " {:>14}", show(*v));
        }
        for v in &row.values[1..] {
            let r = ratio(row.values[0], *v).map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"));
            let _ = write!(out, " {r:>9}");
        }
        out.push('\n');
    }
    out
}

/// `{"herds": [labels], "a": report, "b": report, …, "ratios": {row: {"a": .., "b": ..,
/// "b_over_a": .., …}}}`.
pub fn json(reports: &[Report]) -> serde_json::Value {
    let keys: Vec<String> = (0..reports.len())
        .map(|i| letter(i).to_lowercase())
        .collect();
    let mut ratios = serde_json::Map::new();
    for row in rows(reports) {
        let name = row
            .name
            .split(' ')
            .take_while(|w| !w.starts_with('('))
            .collect::<Vec<_>>()
            .join("_")
            .to_lowercase();
        let mut entry = serde_json::Map::new();
        for (key, v) in keys.iter().zip(&row.values) {
            entry.insert(key.clone(), serde_json::json!(v));
        }
        for (key, v) in keys.iter().zip(&row.values).skip(1) {
            entry.insert(
                format!("{key}_over_a"),
                serde_json::json!(ratio(row.values[0], *v)),
            );
        }
        ratios.insert(name, entry.into());
    }
    let mut out = serde_json::Map::new();
    out.insert(
        "herds".to_owned(),
        serde_json::json!(
            reports
                .iter()
                .map(|r| r.parameters.herd.clone())
                .collect::<Vec<_>>()
        ),
    );
    for (key, report) in keys.iter().zip(reports) {
        out.insert(key.clone(), serde_json::json!(report));
    }
    out.insert("ratios".to_owned(), ratios.into());
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_need_both_sides_and_a_non_zero_base() {
        assert_eq!(ratio(Some(2.0), Some(3.0)), Some(1.5));
        assert_eq!(ratio(Some(0.0), Some(3.0)), None);
        assert_eq!(ratio(Some(2.0), None), None);
        assert_eq!(ratio(None, Some(2.0)), None);
        let empty = Percentiles::default();
        assert_eq!(pick(&empty, |p| p.p50_us), None);
    }

    #[test]
    fn herds_are_lettered_in_order() {
        let names: Vec<String> = [0, 1, 2, 25, 26].into_iter().map(letter).collect();
        assert_eq!(names, ["A", "B", "C", "Z", "H27"]);
    }
}
