//! Units on the command line: durations (`300`, `90s`, `5m`, `1h`, `7d`) and
//! sizes (`5MiB`). Pure.

use std::time::Duration;

/// Parses `300`, `500ms`, `90s`, `5m`, `1h`, `7d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "" | "s" => Some(Duration::from_secs(n)),
        "m" | "min" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        "d" => n.checked_mul(86_400).map(Duration::from_secs),
        _ => None,
    }
}

/// Writes `d` the way [`parse_duration`] reads it, exactly: `5m`, `90s`,
/// `1h`, `250ms` (never rounded: a configured duration reads back as given).
pub fn show_duration(d: Duration) -> String {
    let (secs, ms) = (d.as_secs(), d.subsec_millis());
    match (secs, ms) {
        (0, ms) => format!("{ms}ms"),
        (s, 0) if s % 86_400 == 0 => format!("{}d", s / 86_400),
        (s, 0) if s % 3600 == 0 => format!("{}h", s / 3600),
        (s, 0) if s % 60 == 0 => format!("{}m", s / 60),
        (s, 0) => format!("{s}s"),
        (s, ms) => format!("{}ms", s * 1000 + u64::from(ms)),
    }
}

/// Parses `123`, `64KiB`, `5MiB`, `1GiB` (also `K`, `M`, `G`, `KB`, `MB`).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("5MiB"), Some(5 << 20));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("5 TB"), None);
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("300"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("5 days"), None);
    }

    #[test]
    fn durations_read_back_as_written() {
        use std::time::Duration;
        for (d, text) in [
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(3600), "1h"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(2 * 86_400), "2d"),
        ] {
            assert_eq!(show_duration(d), text);
            assert_eq!(parse_duration(text), Some(d));
        }
    }
}
