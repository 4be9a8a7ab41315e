//! Ordering helpers that are not semver: Go's `strconv.ParseFloat` (Flux's numerical policy),
//! the heuristics behind the "probably not what you meant" warnings (date-like and mutable
//! tags), and the display of build times.
//!
//! This module does not decide winners or tie-breaks (`mod.rs`) and does no I/O.

use std::sync::LazyLock;

use regex::Regex;

/// Parses like Go's `strconv.ParseFloat(s, 64)`, returning `None` where Go returns an error.
///
/// Accepted like Go: optional sign, decimal digits with one optional `.` and an optional
/// `e`/`E` exponent, hexadecimal mantissas (`0x1p4`) only with a `p` exponent, `_` digit
/// separators where Go allows them, `inf`/`infinity` (signed) and `nan` in any case. Rejected
/// like Go: surrounding spaces, `0x10`, `v1`, and finite values that overflow to infinity.
pub fn go_parse_float(s: &str) -> Option<f64> {
    if let Some(v) = special(s) {
        return Some(v);
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut neg = false;
    if let Some(&c @ (b'+' | b'-')) = b.first() {
        neg = c == b'-';
        i = 1;
    }
    let hex = i + 2 < b.len() && b[i] == b'0' && b[i + 1].eq_ignore_ascii_case(&b'x');
    if hex {
        i += 2;
    }
    let (mut saw_dot, mut saw_digits, mut underscores) = (false, false, false);
    let mut mant = String::new();
    while let Some(&c) = b.get(i) {
        if c == b'_' {
            underscores = true;
        } else if c == b'.' {
            if saw_dot {
                break;
            }
            saw_dot = true;
            mant.push('.');
        } else if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw_digits = true;
            mant.push(c as char);
        } else {
            break;
        }
        i += 1;
    }
    if !saw_digits {
        return None;
    }
    let mut exp: i64 = 0;
    let exp_char = if hex { b'p' } else { b'e' };
    let has_exp = b.get(i).is_some_and(|c| c.to_ascii_lowercase() == exp_char);
    if has_exp {
        i += 1;
        let mut sign = 1;
        if let Some(&c @ (b'+' | b'-')) = b.get(i) {
            sign = if c == b'-' { -1 } else { 1 };
            i += 1;
        }
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while let Some(&c) = b.get(i) {
            if c == b'_' {
                underscores = true;
            } else if c.is_ascii_digit() {
                if exp < 10_000 {
                    exp = exp * 10 + i64::from(c - b'0');
                }
            } else {
                break;
            }
            i += 1;
        }
        exp *= sign;
    }
    if i != b.len() || (hex && !has_exp) || (underscores && !underscore_ok(s)) {
        return None;
    }
    let v = if hex {
        hex_value(&mant, exp)
    } else {
        format!("{mant}e{exp}").parse::<f64>().ok()?
    };
    if v.is_infinite() {
        return None; // Go reports ErrRange.
    }
    Some(if neg { -v } else { v })
}

/// Returns true if and only if `s` looks like a date or a time stamp: `YYYYMMDD`, `YYYY-MM-DD`
/// (with `-`, `.` or `_`), RFC 3339-like, or 10/13-digit Unix seconds/milliseconds.
pub fn looks_like_time(s: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?:^|[^0-9])(?:(?:19|20)[0-9]{2}[-._]?(?:0[1-9]|1[0-2])[-._]?(?:0[1-9]|[12][0-9]|3[01])|1[0-9]{9}(?:[0-9]{3})?)(?:[^0-9]|$)",
        )
        .expect("impossible: the date regex is a constant")
    });
    RE.is_match(s)
}

/// Compares like people read version-ish text: runs of ASCII digits as numbers (`9` < `14`,
/// leading zeros ignored), everything else byte-wise; the plain byte order breaks ties.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (ra, rb) = (runs(a), runs(b));
    for (x, y) in ra.iter().zip(&rb) {
        let by = if is_digits(x) && is_digits(y) {
            cmp_digits(x, y)
        } else {
            x.as_bytes().cmp(y.as_bytes())
        };
        if by.is_ne() {
            return by;
        }
    }
    ra.len().cmp(&rb.len()).then_with(|| a.cmp(b))
}

/// The byte range in `b` of the first digit run that compares differently as a number than
/// as text against its counterpart in `a` (`14` in `1.0.0-14` against `1.0.0-9`), when the
/// runs before it are equal.
pub fn text_number_divergence(a: &str, b: &str) -> Option<std::ops::Range<usize>> {
    let mut at = 0;
    for (x, y) in runs(a).iter().zip(runs(b)) {
        if x != &y {
            let as_number = cmp_digits(x, y);
            let as_text = x.as_bytes().cmp(y.as_bytes());
            return (is_digits(x) && is_digits(y) && as_number != as_text)
                .then(|| at..at + y.len());
        }
        at += y.len();
    }
    None
}

/// Compares two runs of ASCII digits as numbers of any length.
pub fn cmp_digits(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Returns true if and only if `s` is one or more ASCII digits.
pub fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Returns true if and only if `tag` is a conventional moving tag (`latest`, `main`, …).
pub fn is_mutable_tag(tag: &str) -> bool {
    const MUTABLE: &[&str] = &[
        "latest", "main", "master", "stable", "edge", "dev", "develop", "nightly", "head", "trunk",
        "release",
    ];
    MUTABLE.iter().any(|m| m.eq_ignore_ascii_case(tag))
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC, proleptic Gregorian).
pub fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses an RFC 3339 time (`2024-01-02T03:04:05Z`, `…05.123456789Z`, `…05+02:00`), as image
/// configs write `created`, into Unix seconds (fractions dropped). `None` when it is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        if d.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(d).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let v = |i: usize| i64::from(digits[i] - b'0');
            let secs = (v(0) * 10 + v(1)) * 3600 + (v(2) * 10 + v(3)) * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    // Howard Hinnant's days_from_civil, the inverse of format_unix.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

// ---------------------------------------------------------------------------------------------
// Private helpers.

/// Maximal runs of ASCII digits and of other characters.
fn runs(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = s.as_bytes();
    for i in 1..=b.len() {
        if i == b.len() || b[i].is_ascii_digit() != b[i - 1].is_ascii_digit() {
            out.push(&s[start..i]);
            start = i;
        }
    }
    out
}

/// Go's `special`: `[+-]inf`, `[+-]infinity`, `nan` (no sign), any case, whole string.
fn special(s: &str) -> Option<f64> {
    let (sign, body) = match s.as_bytes().first() {
        Some(b'+') => (1.0, &s[1..]),
        Some(b'-') => (-1.0, &s[1..]),
        _ => {
            if s.eq_ignore_ascii_case("nan") {
                return Some(f64::NAN);
            }
            (1.0, s)
        }
    };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(sign * f64::INFINITY);
    }
    None
}

/// Go's `underscoreOK`: `_` only between digits, or between a base prefix and a digit.
fn underscore_ok(s: &str) -> bool {
    let mut b = s.as_bytes();
    if let Some(b'+' | b'-') = b.first() {
        b = &b[1..];
    }
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// The value of a hexadecimal mantissa (digits and at most one `.`) times 2^`exp`.
fn hex_value(mant: &str, exp: i64) -> f64 {
    let mut m: u64 = 0;
    let mut shift: i64 = exp;
    let mut after_dot = false;
    let mut kept = 0;
    for c in mant.chars() {
        if c == '.' {
            after_dot = true;
            continue;
        }
        let d = u64::from(c.to_digit(16).unwrap_or(0));
        if kept < 16 {
            m = m * 16 + d;
            if m != 0 {
                kept += 1;
            }
            if after_dot {
                shift -= 4;
            }
        } else if !after_dot {
            shift += 4; // Dropped integer digits still scale the value.
        }
    }
    let e = i32::try_from(shift.clamp(-2000, 2000)).unwrap_or(0);
    // Two steps keep intermediate powers of two representable.
    (m as f64) * 2f64.powi(e / 2) * 2f64.powi(e - e / 2)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parse_float_follows_go() {
        for (s, v) in [
            ("1e1", 10.0),
            ("+5", 5.0),
            ("1_000", 1000.0),
            ("0x1p4", 16.0),
            ("1.", 1.0),
            (".5", 0.5),
            ("-Inf", f64::NEG_INFINITY),
            ("0x1.8p1", 3.0),
        ] {
            assert_eq!(go_parse_float(s), Some(v), "{s}");
        }
        assert!(go_parse_float("NaN").is_some_and(f64::is_nan));
        for s in [
            "0x10", " 1", "v1", "1_", "_1", "1e", "", ".", "+nan", "1e400", "infinit",
        ] {
            assert_eq!(go_parse_float(s), None, "{s:?}");
        }
    }

    #[test]
    fn natural_order_reads_digit_runs_as_numbers() {
        use std::cmp::Ordering::*;
        assert_eq!(natural_cmp("1.0.0-9", "1.0.0-14"), Less);
        assert_eq!(natural_cmp("v1.10", "v1.9"), Greater);
        assert_eq!(natural_cmp("b", "a10"), Greater);
        assert_eq!(natural_cmp("x-01", "x-1"), Less, "bytes break ties");
        assert_eq!(natural_cmp("", "1"), Less);
        assert_eq!(text_number_divergence("1.0.0-9", "1.0.0-14"), Some(6..8));
        assert_eq!(text_number_divergence("1.0.0-1", "1.0.0-14"), None);
        assert_eq!(text_number_divergence("a-9", "b-10"), None);
        assert_eq!(cmp_digits("007", "10"), Less);
    }

    #[test]
    fn time_like_tags() {
        for t in [
            "20240101",
            "2024-01-02T10-00-00Z",
            "main-1700000000",
            "v2024.01.05",
        ] {
            assert!(looks_like_time(t), "{t}");
        }
        for t in ["1.2.3", "16.04", "abc123", "12345"] {
            assert!(!looks_like_time(t), "{t}");
        }
    }

    #[test]
    fn rfc3339_parsing_inverts_formatting() {
        for secs in [0, 1_704_067_200, 951_782_400, 4_102_444_799, -86_400] {
            assert_eq!(parse_rfc3339(&format_unix(secs)), Some(secs), "{secs}");
        }
        assert_eq!(
            parse_rfc3339("2024-01-01T00:00:00.123456789Z"),
            Some(1_704_067_200)
        );
        assert_eq!(
            parse_rfc3339("2024-01-01T02:00:00+02:00"),
            Some(1_704_067_200)
        );
        assert_eq!(
            parse_rfc3339("2023-12-31T19:00:00-05:00"),
            Some(1_704_067_200)
        );
        for bad in [
            "",
            "2024-01-01",
            "2024-13-01T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "x024-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn unix_formatting() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_unix(-1), "1969-12-31T23:59:59Z");
    }
}
