//! Feeds arbitrary bytes, in arbitrary chunk splits, to the parser.
//!
//! Input layout: byte 0 selects the parser limit and how many of the following
//! bytes are chunk sizes; the rest is the byte stream. Asserts that parsing
//! never panics, that `Ok(None)` never consumes or changes the buffer, and that
//! the chunked run yields the same operations and error as parsing the stream
//! in one piece.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use nats_wire::{Error, Parser, ServerOp};

struct Outcome {
    ops: Vec<ServerOp>,
    error: Option<Error>,
}

fn run(mut parser: Parser, data: &[u8], sizes: &[usize]) -> Outcome {
    // Consecutive chunks of the given sizes, the rest as one last chunk.
    let mut chunks = Vec::new();
    let mut pos = 0;
    for &size in sizes {
        if pos >= data.len() {
            break;
        }
        let end = (pos + size).min(data.len());
        chunks.push(&data[pos..end]);
        pos = end;
    }
    if pos < data.len() || chunks.is_empty() {
        chunks.push(&data[pos..]);
    }

    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.clone();
            match parser.parse(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => {
                    assert_eq!(buf, before, "Ok(None) changed the buffer");
                    break;
                }
                Err(e) => {
                    return Outcome {
                        ops,
                        error: Some(e),
                    }
                }
            }
        }
    }
    Outcome { ops, error: None }
}

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, rest)) = input.split_first() else {
        return;
    };
    let n_sizes = usize::from(ctl & 0x0f).min(rest.len());
    let (size_bytes, data) = rest.split_at(n_sizes);
    let sizes: Vec<usize> = size_bytes.iter().map(|&b| usize::from(b) + 1).collect();
    let parser = match ctl >> 4 {
        0 => Parser::with_max_payload(0),
        1 => Parser::with_max_payload(16),
        2 => Parser::with_max_payload(256),
        _ => Parser::new(),
    };

    let whole = run(parser.clone(), data, &[]);
    let chunked = run(parser.clone(), data, &sizes);
    assert_eq!(chunked.ops, whole.ops);
    assert_eq!(chunked.error, whole.error);
    let bytewise = run(parser, data, &vec![1; data.len()]);
    assert_eq!(bytewise.ops, whole.ops);
    assert_eq!(bytewise.error, whole.error);
});
