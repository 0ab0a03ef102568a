//! Parser throughput on a realistic read buffer.
//!
//! The buffer holds ~10k frames mixing `MSG` with 16 B, 128 B and 1 KiB payloads
//! (some with JetStream ack reply subjects or inbox replies) and `HMSG` with a
//! couple of headers. Two measurements, both reported in operations per second:
//!
//! * `whole_buffer`: the entire buffer is already in memory; parse it to the end.
//! * `reads_64k`: the same bytes arrive in 64 KiB reads, appended to the read
//!   buffer and parsed after each read (exercises partial frames).
//!
//! Run with `cargo bench -p nats-wire --bench parser`; the defaults keep a run
//! to roughly ten seconds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use nats_wire::{HeaderMap, Parser, ServerOp};

const FRAMES: usize = 10_000;
const READ_SIZE: usize = 64 * 1024;

fn msg(out: &mut Vec<u8>, subject: &str, sid: u64, reply: Option<&str>, payload: &[u8]) {
    out.extend_from_slice(format!("MSG {subject} {sid} ").as_bytes());
    if let Some(reply) = reply {
        out.extend_from_slice(reply.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(format!("{}\r\n", payload.len()).as_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

fn hmsg(
    out: &mut Vec<u8>,
    subject: &str,
    sid: u64,
    reply: Option<&str>,
    block: &[u8],
    payload: &[u8],
) {
    out.extend_from_slice(format!("HMSG {subject} {sid} ").as_bytes());
    if let Some(reply) = reply {
        out.extend_from_slice(reply.as_bytes());
        out.push(b' ');
    }
    let total = block.len() + payload.len();
    out.extend_from_slice(format!("{} {total}\r\n", block.len()).as_bytes());
    out.extend_from_slice(block);
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// A deterministic mix of frames, as a server would write them to one connection.
fn read_buffer() -> Vec<u8> {
    let small = [b'a'; 16];
    let medium = [b'm'; 128];
    let large = [b'L'; 1024];
    let mut out = Vec::with_capacity(FRAMES * 400);
    for i in 0..FRAMES as u64 {
        let seq = 1_000 + i;
        let ack = format!("$JS.ACK.ORDERS.c1.1.{seq}.{seq}.1700000000000000000.0");
        match i % 10 {
            0..=2 => msg(&mut out, "orders.us.east.new", 1, None, &small),
            3 => msg(
                &mut out,
                "svc.time",
                2,
                Some("_INBOX.Pc7SbGVxv0EZ5bGNe5Wb4T.1"),
                &small,
            ),
            4 | 5 => msg(&mut out, "ORDERS.received", 3, Some(&ack), &medium),
            6 => msg(&mut out, "ORDERS.received", 3, Some(&ack), &large),
            7 => msg(&mut out, "telemetry.host42.cpu", 4, None, &medium),
            _ => {
                let mut h = HeaderMap::new();
                h.append("Nats-Msg-Id", format!("order-{seq}"));
                h.append("Content-Type", "application/json");
                let mut block = BytesMut::new();
                h.encode(&mut block);
                let payload: &[u8] = if i % 10 == 8 { &medium } else { &small };
                hmsg(&mut out, "ORDERS.received", 5, Some(&ack), &block, payload);
            }
        }
    }
    out
}

fn parse_all(parser: &mut Parser, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while let Some(op) = parser.parse(buf).unwrap() {
        if let ServerOp::Msg(m) = &op {
            black_box(m.sid);
        }
        black_box(op);
        n += 1;
    }
    n
}

fn bench_parser(c: &mut Criterion) {
    let data = read_buffer();
    // Sanity check outside the timed loop.
    {
        let mut buf = BytesMut::from(&data[..]);
        assert_eq!(parse_all(&mut Parser::new(), &mut buf), FRAMES);
        assert!(buf.is_empty());
    }

    let mut group = c.benchmark_group("parser");
    group.throughput(Throughput::Elements(FRAMES as u64));

    let template = BytesMut::from(&data[..]);
    group.bench_function("whole_buffer", |b| {
        b.iter_batched(
            || template.clone(),
            |mut buf| {
                let n = parse_all(&mut Parser::new(), &mut buf);
                debug_assert_eq!(n, FRAMES);
                n
            },
            BatchSize::LargeInput,
        )
    });

    group.bench_function("reads_64k", |b| {
        b.iter(|| {
            let mut parser = Parser::new();
            let mut buf = BytesMut::with_capacity(2 * READ_SIZE);
            let mut n = 0;
            for chunk in data.chunks(READ_SIZE) {
                buf.extend_from_slice(chunk);
                n += parse_all(&mut parser, &mut buf);
            }
            debug_assert_eq!(n, FRAMES);
            n
        })
    });

    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = bench_parser
}
criterion_main!(benches);
