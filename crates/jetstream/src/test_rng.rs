//! Pseudo-random input for the tests that check a fast path against a slow one.

/// The xorshift64 sequence after `seed` (a non-zero start): cheap, reproducible, no crate.
pub(crate) fn xorshift(seed: u64) -> impl Iterator<Item = u64> {
    std::iter::successors(Some(seed), |&state| {
        let mut s = state;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        Some(s)
    })
    .skip(1)
}
