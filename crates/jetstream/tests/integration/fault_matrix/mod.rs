//! The fault matrix (issue 13): every operation under every fault, each
//! cell asserting the same three things:
//!
//! 1. it completes, or fails with the right [`ErrorKind`], within a stated
//!    bound (continuous operations: they report the fault, and go on or
//!    end, within a stated bound);
//! 2. nothing acked is lost: every acked publish, KV put and object put is
//!    stored as acked, and every message published to a reader reaches it
//!    once the fault is over;
//! 3. nothing is delivered twice: no message whose `double_ack` succeeded
//!    comes again, nothing is stored twice, and ordered consumers and
//!    watchers deliver every number exactly once, in order.
//!
//! One test per fault (a column) runs all its operations at once against
//! one server (or one 3-node cluster), so the whole matrix takes a few
//! seconds per column. Before the fault every operation is shown to work;
//! continuous operations are started then, one-shot ones are issued right
//! after the fault is injected. Each test prints its column as a table.
//!
//! Client settings: pings every 500 ms, connect and request timeouts 1 s,
//! JetStream context timeout 1 s; pulls with 500 ms heartbeats, 2 s expiry
//! (`max_wait`), 5 messages; `next()` has no options (30 s, 5 s
//! heartbeats).
//!
//! | operation \ fault | restart | freeze | stall | reset | consumer deleted | consumer deleted, backlog | stream / bucket deleted | permission denied | leader change |
//! |---|---|---|---|---|---|---|---|---|---|
//! | sync publish      | ok/T | ok/T | ok/T | ok/T | – | – | err NR | err PERM | ok/ELECT |
//! | async publish     | ok/T | ok/T | ok/T | ok/T | – | – | err NR | err PERM | ok/ELECT |
//! | core request      | ok/T | ok/T | ok/T | ok/T | – | – | – | err PERM | – |
//! | fetch             | ok/HB,T | ok/HB,T | ok/HB,T | ok/HB,T | err CNF | err CNF | err SNF,CNF | err PERM* | ok/ELECT,HB |
//! | next              | ok/HB,T | ok/HB,T | ok/HB,T | ok/HB,T | err CNF | err CNF | err SNF,CNF | err PERM* | ok/ELECT,HB |
//! | messages()        | rec | rec+HB | rec+HB | rec | end CD,CNF | end CD,CNF | end CD,CNF,SNF | rep PERM* | rec |
//! | consume()         | rec | rec+HB | rec+HB | rec | end CD,CNF | end CD,CNF | end CD,CNF,SNF | rep PERM* | rec |
//! | ordered fetch     | ok/HB,T | ok/HB,T | ok/HB,T | ok/HB,T | ok | ok | err SNF | err PERM | ok/ELECT,HB |
//! | ordered next      | ok/HB,T | ok/HB,T | ok/HB,T | ok/HB,T | ok | ok | err SNF | err PERM | ok/ELECT,HB |
//! | ordered messages()| rec | rec+HB | rec+HB | rec | rec | rec | end SNF | err PERM | rec |
//! | ordered consume() | rec | rec+HB | rec+HB | rec | rec | rec | end SNF | err PERM | rec |
//! | KV get            | ok/T | ok/T | ok/T | ok/T | – | – | err BNF | err PERM | ok/ELECT |
//! | KV put            | ok/T | ok/T | ok/T | ok/T | – | – | err BNF | err PERM | ok/ELECT |
//! | KV watch          | rec | rec | rec | rec | rec | rec | end BNF | err PERM | rec |
//! | object put        | ok/T | ok/T | ok/T | ok/T | – | – | err BNF | err PERM | ok/ELECT |
//! | object get        | ok/T | ok/T | ok/T | ok/T | – | – | err BNF | err PERM | ok/ELECT |
//! | object watch      | rec | rec | rec | rec | rec | rec | end BNF | err PERM | rec |
//! | object list       | ok/T | ok/T | ok/T | ok/T | – | – | err BNF | err PERM | ok/ELECT |
//! | consumer create   | ok/T | ok/T | ok/T | ok/T | – | – | err SNF | err PERM | ok/ELECT |
//! | stream create     | ok/T | ok/T | ok/T | ok/T | – | – | – | err PERM | ok/ELECT |
//!
//! - `ok/K`: completes, or fails with kind K, within the operation's bound;
//!   after the fault it works again (readers get everything). `ok`: must
//!   complete.
//! - `err K`: fails with K within the bound (a continuous operation: its
//!   start fails).
//! - `rec`: keeps going, never ends, and delivers everything published
//!   within 10 s of the fault's end; `rec+K`: and reports K within 3 s of
//!   the fault.
//! - `rep K`: reports K within 3 s. `end K`: reports K and ends within
//!   4 s (KV watch 9 s, object watch 12 s: their heartbeats are 3 s / 5 s).
//! - `–`: the fault does not touch the operation.
//! - Kinds: T `Timeout` or `ConnectionClosed` (the core client fails a
//!   request in flight at once when its connection drops), HB `HeartbeatMissed`, NR `NoResponders`, CNF
//!   `ConsumerNotFound`, CD `ConsumerDeleted`, SNF `StreamNotFound`, BNF
//!   `BucketNotFound`; ELECT: T, NR or `Api` (503 "JetStream system
//!   temporarily unavailable"); PERM: `PermissionDenied` (the core client
//!   ties the server's `-ERR` to the waiting request by subject); PERM*:
//!   PERM, T or HB (a pull is a plain publish: nothing waits for its `-ERR`).
//!
//! Bounds of one-shot operations: 3 s for publishes, requests, KV and
//! create calls (1 s timeouts); 4 s for object calls; 4.5 s for fetch;
//! 12 s for next and ordered fetch, 15 s for ordered next (next's 5 s
//! heartbeats; creating an ordered consumer retries). Starting an ordered
//! consumer or watcher that can never be created: 12 s.
//!
//! The faults: restart = `SIGTERM`, 1.5 s down, start on the same store;
//! freeze = `SIGSTOP` for 3 s; stall = the proxy forwards nothing either
//! way for 3 s (half-open); reset = the proxy closes the connection; the
//! consumer rows delete every consumer (of the stream, the KV bucket and
//! the object store), the backlog row while 30 messages wait and the
//! readers are busy, so no pull waits at the server; stream deleted = the
//! stream, the KV bucket and the object store are deleted behind live
//! handles; permission denied = the client's user may only read stream
//! and consumer info, ack and get replies; leader change = the stream
//! leaders of a 3-node cluster step down.
//!
//! A longer randomized variant (random faults and operations, repeated)
//! is in [`soak`], behind `NATS_SOAK_SECS` and `--ignored`.

mod env;
mod probe;
mod soak;
mod table;

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use jetstream::ErrorKind;

use env::Env;
use probe::{Cell, Outcome};
use table::{column, end_bound, Expect, Fault, Op, REPORT_BOUND};

/// Runs one column of the matrix and fails with the list of failing
/// cells.
async fn run(fault: Fault) {
    let started = Instant::now();
    let mut env = Env::start(fault).await;
    let mut cells = Vec::new();
    for (op, expect) in column(fault) {
        cells.push(Cell::new(op, expect, &env).await);
    }
    for cell in &cells {
        cell.feed(&env, 3).await;
    }
    if fault != Fault::PermissionDenied {
        join_all(cells.iter_mut().map(Cell::baseline)).await;
        // Something for the one-shot readers to read under the fault.
        for cell in cells.iter().filter(|c| !c.op.is_continuous()) {
            cell.feed(&env, 2).await;
        }
    }
    if fault == Fault::ConsumerDeletedBacklog {
        // Busy readers with a backlog: their pulls are filled and none waits.
        for cell in cells.iter().filter(|c| c.op.is_continuous()) {
            cell.pause(true);
            if matches!(
                cell.op,
                Op::Messages | Op::Consume | Op::OrderedMessages | Op::OrderedConsume
            ) {
                cell.feed(&env, 30).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let at = env
        .fault(fault, || cells.iter_mut().for_each(Cell::fire))
        .await;
    join_all(cells.iter_mut().map(Cell::collect)).await;
    if fault.heals() {
        env.settle().await;
    }
    watch_continuous(&cells, at).await;
    join_all(
        cells
            .iter_mut()
            .filter(|c| matches!(c.expect, Expect::OkOr(_) | Expect::Recovers(_)))
            .map(|c| c.after(&env)),
    )
    .await;
    if fault.keeps_data() {
        for cell in &cells {
            cell.verify(&env).await;
        }
    }
    let verdicts: Vec<(&Cell, Vec<String>, String)> = cells
        .iter()
        .map(|c| {
            let (problems, observed) = judge(c, at);
            (c, problems, observed)
        })
        .collect();
    let failed = report(fault, &verdicts, started.elapsed());
    assert!(
        failed.is_empty(),
        "{fault:?}: failing cells:\n{}",
        failed.join("\n")
    );
}

/// Waits until every continuous cell that must report or end has done so,
/// or its bound has passed.
async fn watch_continuous(cells: &[Cell], at: Instant) {
    for cell in cells {
        let (kinds, bound, must_end) = match cell.expect {
            Expect::Reports(kinds) => (kinds, REPORT_BOUND, false),
            Expect::Ends(kinds) => (kinds, end_bound(cell.op), true),
            _ => continue,
        };
        while at.elapsed() < bound {
            let done = {
                let ledger = cell.ledger();
                let reported = ledger.reports.iter().any(|r| kinds.contains(&r.1));
                reported && (!must_end || ledger.ended.is_some())
            };
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What a cell showed, and what is wrong with it.
pub(crate) fn judge(cell: &Cell, at: Instant) -> (Vec<String>, String) {
    let ledger = cell.ledger();
    let mut problems = ledger.violations.clone();
    let since = |t: Instant| t.saturating_duration_since(at);
    // Reports since the fault, and the text of each kind once.
    let recent = || ledger.reports.iter().filter(|r| r.0 >= at);
    let mut reports: Vec<String> = recent()
        .map(|(t, kind, _)| format!("{kind:?}@{:.1?}", since(*t)))
        .collect();
    let mut seen = Vec::new();
    for (_, kind, text) in recent() {
        if !seen.contains(kind) {
            seen.push(*kind);
            reports.push(format!("[{text}]"));
        }
    }
    let reported_within = |kinds: &[ErrorKind], bound: Duration| {
        ledger
            .reports
            .iter()
            .any(|(t, kind, _)| kinds.contains(kind) && *t >= at && since(*t) <= bound)
    };
    let mut observed = Vec::new();
    if let Some(outcome) = &cell.outcome {
        observed.push(outcome.describe());
    }
    if !reports.is_empty() {
        observed.push(format!("reported {}", reports.join(" ")));
    }
    if let Some(end) = ledger.ended.filter(|t| *t >= at) {
        observed.push(format!("ended @{:.1?}", since(end)));
    }
    match &cell.after {
        Some(Ok(took)) => observed.push(format!("after: ok in {took:.1?}")),
        Some(Err(e)) => problems.push(format!("after the fault: {e}")),
        None => {}
    }
    match cell.expect {
        Expect::NA => {}
        Expect::OkOr(kinds) => check_call(cell, kinds, true, &mut problems),
        Expect::Fails(kinds) => check_call(cell, kinds, false, &mut problems),
        Expect::Recovers(kinds) => {
            if ledger.ended.is_some() {
                problems.push("ended".into());
            }
            if !kinds.is_empty() && !reported_within(kinds, REPORT_BOUND) {
                problems.push(format!("no {kinds:?} within {REPORT_BOUND:?}"));
            }
        }
        Expect::Reports(kinds) => {
            if let Some(Outcome { result: Err(e), .. }) = &cell.outcome {
                problems.push(format!("did not start: {e:?}"));
            }
            if !reported_within(kinds, REPORT_BOUND) {
                problems.push(format!("no {kinds:?} within {REPORT_BOUND:?}"));
            }
        }
        Expect::Ends(kinds) => {
            let bound = end_bound(cell.op);
            if ledger.ended.is_none_or(|t| since(t) > bound) {
                problems.push(format!("did not end within {bound:?}"));
            }
            if !reported_within(kinds, bound) {
                problems.push(format!("no {kinds:?} within {bound:?}"));
            }
        }
    }
    (problems, observed.join("; "))
}

/// A one-shot call: an allowed error kind (or success, if `ok`) within the
/// operation's bound.
fn check_call(cell: &Cell, kinds: &[ErrorKind], ok: bool, problems: &mut Vec<String>) {
    let Some(outcome) = &cell.outcome else {
        problems.push("no call was made".into());
        return;
    };
    match &outcome.result {
        Ok(()) if !ok => problems.push("succeeded".into()),
        Err((kind, _)) if !kinds.contains(kind) => {
            problems.push(format!("{kind:?} is not one of {kinds:?}"));
        }
        _ => {}
    }
    if outcome.took > cell.op.bound() {
        problems.push(format!("took longer than {:?}", cell.op.bound()));
    }
}

/// Prints the column and returns its failing cells.
fn report(fault: Fault, verdicts: &[(&Cell, Vec<String>, String)], took: Duration) -> Vec<String> {
    let mut out = format!("fault matrix, {fault:?} ({took:.1?}):\n");
    let mut failed = Vec::new();
    for (cell, problems, observed) in verdicts {
        let verdict = if problems.is_empty() { "pass" } else { "FAIL" };
        out.push_str(&format!(
            "  {verdict} {:<16} {:<32} {observed}\n",
            format!("{:?}", cell.op),
            format!("{:?}", cell.expect),
        ));
        if !problems.is_empty() {
            out.push_str(&format!("       -> {}\n", problems.join("; ")));
            failed.push(format!("{:?}: {}", cell.op, problems.join("; ")));
        }
    }
    eprintln!("{out}");
    failed
}

macro_rules! columns {
    ($($name:ident => $fault:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            run($fault).await;
        }
    )*};
}

columns! {
    server_restart => Fault::Restart;
    server_frozen => Fault::Freeze;
    connection_stalled => Fault::Stall;
    connection_reset => Fault::Reset;
    consumer_deleted => Fault::ConsumerDeleted;
    consumer_deleted_with_backlog => Fault::ConsumerDeletedBacklog;
    stream_and_buckets_deleted => Fault::StreamDeleted;
    permission_denied => Fault::PermissionDenied;
    stream_leader_change => Fault::LeaderChange;
}
