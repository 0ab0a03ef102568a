//! Feeds arbitrary bytes to `HeaderMap::parse`. Asserts no panic, and that any
//! block it accepts re-encodes into a block that parses to the same map.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use nats_wire::HeaderMap;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = HeaderMap::parse(Bytes::copy_from_slice(data)) {
        let mut buf = BytesMut::new();
        parsed.encode(&mut buf);
        assert_eq!(buf.len(), parsed.encoded_len());
        let again = HeaderMap::parse(buf.freeze()).expect("re-encoded block parses");
        assert_eq!(again, parsed);
    }
});
