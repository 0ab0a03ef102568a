//! The guide in `docs/`, the repository's README and the crate's README, compiled as doctests:
//! `cargo test --doc` builds every Rust block of them (they are `no_run`: they need a server).

#[doc = include_str!("../../../README.md")]
struct RepositoryReadMe;

#[doc = include_str!("../README.md")]
struct ReadMe;

#[doc = include_str!("../../../docs/README.md")]
struct Guide;

#[doc = include_str!("../../../docs/connecting.md")]
struct Connecting;

#[doc = include_str!("../../../docs/streams.md")]
struct Streams;

#[doc = include_str!("../../../docs/consumers.md")]
struct Consumers;

#[doc = include_str!("../../../docs/receiving.md")]
struct Receiving;

#[doc = include_str!("../../../docs/ordered-consumers.md")]
struct OrderedConsumers;

#[doc = include_str!("../../../docs/publishing.md")]
struct Publishing;

#[cfg(feature = "kv")]
#[doc = include_str!("../../../docs/key-value.md")]
struct KeyValue;

#[cfg(feature = "object-store")]
#[doc = include_str!("../../../docs/object-store.md")]
struct ObjectStore;

#[doc = include_str!("../../../docs/errors.md")]
struct Errors;

#[doc = include_str!("../../../docs/faults.md")]
struct Faults;

#[doc = include_str!("../../../docs/performance.md")]
struct Performance;

#[doc = include_str!("../../../docs/from-go.md")]
struct FromGo;

#[doc = include_str!("../../../docs/from-async-nats.md")]
struct FromAsyncNats;
