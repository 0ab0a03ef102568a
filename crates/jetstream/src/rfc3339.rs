//! Reading the `Nats-Time-Stamp` header of every direct get reply: the server
//! writes RFC 3339 in UTC (`2026-12-07T06:13:12.123456789Z`), which is read
//! here by position; any other form goes to jiff's general parser.

use jiff::Timestamp;

/// The instant `text` names: RFC 3339, as the server writes it or otherwise.
pub(crate) fn parse(text: &str) -> Option<Timestamp> {
    utc(text.as_bytes()).or_else(|| text.parse().ok())
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with a valid date and time (no leap
/// second), else `None`.
fn utc(b: &[u8]) -> Option<Timestamp> {
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[b.len() - 1] != b'Z'
    {
        return None;
    }
    let year = two(b, 0)? * 100 + two(b, 2)?;
    let month = two(b, 5)?;
    let day = two(b, 8)?;
    let hour = two(b, 11)?;
    let minute = two(b, 14)?;
    let second = two(b, 17)?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            digits(fraction)? * SCALE.get(fraction.len())?
        }
        _ => return None,
    };
    let days = days_since_epoch(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    Timestamp::new(seconds, i32::try_from(nanos).ok()?).ok()
}

/// The value of the ASCII digits of one field (at most 9).
/// Nanoseconds per unit of a fraction of `i` digits.
const SCALE: [i64; 10] = [
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

/// The two digits at `at` (the caller checked the length).
#[inline]
fn two(b: &[u8], at: usize) -> Option<i64> {
    let tens = b.get(at)?.wrapping_sub(b'0');
    let ones = b.get(at + 1)?.wrapping_sub(b'0');
    (tens <= 9 && ones <= 9).then(|| i64::from(tens) * 10 + i64::from(ones))
}

fn digits(b: &[u8]) -> Option<i64> {
    i64::try_from(crate::ascii::decimal(b)?).ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian
/// calendar: years counted from March (so the leap day ends a year), in
/// 400-year cycles of 146 097 days.
fn days_since_epoch(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let cycle = year.div_euclid(400);
    let year_of_cycle = year - cycle * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;
    cycle * 146_097 + day_of_cycle - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_form_reads_as_jiff_reads_it() {
        // Instants from 0001 to 9999 in uneven steps (leap days, month ends,
        // centuries), with fractions of every length.
        let mut seconds = -62_135_596_800i64; // 0001-01-01T00:00:00Z
        let mut step = 0i64;
        while seconds < 253_400_000_000 {
            let nanos = (step * 7_919_777) % 1_000_000_000;
            let t = Timestamp::new(seconds, nanos as i32).unwrap();
            // jiff writes the shortest fraction; the server writes up to 9 digits.
            for text in [
                t.to_string(),
                format!("{}.{nanos:09}Z", t.strftime("%Y-%m-%dT%H:%M:%S")),
            ] {
                assert_eq!(utc(text.as_bytes()), Some(t), "{text}");
                assert_eq!(text.parse::<Timestamp>().ok(), Some(t), "{text}");
            }
            step += 1;
            seconds += 86_400 * 127 + 3_607 * (step % 29) + step % 61;
        }
        assert!(step > 20_000, "{step}");
        // Around leap days, and century years that are (2000) and are not (1900, 2100).
        for day in [
            "1900-02-28",
            "1900-03-01",
            "2000-02-29",
            "2000-03-01",
            "2100-02-28",
            "2100-03-01",
        ] {
            let text = format!("{day}T12:00:00Z");
            assert_eq!(utc(text.as_bytes()), text.parse().ok(), "{text}");
        }
    }

    #[test]
    fn other_forms_go_to_jiff_and_bad_ones_fail() {
        let t = parse("2026-12-07T07:13:12.5+01:00").unwrap();
        assert_eq!(t, parse("2026-12-07T06:13:12.5Z").unwrap());
        assert_eq!(
            parse("2024-02-29T23:59:59.000000001Z").unwrap(),
            Timestamp::new(1_709_251_199, 1).unwrap()
        );
        for bad in [
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-07T24:00:00Z",
            "2026-12-07T06:13:12.Z",
            "2026-12-07T06:13:12.1234567890Z",
            "2026-12-07T06:13:12",
            "2026-12-07 06:13:12Z",
            "20a6-12-07T06:13:12Z",
            "2026-1/-07T06:13:12Z",
            "2026-12-07T06:1:12Z",
            "2026-12-07T06:13:1xZ",
            "2026-12-07T06:13:12.12a4Z",
            "",
        ] {
            assert_eq!(utc(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(parse("yesterday"), None);
    }
}
