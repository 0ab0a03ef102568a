//! The markdown table and the JSON document.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::runner::{Report, Stats, WorkloadResult};
use crate::workloads::{ClientKind, Metric, WORKLOADS};

/// Within this relative distance of each other two medians count as a tie.
const TIE: f64 = 0.02;

/// Formats one value of `metric`: rates as `1.23 M`, latencies as `45.6`.
pub fn format_value(metric: &Metric, v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    if metric.higher_is_better {
        if v >= 1e6 {
            format!("{:.2} M", v / 1e6)
        } else if v >= 1e3 {
            format!("{:.1} k", v / 1e3)
        } else {
            format!("{v:.1}")
        }
    } else {
        format!("{v:.1}")
    }
}

/// Ours/async-nats ratio of the medians of metric `index`, and who is better.
fn compare(result: &WorkloadResult, index: usize) -> Option<(f64, &'static str)> {
    let metric = result.workload.metrics.get(index)?;
    let ours = result.series(ClientKind::Ours)?.stats(index)?.median;
    let theirs = result.series(ClientKind::AsyncNats)?.stats(index)?.median;
    if theirs <= 0.0 || !ours.is_finite() || !theirs.is_finite() {
        return None;
    }
    let ratio = ours / theirs;
    let better = if (ratio - 1.0).abs() <= TIE {
        "tie"
    } else if (ratio > 1.0) == metric.higher_is_better {
        ClientKind::Ours.label()
    } else {
        ClientKind::AsyncNats.label()
    };
    Some((ratio, better))
}

/// Median msgs/s of the raw-TCP ceiling workload `name`, if it ran.
pub(crate) fn ceiling_median(report: &Report, name: &str) -> Option<f64> {
    report
        .results
        .iter()
        .find(|r| r.workload.name == name)?
        .series(ClientKind::Wire)?
        .stats(0)
        .map(|s| s.median)
}

/// The workloads (in registry order) that name `ceiling` as their ceiling.
fn ceiling_of(ceiling: &str) -> Vec<&'static str> {
    WORKLOADS
        .iter()
        .filter(|w| w.ceiling == Some(ceiling))
        .map(|w| w.name)
        .collect()
}

/// `812 ns` or `12.3 µs`.
fn format_nanos(ns: f64) -> String {
    if ns >= 10_000.0 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Payload MB/s (10^6 bytes) of a msgs/s median.
fn mb_per_sec(result: &WorkloadResult, msgs_per_sec: f64) -> f64 {
    msgs_per_sec * result.workload.payload as f64 / 1e6
}

fn notes(report: &Report, result: &WorkloadResult, client: ClientKind, stats: &Stats) -> String {
    let w = result.workload;
    let mut notes = Vec::new();
    if w.show_throughput {
        notes.push(format!(
            "{:.0} MB/s payload (median)",
            mb_per_sec(result, stats.median)
        ));
    }
    if let Some(ceiling) = w.ceiling {
        if let Some(limit) = ceiling_median(report, ceiling) {
            notes.push(format!("{:.0}% of {ceiling}", 100.0 * stats.median / limit));
        }
    }
    if client != ClientKind::Wire && w.metrics.first().is_some_and(|m| m.higher_is_better) {
        if let Some(raw) = result.series(ClientKind::Wire).and_then(|s| s.stats(0)) {
            if raw.median > 0.0 {
                notes.push(format!(
                    "{:.0}% of raw TCP here",
                    100.0 * stats.median / raw.median
                ));
            }
        }
    }
    let below = ceiling_of(w.name);
    if !below.is_empty() {
        notes.push(format!(
            "ceiling for {} (no client library)",
            below.join(", ")
        ));
    }
    if let Some(series) = result.series(client) {
        let unit = if w.metrics.iter().any(|m| !m.higher_is_better) {
            "request"
        } else {
            "msg"
        };
        if let Some(ns) = series.cpu_nanos_per_message(result.messages) {
            notes.push(format!("CPU {}/{unit}", format_nanos(ns)));
        }
        if let Some(ns) = series.server_cpu_nanos_per_message(result.messages) {
            notes.push(format!("server CPU {}/{unit}", format_nanos(ns)));
        }
        if let Some(bytes) = series.peak_rss_bytes() {
            notes.push(format!(
                "peak RSS +{:.1} MiB over the run's start (max of runs)",
                bytes / 1_048_576.0
            ));
        }
        let drops = series.drops();
        if !drops.is_empty() {
            let total: u64 = drops.iter().sum();
            let per_run: Vec<String> = drops.iter().map(u64::to_string).collect();
            notes.push(format!("drops: {total} (per run {})", per_run.join("/")));
            if let Some(n) = series.server_slow_consumers() {
                notes.push(format!("server slow-consumer events: {n}"));
            }
        }
    }
    notes.join("; ")
}

/// The markdown report.
pub fn markdown(report: &Report) -> String {
    let cfg = &report.config;
    let mut out = String::new();
    let _ = writeln!(out, "### nats-bench results\n");
    let _ = writeln!(
        out,
        "nats-server {} · tokio **{}** runtime ({} worker thread{}){} · {} runs per client, \
         interleaved A B A B · {}\n",
        report.server_version,
        cfg.flavor.label(),
        report.workers,
        if report.workers == 1 { "" } else { "s" },
        if cfg.spawn {
            ", runs driven from a spawned task"
        } else {
            ""
        },
        cfg.runs,
        if cfg.quick {
            "`--quick` (message counts ÷ 10)"
        } else {
            "full message counts"
        }
    );
    let _ = writeln!(
        out,
        "| workload | metric | client | median | min | max | ours/async-nats | better | notes |"
    );
    let _ = writeln!(out, "|---|---|---|--:|--:|--:|--:|---|---|");
    for result in &report.results {
        let w = result.workload;
        for (index, metric) in w.metrics.iter().enumerate() {
            let arrow = if metric.higher_is_better {
                "↑"
            } else {
                "↓"
            };
            for series in &result.series {
                let Some(stats) = series.stats(index) else {
                    continue;
                };
                let (ratio, better) = match (series.client, compare(result, index)) {
                    (ClientKind::Ours, Some((ratio, better))) => {
                        (format!("{ratio:.2}×"), better.to_string())
                    }
                    _ => (String::new(), String::new()),
                };
                // Notes once per client, on its first metric row.
                let notes = if index == 0 {
                    notes(report, result, series.client, &stats)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "| {} | {} {} | {} | {} | {} | {} | {} | {} | {} |",
                    w.name,
                    metric.name,
                    arrow,
                    series.client.label(),
                    format_value(metric, stats.median),
                    format_value(metric, stats.min),
                    format_value(metric, stats.max),
                    ratio,
                    better,
                    notes
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n↑ higher is better, ↓ lower is better. `ours/async-nats` is the ratio of the medians: \
         above 1 means ours is faster for ↑ rows and slower for ↓ rows; `better` names the client \
         with the better median (`tie` within ±{:.0}%). `CPU` in the notes is the median CPU time \
         of the whole benchmark process (all threads: publisher, subscriber or responder, \
         runtime workers; not the server) per message or request; `server CPU` the same for the \
         nats-server process (its setup work for the run included).\n",
        TIE * 100.0
    );
    for result in &report.results {
        let w = result.workload;
        let _ = writeln!(
            out,
            "- `{}` ({} × {} B per run): {}",
            w.name, result.messages, w.payload, w.description
        );
    }
    out
}

fn stats_json(stats: Option<Stats>) -> Value {
    match stats {
        Some(s) => json!({ "median": s.median, "min": s.min, "max": s.max }),
        None => Value::Null,
    }
}

/// The JSON report.
pub fn json(report: &Report) -> Value {
    let workloads: Vec<Value> = report
        .results
        .iter()
        .map(|result| {
            let w = result.workload;
            let metrics: Vec<Value> = w
                .metrics
                .iter()
                .enumerate()
                .map(|(index, metric)| {
                    let clients: Vec<Value> = result
                        .series
                        .iter()
                        .map(|s| {
                            json!({
                                "client": s.client.label(),
                                "values": s.values(index),
                                "stats": stats_json(s.stats(index)),
                            })
                        })
                        .collect();
                    let (ratio, better) = match compare(result, index) {
                        Some((r, b)) => (json!(r), json!(b)),
                        None => (Value::Null, Value::Null),
                    };
                    json!({
                        "name": metric.name,
                        "higher_is_better": metric.higher_is_better,
                        "clients": clients,
                        "ratio_ours_over_async_nats": ratio,
                        "better": better,
                    })
                })
                .collect();
            let mut obj = json!({
                "name": w.name,
                "description": w.description,
                "messages_per_run": result.messages,
                "payload_bytes": w.payload,
                "elapsed_secs": result.elapsed.as_secs_f64(),
                "metrics": metrics,
            });
            let per_client = |f: &dyn Fn(&crate::runner::Series) -> Option<Value>| -> Value {
                let map: serde_json::Map<String, Value> = result
                    .series
                    .iter()
                    .filter_map(|s| f(s).map(|v| (s.client.label().to_string(), v)))
                    .collect();
                Value::Object(map)
            };
            if result.series.iter().any(|s| !s.drops().is_empty()) {
                obj["drops"] = per_client(&|s| Some(json!(s.drops())));
            }
            obj["cpu_nanos_per_message_median"] =
                per_client(&|s| s.cpu_nanos_per_message(result.messages).map(|n| json!(n)));
            obj["server_cpu_nanos_per_message_median"] = per_client(&|s| {
                s.server_cpu_nanos_per_message(result.messages)
                    .map(|n| json!(n))
            });
            obj["server_slow_consumers"] =
                per_client(&|s| s.server_slow_consumers().map(|n| json!(n)));
            if w.show_throughput {
                obj["mb_per_sec_median"] =
                    per_client(&|s| s.stats(0).map(|st| json!(mb_per_sec(result, st.median))));
            }
            if let Some((ceiling, limit)) = w
                .ceiling
                .and_then(|c| ceiling_median(report, c).map(|l| (c, l)))
            {
                obj["ceiling"] = json!(ceiling);
                obj["percent_of_wire_limit"] =
                    per_client(&|s| s.stats(0).map(|st| json!(100.0 * st.median / limit)));
            }
            if result.series.iter().any(|s| s.peak_rss_bytes().is_some()) {
                obj["peak_rss_bytes_max"] = per_client(&|s| s.peak_rss_bytes().map(|b| json!(b)));
            }
            obj
        })
        .collect();
    json!({
        "server_version": report.server_version,
        "runtime": report.config.flavor.label(),
        "spawned": report.config.spawn,
        "workers": report.workers,
        "runs": report.config.runs,
        "quick": report.config.quick,
        "interleaving": "A B A B",
        "workloads": workloads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::MSGS_PER_SEC;

    #[test]
    fn formats_rates_and_latencies() {
        assert_eq!(format_value(&MSGS_PER_SEC, 4_912_345.0), "4.91 M");
        assert_eq!(format_value(&MSGS_PER_SEC, 812_300.0), "812.3 k");
        let lat = Metric {
            name: "p50 µs",
            higher_is_better: false,
        };
        assert_eq!(format_value(&lat, 52.34), "52.3");
        assert_eq!(format_value(&lat, f64::NAN), "n/a");
    }
}
