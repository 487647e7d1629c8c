//! `--plot FILE.svg`: latency by percentile, one line per histogram, the percentile axis
//! log-scaled (0%, 90%, 99%, 99.9%, ...) as HdrHistogram's plotter draws it. Plotters' SVG
//! backend writes text as SVG `<text>`, so no system fonts are needed.

use std::path::Path;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use plotters::prelude::*;

use crate::stats::Series;

/// The deepest percentile on the axis: 99.9999%.
const NINES: f64 = 6.0;

/// `(x, ms)` points of one histogram, x = log10(1 / (1 - quantile)).
fn points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = h
        .iter_quantiles(5)
        .map(|v| {
            let q = v.quantile_iterated_to();
            let x = if q >= 1.0 {
                NINES
            } else {
                (1.0 / (1.0 - q)).log10().min(NINES)
            };
            (
                x,
                h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0,
            )
        })
        .collect();
    // The maximum belongs at the right end of the axis.
    if let Some(last) = pts.last().copied() {
        pts.push((NINES, last.1.max(h.max() as f64 / 1000.0)));
    }
    pts
}

/// Tableau's ten colours: distinct, and dark enough on white.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A latency label without float noise: `0.05`, `2`, `150`.
fn format_ms(y: f64) -> String {
    let text = if y >= 10.0 {
        format!("{y:.0}")
    } else if y >= 1.0 {
        format!("{y:.1}")
    } else {
        format!("{y:.3}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// "0%", "90%", "99%", "99.9%" … for x = 0, 1, 2, 3 …
fn percentile_label(x: f64) -> String {
    if (x - x.round()).abs() > 1e-6 {
        return String::new();
    }
    let nines = x.round() as i32;
    if nines <= 0 {
        return "0%".to_owned();
    }
    let p = 100.0 - 100.0 / 10f64.powi(nines);
    format!("{p:.*}%", usize::try_from(nines - 2).unwrap_or(0).min(6))
}

/// Draws the chart of `series` (histograms in µs) to `path`.
pub fn write(path: &Path, title: &str, series: &[Series]) -> anyhow::Result<()> {
    let series: Vec<(&Series, Vec<(f64, f64)>)> = series
        .iter()
        .filter(|s| !s.histogram.is_empty())
        .map(|s| (s, points(&s.histogram)))
        .collect();
    anyhow::ensure!(
        !series.is_empty(),
        "nothing to plot: no latency was recorded"
    );
    let values = series.iter().flat_map(|(_, p)| p.iter().map(|(_, y)| *y));
    let lowest = values.clone().fold(f64::INFINITY, f64::min).max(0.001);
    let highest = values.fold(0.0, f64::max).max(lowest * 10.0);
    let render = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (1200, 720)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 24))
            .margin(20)
            .margin_right(80)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..NINES, (lowest / 1.5..highest * 1.5).log_scale())?;
        chart
            .configure_mesh()
            .x_labels(7)
            .x_desc("percentile")
            .y_desc("latency (ms, log scale)")
            .x_label_formatter(&|x| percentile_label(*x))
            .y_labels(12)
            .y_label_formatter(&|y| format_ms(*y))
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()?;
        for (i, (one, pts)) in series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            // Overall lines stand out; per-server lines are thinner.
            let width = if one.overall { 3 } else { 1 };
            chart
                .draw_series(LineSeries::new(
                    pts.iter().copied(),
                    color.stroke_width(width),
                ))?
                .label(one.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width.max(2)))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .draw()?;
        root.present()?;
        Ok(())
    };
    render()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot draw {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels_count_nines() {
        let labels: Vec<String> = (0..=5).map(|x| percentile_label(f64::from(x))).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
        assert_eq!(percentile_label(0.5), "");
    }

    #[test]
    fn latency_labels_have_no_float_noise() {
        assert_eq!(format_ms(0.05), "0.05");
        assert_eq!(format_ms(2.0), "2");
        assert_eq!(format_ms(2.5), "2.5");
        assert_eq!(format_ms(150.0), "150");
    }
}
