//! Numbers as the server writes them in ASCII: sequences, counts and
//! timestamps in `$JS.ACK` subjects, publish acks and `Nats-Time-Stamp`
//! headers, read on every message without `str::parse`.

/// The value of an unsigned decimal token (as the server writes sequences,
/// counts and nanosecond timestamps): digits only, no sign, no overflow.
/// Eight digits at a time where there are eight (a timestamp has nineteen).
pub(crate) fn decimal(digits: &[u8]) -> Option<u64> {
    // Up to 19 digits cannot overflow: no checked arithmetic per digit.
    let (head, last) = match digits.len() {
        0 => return None,
        1..=19 => (digits, None),
        20 => (&digits[..19], Some(digits[19])),
        _ => return None,
    };
    let mut value = 0u64;
    let mut rest = head;
    // At most two rounds (16 of 19 digits): `value` stays below 10^16 before the last.
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        value = value * 100_000_000 + eight_digits(*chunk)?;
        rest = tail;
    }
    for &d in rest {
        value = value * 10 + digit(d)?;
    }
    match last {
        None => Some(value),
        Some(d) => value.checked_mul(10)?.checked_add(digit(d)?),
    }
}

#[inline]
fn digit(d: u8) -> Option<u64> {
    let digit = d.wrapping_sub(b'0');
    (digit <= 9).then_some(u64::from(digit))
}

/// The value of eight ASCII digits, the first the most significant; `None` if
/// any byte is not a digit.
#[inline]
fn eight_digits(chunk: [u8; 8]) -> Option<u64> {
    const HIGH: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    // The first byte is the least significant of the little-endian word.
    let word = u64::from_le_bytes(chunk);
    // A digit is 0x30..=0x39: its high nibble is 3, and still 3 after adding 6
    // (0x3a and up reach 0x40). A byte that is no digit fails on its own nibble
    // whatever a carry out of it does to the next.
    let nibbles = (word & HIGH) | ((word.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4);
    if nibbles != 0x3333_3333_3333_3333 {
        return None;
    }
    let d = word & 0x0f0f_0f0f_0f0f_0f0f;
    // Pairs: each even byte becomes ten times itself plus the next (two digits, < 100).
    let pairs = d.wrapping_mul(10).wrapping_add(d >> 8) & 0x00ff_00ff_00ff_00ff;
    // Quads: each even 16-bit lane becomes a hundred times itself plus the next (< 10^4).
    let quads = pairs.wrapping_mul(100).wrapping_add(pairs >> 16) & 0x0000_ffff_0000_ffff;
    // The two quads: the low one is the more significant.
    Some((quads & 0xffff) * 10_000 + (quads >> 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_up_to_u64_max_and_nothing_else() {
        assert_eq!(decimal(b"0"), Some(0));
        assert_eq!(decimal(b"0042"), Some(42));
        assert_eq!(decimal(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"18446744073709551616",
            b"99999999999999999999",
            b"000000000000000000001",
            b"+1",
            b"-1",
            b"1x",
            b"1844674407370955161x",
            b" 1",
        ] {
            assert_eq!(decimal(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn decimals_of_every_length_agree_with_str_parse() {
        for state in crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15u64).take(20_000) {
            let len = (state % 21) as usize;
            let text: String = (0..len)
                .map(|i| char::from(b'0' + ((state >> (i % 16 * 4)) % 10) as u8))
                .collect();
            assert_eq!(decimal(text.as_bytes()), text.parse::<u64>().ok(), "{text}");
            // One byte that is not a digit, anywhere: never a number.
            for bad in [b'/', b':', b'a', b' ', 0xff, 0x00, 0xb0] {
                for at in 0..len {
                    let mut bytes = text.clone().into_bytes();
                    bytes[at] = bad;
                    assert_eq!(decimal(&bytes), None, "{bytes:?}");
                }
            }
        }
        assert_eq!(
            decimal(b"1733500000123456789"),
            Some(1_733_500_000_123_456_789)
        );
        assert_eq!(decimal(b"12345678"), Some(12_345_678));
        assert_eq!(decimal(b"99999999"), Some(99_999_999));
        assert_eq!(decimal(b"00000000"), Some(0));
    }
}
