//! Numbers as the server writes them in ASCII: sequences, counts and
//! timestamps in `$JS.ACK` subjects, publish acks and `Nats-Time-Stamp`
//! headers, read on every message without `str::parse`.

/// The value of an unsigned decimal token (as the server writes sequences,
/// counts and nanosecond timestamps): digits only, no sign, no overflow.
pub(crate) fn decimal(digits: &[u8]) -> Option<u64> {
    // Up to 19 digits cannot overflow: no checked arithmetic per digit.
    let (head, last) = match digits.len() {
        0 => return None,
        1..=19 => (digits, None),
        20 => (&digits[..19], Some(digits[19])),
        _ => return None,
    };
    let mut value = 0u64;
    for &d in head {
        let digit = d.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u64::from(digit);
    }
    match last {
        None => Some(value),
        Some(d) => {
            let digit = d.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            value.checked_mul(10)?.checked_add(u64::from(digit))
        }
    }
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
}
