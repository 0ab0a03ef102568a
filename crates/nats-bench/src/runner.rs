//! Runs workloads: one nats-server per workload, contenders interleaved
//! A B A B … for the requested number of rounds, and the statistics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::workloads::{ClientKind, Ctx, RunFuture, Sample, Workload};
use crate::Result;

/// A run that takes longer than this is a hang, not a result.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// The same for a workload's one-off setup.
const SETUP_TIMEOUT: Duration = Duration::from_secs(300);
/// How often [`RssSampler`] reads `VmRSS` where it can not reset the peak mark.
const RSS_INTERVAL: Duration = Duration::from_millis(10);

/// The tokio runtime flavour both clients run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `new_multi_thread()` with the default worker count (one per core).
    MultiThread,
    /// `new_current_thread()`.
    CurrentThread,
}

impl Flavor {
    /// Builds the runtime.
    pub fn build(self) -> std::io::Result<tokio::runtime::Runtime> {
        match self {
            Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build(),
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
        }
    }

    /// Name used in the report.
    pub fn label(self) -> &'static str {
        match self {
            Flavor::MultiThread => "multi-thread",
            Flavor::CurrentThread => "current-thread",
        }
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Rounds; each round runs every contender once.
    pub runs: usize,
    /// Divide message counts by 10.
    pub quick: bool,
    /// Runtime flavour.
    pub flavor: Flavor,
    /// Drive each run from a spawned task rather than `block_on` on the main
    /// thread.
    pub spawn: bool,
    /// Only these contenders (empty: all).
    pub clients: Vec<ClientKind>,
}

impl Config {
    /// Messages per run for `workload` under this configuration.
    pub fn messages(&self, workload: &Workload) -> u64 {
        if self.quick {
            (workload.messages / 10).max(1)
        } else {
            workload.messages
        }
    }
}

/// Median, minimum and maximum of a set of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Stats {
    /// Statistics of `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Stats {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// Every sample of one contender.
#[derive(Debug)]
pub struct Series {
    /// Who ran.
    pub client: ClientKind,
    /// One sample per round, in order.
    pub samples: Vec<Sample>,
}

impl Series {
    /// The values of metric `index` across rounds.
    pub fn values(&self, index: usize) -> Vec<f64> {
        self.samples
            .iter()
            .filter_map(|s| s.values.get(index).copied())
            .collect()
    }

    /// Statistics of metric `index`.
    pub fn stats(&self, index: usize) -> Option<Stats> {
        Stats::of(&self.values(index))
    }

    /// Drops per round, if the workload reports them.
    pub fn drops(&self) -> Vec<u64> {
        self.samples.iter().filter_map(|s| s.drops).collect()
    }

    /// Median CPU nanoseconds of this process per message (or request).
    pub fn cpu_nanos_per_message(&self, messages: u64) -> Option<f64> {
        let per: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| s.cpu_nanos)
            .map(|n| n as f64 / messages.max(1) as f64)
            .collect();
        Stats::of(&per).map(|s| s.median)
    }

    /// Median CPU nanoseconds of the server process per message (or request).
    pub fn server_cpu_nanos_per_message(&self, messages: u64) -> Option<f64> {
        let per: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| s.server_cpu_nanos)
            .map(|n| n as f64 / messages.max(1) as f64)
            .collect();
        Stats::of(&per).map(|s| s.median)
    }

    /// The largest peak RSS growth of any run, in bytes, if sampled. (Not
    /// the median: only a process's first run of a kind grows the heap;
    /// later runs reuse what the allocator kept.)
    pub fn peak_rss_bytes(&self) -> Option<f64> {
        let per: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| s.peak_rss_bytes)
            .map(|b| b as f64)
            .collect();
        Stats::of(&per).map(|s| s.max)
    }

    /// Slow consumers the server saw, summed over the rounds.
    pub fn server_slow_consumers(&self) -> Option<u64> {
        self.samples
            .iter()
            .map(|s| s.server_slow_consumers)
            .sum::<Option<u64>>()
    }
}

/// The outcome of one workload.
#[derive(Debug)]
pub struct WorkloadResult {
    /// What ran.
    pub workload: &'static Workload,
    /// Messages per run.
    pub messages: u64,
    /// One series per contender, in contender order.
    pub series: Vec<Series>,
    /// Wall time of the whole workload, server start included.
    pub elapsed: Duration,
}

impl WorkloadResult {
    /// The series of `client`, if it took part.
    pub fn series(&self, client: ClientKind) -> Option<&Series> {
        self.series.iter().find(|s| s.client == client)
    }
}

/// Everything a report needs.
#[derive(Debug)]
pub struct Report {
    /// How it ran.
    pub config: Config,
    /// Worker threads of the runtime (1 for current-thread).
    pub workers: usize,
    /// `version` from the server's INFO.
    pub server_version: String,
    /// Per workload.
    pub results: Vec<WorkloadResult>,
}

/// Runs `workloads` and collects the results. Progress goes to stderr.
pub fn run(config: &Config, workloads: &[&'static Workload]) -> Result<Report> {
    let rt = config.flavor.build()?;
    let workers = rt.metrics().num_workers();
    let mut server_version = String::new();
    let mut results = Vec::new();
    for &workload in workloads {
        let began = Instant::now();
        let contenders: Vec<_> = workload
            .contenders
            .iter()
            .filter(|c| config.clients.is_empty() || config.clients.contains(&c.kind))
            .collect();
        if contenders.is_empty() {
            continue;
        }
        // One server per workload, shared by every run of every contender.
        let builder = if workload.jetstream {
            nats_testkit::Server::jetstream()
        } else {
            nats_testkit::Server::new()
        };
        let server = builder.try_start()?;
        let url = server.url();
        if server_version.is_empty() {
            server_version = rt.block_on(query_server_version(&url))?;
        }
        let ctx = Ctx {
            url,
            messages: config.messages(workload),
            payload: workload.payload,
        };
        if let Some(setup) = workload.setup {
            eprint!("{} setup ", workload.name);
            let t = Instant::now();
            rt.block_on(async { tokio::time::timeout(SETUP_TIMEOUT, setup(ctx.clone())).await })
                .map_err(|_| format!("{}: setup timed out", workload.name))?
                .map_err(|e| format!("{}: setup: {e}", workload.name))?;
            eprintln!("{:.1} s", t.elapsed().as_secs_f64());
        }
        let mut series: Vec<Series> = contenders
            .iter()
            .map(|c| Series {
                client: c.kind,
                samples: Vec::with_capacity(config.runs),
            })
            .collect();
        let mut slow_before = slow_consumers(&server);
        for round in 1..=config.runs {
            for (contender, series) in contenders.iter().zip(series.iter_mut()) {
                let label = contender.kind.label();
                eprint!("{} [{round}/{}] {label:<10} ", workload.name, config.runs);
                let rss = workload.sample_rss.then(RssSampler::start);
                let server_pid = server.pid();
                let server_before = server_cpu_nanos(server_pid);
                let cpu_before = process_cpu_nanos();
                let run = (contender.run)(ctx.clone());
                let run: RunFuture = if config.spawn {
                    Box::pin(async move {
                        tokio::spawn(run)
                            .await
                            .map_err(|e| format!("the run's task failed: {e}"))?
                    })
                } else {
                    run
                };
                let sample = rt
                    .block_on(async { tokio::time::timeout(RUN_TIMEOUT, run).await })
                    .map_err(|_| format!("{} / {label}: run timed out", workload.name))?
                    .map_err(|e| format!("{} / {label}: {e}", workload.name))?;
                let mut sample = sample;
                sample.peak_rss_bytes = rss.and_then(RssSampler::finish);
                if let (Some(before), Some(after)) = (cpu_before, process_cpu_nanos()) {
                    sample.cpu_nanos = Some(after.saturating_sub(before));
                }
                if let (Some(before), Some(after)) = (server_before, server_cpu_nanos(server_pid)) {
                    sample.server_cpu_nanos = Some(after.saturating_sub(before));
                }
                let now = slow_consumers(&server);
                if let (Some(before), Some(after)) = (slow_before, now) {
                    sample.server_slow_consumers = Some(after.saturating_sub(before));
                }
                slow_before = now;
                eprintln!("{}", describe(workload, &sample));
                series.samples.push(sample);
            }
        }
        drop(server);
        results.push(WorkloadResult {
            workload,
            messages: ctx.messages,
            series,
            elapsed: began.elapsed(),
        });
    }
    Ok(Report {
        config: config.clone(),
        workers,
        server_version,
        results,
    })
}

/// CPU time used so far by the threads of this process that are alive, in
/// nanoseconds (`/proc/self/task/*/schedstat`; Linux only). The runtime's
/// worker threads live for the whole invocation, so differences are exact for
/// them. Clients' own threads, if any, count too; the server (another
/// process) does not.
fn process_cpu_nanos() -> Option<u64> {
    cpu_nanos_of("self")
}

/// The same for the server process `pid`: its Go runtime threads live as long
/// as it does, so differences are the server's work during a run.
fn server_cpu_nanos(pid: Option<u32>) -> Option<u64> {
    cpu_nanos_of(&pid?.to_string())
}

/// Sum of `/proc/<proc>/task/*/schedstat` run times.
fn cpu_nanos_of(proc: &str) -> Option<u64> {
    let mut total = 0u64;
    for entry in std::fs::read_dir(format!("/proc/{proc}/task")).ok()? {
        let Ok(entry) = entry else { continue };
        let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        total += text
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total)
}

/// Measures how far this process's resident set grows during a run.
///
/// Where the kernel allows it (Linux 4.0+), the peak-RSS mark `VmHWM` is reset
/// through `/proc/self/clear_refs` when the run starts and read when it ends:
/// an exact peak. Otherwise `VmRSS` is sampled every [`RSS_INTERVAL`] on a
/// thread of its own, so the runtime's workers are not disturbed. Either way
/// resident memory, not live heap: memory the allocator kept from an earlier
/// run and reuses does not show up again.
#[derive(Debug)]
enum RssSampler {
    /// The peak mark was reset; the resident set at the start.
    HighWaterMark { baseline: Option<u64> },
    /// A sampling thread.
    Sampling {
        stop: Arc<AtomicBool>,
        thread: std::thread::JoinHandle<Option<u64>>,
    },
}

impl RssSampler {
    fn start() -> RssSampler {
        if std::fs::write("/proc/self/clear_refs", "5").is_ok() {
            return RssSampler::HighWaterMark {
                baseline: status_bytes("VmRSS:"),
            };
        }
        let stop = Arc::new(AtomicBool::new(false));
        let baseline = status_bytes("VmRSS:");
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let baseline = baseline?;
                let mut peak = baseline;
                while !stop.load(Ordering::Acquire) {
                    peak = peak.max(status_bytes("VmRSS:").unwrap_or(0));
                    std::thread::sleep(RSS_INTERVAL);
                }
                peak = peak.max(status_bytes("VmRSS:").unwrap_or(0));
                Some(peak - baseline)
            }
        });
        RssSampler::Sampling { stop, thread }
    }

    fn finish(self) -> Option<u64> {
        match self {
            RssSampler::HighWaterMark { baseline } => {
                Some(status_bytes("VmHWM:")?.saturating_sub(baseline?))
            }
            RssSampler::Sampling { stop, thread } => {
                stop.store(true, Ordering::Release);
                thread.join().ok().flatten()
            }
        }
    }
}

/// A memory field of `/proc/self/status` (`VmRSS:`, `VmHWM:`) in bytes
/// (Linux only).
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The server's cumulative count of slow consumers (`/varz`).
fn slow_consumers(server: &nats_testkit::Server) -> Option<u64> {
    server.monitor_json("/varz").ok()?["slow_consumers"].as_u64()
}

async fn query_server_version(url: &str) -> Result<String> {
    let client = nats_core::connect(url).await?;
    Ok(client.server_info().version)
}

fn describe(workload: &Workload, sample: &Sample) -> String {
    let mut parts: Vec<String> = workload
        .metrics
        .iter()
        .zip(&sample.values)
        .map(|(m, v)| format!("{} {}", crate::report::format_value(m, *v), m.name))
        .collect();
    if let Some(d) = sample.drops {
        parts.push(format!("drops {d}"));
    }
    if let Some(cpu) = sample.cpu_nanos {
        parts.push(format!("CPU {:.2} s", cpu as f64 / 1e9));
    }
    if let Some(cpu) = sample.server_cpu_nanos {
        parts.push(format!("server CPU {:.2} s", cpu as f64 / 1e9));
    }
    if let Some(rss) = sample.peak_rss_bytes {
        parts.push(format!("peak RSS +{:.1} MiB", rss as f64 / 1048576.0));
    }
    if let Some(n) = sample.server_slow_consumers.filter(|n| *n > 0) {
        parts.push(format!("server slow consumers {n}"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_odd_and_even() {
        let s = Stats::of(&[3.0, 1.0, 2.0]);
        assert_eq!(
            s,
            Some(Stats {
                median: 2.0,
                min: 1.0,
                max: 3.0
            })
        );
        let s = Stats::of(&[4.0, 1.0, 2.0, 3.0]);
        assert_eq!(s.map(|s| s.median), Some(2.5));
        assert_eq!(Stats::of(&[]), None);
    }
}
