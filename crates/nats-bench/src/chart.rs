//! `--svg FILE`: the comparison of a run as a bar chart.
//!
//! One group of horizontal bars per workload (its first metric): ours, async-nats and raw TCP,
//! each the median of its runs divided by the workload's base, with a whisker from the
//! slowest to the fastest run. The base is the raw-TCP contender of the same workload, else
//! the raw-TCP ceiling workload it names (when that ran), else async-nats; the group's label
//! says which. Latencies are inverted (base ÷ value), so on every row longer is better and
//! 1.0 is the base. Workloads that are only a raw-TCP ceiling get no group of their own: they
//! are the base of the rows that name them.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::ceiling_median;
use crate::runner::{Report, Stats, WorkloadResult};
use crate::workloads::ClientKind;
use crate::Result;

/// The contenders drawn, top to bottom within a group, and their colours.
const BARS: [(ClientKind, RGBColor); 3] = [
    (ClientKind::Ours, RGBColor(31, 119, 180)),
    (ClientKind::AsyncNats, RGBColor(255, 127, 14)),
    (ClientKind::Wire, RGBColor(150, 150, 150)),
];

const WIDTH: u32 = 1100;
/// Left margin holding the workload labels.
const LABEL_WIDTH: u32 = 300;
/// Height of one workload's group of bars.
const ROW_HEIGHT: u32 = 46;
/// Caption, axis and legend space.
const CHROME_HEIGHT: u32 = 150;
/// Height of one bar, in rows (a row is 1.0 high).
const BAR: f64 = 0.24;

/// One contender's bar: median and whisker ends, relative to the base.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Who.
    pub client: ClientKind,
    /// Median ÷ base (inverted for latencies).
    pub median: f64,
    /// Slowest run, same scale.
    pub low: f64,
    /// Fastest run, same scale.
    pub high: f64,
}

/// One workload's group of bars.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `workload (metric) ÷ base`.
    pub label: String,
    /// Present contenders, in [`BARS`] order.
    pub bars: Vec<Bar>,
}

/// The base of a workload's row: its median and what it is.
fn base(report: &Report, result: &WorkloadResult) -> Option<(f64, String)> {
    let own = |client| result.series(client).and_then(|s| s.stats(0));
    if let Some(raw) = own(ClientKind::Wire) {
        return Some((raw.median, "raw TCP".to_string()));
    }
    if let Some((name, median)) = result
        .workload
        .ceiling
        .and_then(|c| ceiling_median(report, c).map(|m| (c, m)))
    {
        return Some((median, format!("{name} (raw TCP)")));
    }
    own(ClientKind::AsyncNats).map(|s| (s.median, "async-nats".to_string()))
}

/// `stats` relative to `base`; latencies inverted so that higher is better.
fn relative(stats: Stats, base: f64, higher_is_better: bool) -> Option<(f64, f64, f64)> {
    let values = if higher_is_better {
        (stats.median / base, stats.min / base, stats.max / base)
    } else {
        // The fastest run is the lowest latency.
        (base / stats.median, base / stats.max, base / stats.min)
    };
    let finite = [values.0, values.1, values.2]
        .iter()
        .all(|v| v.is_finite() && *v >= 0.0);
    finite.then_some(values)
}

/// The rows of the chart, in the report's order.
pub fn rows(report: &Report) -> Vec<Row> {
    let mut rows = Vec::new();
    for result in &report.results {
        let w = result.workload;
        let Some(metric) = w.metrics.first() else {
            continue;
        };
        // A pure ceiling (raw TCP alone) is the base of other rows, not a row.
        if result.series.iter().all(|s| s.client == ClientKind::Wire) {
            continue;
        }
        let Some((base, base_label)) = base(report, result) else {
            continue;
        };
        if !(base.is_finite() && base > 0.0) {
            continue;
        }
        let bars: Vec<Bar> = BARS
            .iter()
            .filter_map(|(client, _)| {
                let stats = result.series(*client)?.stats(0)?;
                let (median, low, high) = relative(stats, base, metric.higher_is_better)?;
                Some(Bar {
                    client: *client,
                    median,
                    low,
                    high,
                })
            })
            .collect();
        if bars.is_empty() {
            continue;
        }
        let inverted = if metric.higher_is_better {
            ""
        } else {
            ", inverted"
        };
        rows.push(Row {
            label: format!("{} ({}{inverted}) ÷ {base_label}", w.name, metric.name),
            bars,
        });
    }
    rows
}

/// The chart of `report` as an SVG document.
pub fn svg(report: &Report) -> Result<String> {
    let rows = rows(report);
    if rows.is_empty() {
        return Err("--svg: no workload with a base to compare against in this run".into());
    }
    let n = rows.len();
    let height = CHROME_HEIGHT + ROW_HEIGHT * n as u32;
    let x_max = rows
        .iter()
        .flat_map(|r| r.bars.iter().map(|b| b.high.max(b.median)))
        .fold(1.0f64, f64::max)
        * 1.15;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let caption = format!(
            "nats-bench · nats-server {} · {} runtime · {} runs per client{}",
            report.server_version,
            report.config.flavor.label(),
            report.config.runs,
            if report.config.quick {
                " · --quick"
            } else {
                ""
            }
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(LABEL_WIDTH)
            .build_cartesian_2d(0f64..x_max, 0f64..n as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(12)
            .light_line_style(WHITE)
            .x_label_formatter(&|v| format!("{v:.1}×"))
            .x_desc("median ÷ base (whiskers: slowest to fastest run); longer is better")
            .draw()?;

        // Row i is drawn from the top: its band is [n - i - 1, n - i).
        let top = |i: usize| (n - i) as f64;
        for (slot, (client, col)) in BARS.iter().enumerate() {
            let centre = |i: usize| top(i) - 0.1 - slot as f64 * (BAR + 0.04) - BAR / 2.0;
            let bars: Vec<(usize, Bar)> = rows
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.bars.iter().find(|b| b.client == *client).map(|b| (i, *b)))
                .collect();
            if bars.is_empty() {
                continue;
            }
            let fill = col.filled();
            chart.draw_series(bars.iter().map(|(i, b)| {
                let c = centre(*i);
                Rectangle::new([(0.0, c - BAR / 2.0), (b.median, c + BAR / 2.0)], fill)
            }))?;
            // The legend, left to right along the bottom edge.
            let x = 12 + slot as i32 * 130;
            let y = height as i32 - 16;
            root.draw(&Rectangle::new([(x, y - 6), (x + 14, y + 6)], fill))?;
            root.draw(&Text::new(
                client.label(),
                (x + 20, y),
                ("sans-serif", 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            for (i, b) in &bars {
                let c = centre(*i);
                let cap = BAR * 0.35;
                chart.draw_series([
                    PathElement::new(vec![(b.low, c), (b.high, c)], BLACK),
                    PathElement::new(vec![(b.low, c - cap), (b.low, c + cap)], BLACK),
                    PathElement::new(vec![(b.high, c - cap), (b.high, c + cap)], BLACK),
                ])?;
                let at = chart.backend_coord(&(b.high.max(b.median), c));
                root.draw(&Text::new(
                    format!("{:.2}", b.median),
                    (at.0 + 6, at.1),
                    ("sans-serif", 11)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))?;
            }
        }
        // The base.
        chart.draw_series([PathElement::new(
            vec![(1.0, 0.0), (1.0, n as f64)],
            BLACK.stroke_width(2),
        )])?;
        // Workload labels, right-aligned in the left margin.
        for (i, row) in rows.iter().enumerate() {
            let at = chart.backend_coord(&(0.0, top(i) - 0.5));
            root.draw(&Text::new(
                row.label.clone(),
                (at.0 - 8, at.1),
                ("sans-serif", 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
        }
        root.present()?;
    }
    Ok(out)
}

/// Writes the chart of `report` to `path`.
pub fn write(report: &Report, path: &str) -> Result<()> {
    let svg = svg(report)?;
    std::fs::write(path, svg).map_err(|e| format!("--svg: can not write {path}: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::runner::{Config, Flavor, Series};
    use crate::workloads::{find, Sample};

    fn series(client: ClientKind, values: &[f64]) -> Series {
        Series {
            client,
            samples: values
                .iter()
                .map(|v| Sample {
                    values: vec![*v],
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn result(name: &str, series: Vec<Series>) -> WorkloadResult {
        WorkloadResult {
            workload: find(name).expect("known workload"),
            messages: 1000,
            series,
            elapsed: Duration::from_secs(1),
        }
    }

    fn report(results: Vec<WorkloadResult>) -> Report {
        Report {
            config: Config {
                runs: 3,
                quick: true,
                flavor: Flavor::MultiThread,
                spawn: false,
                clients: Vec::new(),
            },
            workers: 2,
            server_version: "2.14.6".into(),
            results,
        }
    }

    fn sample_report() -> Report {
        report(vec![
            result(
                "wire-limit",
                vec![series(ClientKind::Wire, &[4.0, 5.0, 6.0])],
            ),
            // Base: the ceiling workload it names (wire-limit, median 5).
            result(
                "pub-16b",
                vec![
                    series(ClientKind::Ours, &[4.0, 5.0, 7.5]),
                    series(ClientKind::AsyncNats, &[2.0, 2.5, 3.0]),
                ],
            ),
            // Latency, no raw TCP: base async-nats, inverted.
            result(
                "req-reply",
                vec![
                    series(ClientKind::Ours, &[100.0, 80.0, 160.0]),
                    series(ClientKind::AsyncNats, &[200.0, 160.0, 240.0]),
                ],
            ),
            // Its own raw-TCP contender is the base.
            result(
                "js-consume-none-1000",
                vec![
                    series(ClientKind::Ours, &[3.0, 3.0, 3.0]),
                    series(ClientKind::AsyncNats, &[2.0, 2.0, 2.0]),
                    series(ClientKind::Wire, &[3.0, 4.0, 5.0]),
                ],
            ),
        ])
    }

    #[test]
    fn bars_are_normalized_to_their_base() {
        let rows = rows(&sample_report());
        let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "pub-16b (msgs/s) ÷ wire-limit (raw TCP)",
                "req-reply (p50 µs, inverted) ÷ async-nats",
                "js-consume-none-1000 (msgs/s) ÷ raw TCP",
            ]
        );
        let ours = rows[0].bars[0];
        assert_eq!(ours.client, ClientKind::Ours);
        assert_eq!((ours.median, ours.low, ours.high), (1.0, 0.8, 1.5));
        // Latencies: base ÷ value, the fastest run (lowest latency) at the high end.
        let ours = rows[1].bars[0];
        assert_eq!((ours.median, ours.low, ours.high), (2.0, 1.25, 2.5));
        let theirs = rows[1].bars[1];
        assert_eq!(theirs.median, 1.0);
        let raw = rows[2].bars[2];
        assert_eq!(raw.client, ClientKind::Wire);
        assert_eq!((raw.median, raw.low, raw.high), (1.0, 0.75, 1.25));
        assert_eq!(rows[2].bars[0].median, 0.75);
    }

    #[test]
    fn draws_an_svg_with_every_row() -> Result<()> {
        let svg = svg(&sample_report())?;
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        assert!(svg.trim_end().ends_with("</svg>"));
        for text in [
            "pub-16b (msgs/s)",
            "req-reply",
            "js-consume-none-1000",
            "async-nats",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert!(!svg.contains("NaN"));
        Ok(())
    }

    #[test]
    fn a_run_without_a_base_has_no_chart() {
        let only_ceiling = report(vec![result(
            "wire-limit",
            vec![series(ClientKind::Wire, &[1.0])],
        )]);
        assert!(svg(&only_ceiling).is_err());
    }
}
