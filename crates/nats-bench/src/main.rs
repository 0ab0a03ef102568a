//! `nats-bench`: our NATS client against `async-nats`, side by side, on the
//! same nats-server and the same tokio runtime flavour.
//!
//! See the crate README for the workloads and how to read the table.
#![allow(clippy::print_stdout)]

mod chart;
mod report;
mod runner;
mod workloads;

use std::process::ExitCode;

use runner::{Config, Flavor};
use workloads::{ClientKind, Workload, WORKLOADS};

/// The error type of the whole binary.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

const DEFAULT_RUNS: usize = 5;
const QUICK_RUNS: usize = 3;

const USAGE: &str = "\
nats-bench: our NATS client vs async-nats against one nats-server

USAGE:
    cargo run -p nats-bench --release -- [OPTIONS]

OPTIONS:
    --runs <N>             runs per client, interleaved A B A B (default 5; 3 with --quick)
    --runtime <FLAVOR>     multi (default, multi-thread) or current (current-thread)
    --spawn                drive each run from a task spawned onto the runtime (as a
                           service's handlers run) instead of block_on on the main thread
    --workload <NAMES>     only these workloads (repeatable, or a comma list)
    --client <NAMES>       only these clients: ours, async-nats, wire (for profiling)
    --quick                message counts / 10 and 3 runs: a smoke test
    --json                 print JSON instead of the markdown table
    --svg <FILE>           also draw the comparison as a bar chart (SVG): per workload,
                           ours / async-nats / raw TCP relative to raw TCP, min-max whiskers
    --list                 list the workloads and exit
    -h, --help             this help
";

#[derive(Debug)]
struct Args {
    runs: Option<usize>,
    flavor: Flavor,
    spawn: bool,
    workloads: Vec<String>,
    clients: Vec<ClientKind>,
    quick: bool,
    json: bool,
    svg: Option<String>,
    list: bool,
    help: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args> {
    let mut parsed = Args {
        runs: None,
        flavor: Flavor::MultiThread,
        spawn: false,
        workloads: Vec::new(),
        clients: Vec::new(),
        quick: false,
        json: false,
        svg: None,
        list: false,
        help: false,
    };
    while let Some(arg) = args.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) => Ok(v),
                None => Err(format!("{name} needs a value").into()),
            }
        };
        match flag.as_str() {
            "--runs" => {
                let v = value("--runs")?;
                let n: usize = v
                    .parse()
                    .map_err(|_| format!("--runs: not a number: {v:?}"))?;
                if n == 0 {
                    return Err("--runs must be at least 1".into());
                }
                parsed.runs = Some(n);
            }
            "--runtime" => {
                parsed.flavor = match value("--runtime")?.as_str() {
                    "multi" | "multi-thread" | "multi_thread" => Flavor::MultiThread,
                    "current" | "current-thread" | "current_thread" => Flavor::CurrentThread,
                    other => {
                        return Err(format!(
                            "--runtime: expected `multi` or `current`, got {other:?}"
                        )
                        .into())
                    }
                };
            }
            "--workload" | "--workloads" | "-w" => {
                let v = value("--workload")?;
                parsed.workloads.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                );
            }
            "--client" | "--clients" => {
                for name in value("--client")?.split(',').map(str::trim) {
                    if name.is_empty() {
                        continue;
                    }
                    let kind = ClientKind::parse(name).ok_or_else(|| {
                        format!("--client: expected ours, async-nats or wire, got {name:?}")
                    })?;
                    parsed.clients.push(kind);
                }
            }
            "--quick" => parsed.quick = true,
            "--spawn" => parsed.spawn = true,
            "--json" => parsed.json = true,
            "--svg" => parsed.svg = Some(value("--svg")?),
            "--list" => parsed.list = true,
            "-h" | "--help" => parsed.help = true,
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    Ok(parsed)
}

fn select(names: &[String]) -> Result<Vec<&'static Workload>> {
    if names.is_empty() {
        return Ok(WORKLOADS.iter().collect());
    }
    for name in names {
        if workloads::find(name).is_none() {
            let known: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
            return Err(format!("unknown workload {name:?}; known: {}", known.join(", ")).into());
        }
    }
    // Registry order, whatever order they were given in.
    Ok(WORKLOADS
        .iter()
        .filter(|w| names.iter().any(|n| n == w.name))
        .collect())
}

fn real_main() -> Result<()> {
    let args = parse_args(std::env::args().skip(1))?;
    if args.help {
        print!("{USAGE}");
        return Ok(());
    }
    if args.list {
        for w in WORKLOADS {
            println!("{:<12} {}", w.name, w.description);
        }
        return Ok(());
    }
    let selected = select(&args.workloads)?;
    let config = Config {
        runs: args
            .runs
            .unwrap_or(if args.quick { QUICK_RUNS } else { DEFAULT_RUNS }),
        quick: args.quick,
        flavor: args.flavor,
        spawn: args.spawn,
        clients: args.clients,
    };
    let started = std::time::Instant::now();
    let report = runner::run(&config, &selected)?;
    eprintln!("total {:.1} s\n", started.elapsed().as_secs_f64());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report::json(&report))?);
    } else {
        print!("{}", report::markdown(&report));
    }
    if let Some(path) = &args.svg {
        chart::write(&report, path)?;
        eprintln!("chart written to {path}");
    }
    Ok(())
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nats-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_flags() -> Result<()> {
        let a = parse(&[
            "--runs",
            "7",
            "--runtime=current",
            "--workload",
            "pub-16b,req-reply",
            "--workload=pub-1k",
            "--quick",
            "--json",
            "--spawn",
            "--client",
            "ours,wire",
            "--svg",
            "bench.svg",
        ])?;
        assert_eq!(a.svg.as_deref(), Some("bench.svg"));
        assert_eq!(parse(&["--svg=x.svg"])?.svg.as_deref(), Some("x.svg"));
        assert!(parse(&["--svg"]).is_err());
        assert!(parse(&[])?.svg.is_none());
        assert_eq!(a.clients, [ClientKind::Ours, ClientKind::Wire]);
        assert_eq!(a.runs, Some(7));
        assert_eq!(a.flavor, Flavor::CurrentThread);
        assert_eq!(a.workloads, ["pub-16b", "req-reply", "pub-1k"]);
        assert!(a.quick && a.json && a.spawn);
        assert!(!parse(&[])?.spawn);
        assert!(parse(&["--runs", "0"]).is_err());
        assert!(parse(&["--runs"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        Ok(())
    }

    #[test]
    fn selects_in_registry_order() -> Result<()> {
        let s = select(&["req-reply".into(), "wire-limit".into()])?;
        let names: Vec<&str> = s.iter().map(|w| w.name).collect();
        assert_eq!(names, ["wire-limit", "req-reply"]);
        assert!(select(&["nope".into()]).is_err());
        Ok(())
    }
}
