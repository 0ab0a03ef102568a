//! The randomized fault matrix (slow, opt-in): random faults, one after
//! another, against one server, each with a random half of the one-shot
//! operations issued under it, while every continuous operation runs
//! throughout. Every round is judged by the matrix's column for its fault;
//! at the end everything acked must be stored and every reader must have
//! read everything, in order where promised, nothing twice.
//!
//! `NATS_SOAK_SECS=120 cargo test -p nats-jetstream --test integration fault_matrix::soak -- --ignored --nocapture`
//! (60 s without the variable); `NATS_SOAK_SEED=<n>` replays a run.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::env::Env;
use super::judge;
use super::probe::Cell;
use super::table::{column, Expect, Fault, TABLE};

/// xorshift64: enough randomness to pick faults and operations.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: slow; NATS_SOAK_SECS=<seconds> and --ignored to run it"]
async fn random_faults_keep_every_promise() {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let secs = var("NATS_SOAK_SECS").unwrap_or(60);
    let seed = var("NATS_SOAK_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("fault matrix soak: {secs} s, NATS_SOAK_SEED={seed}");
    let mut rng = seed | 1;
    let faults = [Fault::Restart, Fault::Freeze, Fault::Stall, Fault::Reset];

    let mut env = Env::start(Fault::Restart).await;
    let mut cells = Vec::new();
    for (op, _) in TABLE {
        cells.push(Cell::new(op, Expect::NA, &env).await);
    }
    for cell in &cells {
        cell.feed(&env, 3).await;
    }
    join_all(cells.iter_mut().map(Cell::baseline)).await;

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut failed = Vec::new();
    let mut rounds = 0;
    while Instant::now() < deadline {
        rounds += 1;
        let fault = faults[(next(&mut rng) % faults.len() as u64) as usize];
        let expectations = column(fault);
        let mut chosen = Vec::new();
        for cell in &mut cells {
            cell.expect = expectations
                .iter()
                .find(|(op, _)| *op == cell.op)
                .map_or(Expect::NA, |(_, e)| *e);
            cell.outcome = None;
            cell.after = None;
            chosen.push(cell.op.is_continuous() || next(&mut rng).is_multiple_of(2));
        }
        // Something for the chosen one-shot readers to read under the fault.
        for (cell, pick) in cells.iter().zip(&chosen) {
            if *pick && !cell.op.is_continuous() {
                cell.feed(&env, 2).await;
            }
        }
        let at = env
            .fault(fault, || {
                for (cell, pick) in cells.iter_mut().zip(&chosen) {
                    if *pick && !cell.op.is_continuous() {
                        cell.fire();
                    }
                }
            })
            .await;
        join_all(cells.iter_mut().map(Cell::collect)).await;
        env.settle().await;
        join_all(
            cells
                .iter_mut()
                .zip(&chosen)
                .filter(|(_, pick)| **pick)
                .map(|(cell, _)| cell.after(&env)),
        )
        .await;
        for (cell, pick) in cells.iter().zip(&chosen) {
            // A continuous operation that ended is reported once.
            let ended_before = cell.ledger().ended.is_some_and(|t| t < at);
            let (problems, observed) = judge(cell, at);
            if *pick && !ended_before && !problems.is_empty() {
                failed.push(format!(
                    "round {rounds} {fault:?} {:?}: {} ({observed})",
                    cell.op,
                    problems.join("; ")
                ));
            }
        }
    }
    for cell in &cells {
        cell.verify(&env).await;
        let violations = cell.ledger().violations.clone();
        if !violations.is_empty() {
            failed.push(format!("{:?}: {}", cell.op, violations.join("; ")));
        }
    }
    eprintln!(
        "fault matrix soak: {rounds} rounds, {} failures",
        failed.len()
    );
    assert!(failed.is_empty(), "seed {seed}:\n{}", failed.join("\n"));
}
