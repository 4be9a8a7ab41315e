//! Scalar representation: how a value is written (`Repr`, `ScalarStyle`) and
//! whether a plain scalar would be read as something other than a string.
//!
//! Owns the quoting decision for new values. Does not own parsing: spans and
//! decoded values come from `tree`.

use granit_parser::ScalarStyle;

/// The raw text of a scalar as it appears in the file, quotes included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repr(pub String);

/// Returns true if and only if `value`, written as a plain scalar, would be
/// read as a string by every YAML loader Kubernetes tooling uses.
///
/// Kubernetes reads YAML 1.1 (go-yaml v2 via sigs.k8s.io/yaml) while newer
/// tools read YAML 1.2, so a value must be a string under both schemas:
/// `1.10`, `0e1234`, `706798e8`, `123456`, `yes`, `on`, `0x1F`, `012`,
/// `2024-01-15` and `1_000` all need quotes.
pub fn plain_is_string(value: &str) -> bool {
    !(is_null(value)
        || is_bool(value)
        || is_int(value)
        || is_float(value)
        || is_timestamp(value)
        || matches!(value, "<<" | "="))
}

/// Renders `value` in the given style, or `None` if that style cannot hold it
/// without escapes or a change of type.
pub fn render(value: &str, style: ScalarStyle) -> Option<Repr> {
    match style {
        ScalarStyle::Plain => {
            (plain_is_string(value) && plain_safe(value)).then(|| Repr(value.to_owned()))
        }
        ScalarStyle::SingleQuoted => (!value.contains(['\n', '\r']))
            .then(|| Repr(format!("'{}'", value.replace('\'', "''")))),
        ScalarStyle::DoubleQuoted => Some(Repr(double_quoted(value))),
        ScalarStyle::Literal | ScalarStyle::Folded => None,
    }
}

/// Renders `value` keeping `style` when feasible and falling back to double
/// quotes, so the YAML type of the field stays a string.
pub fn render_keeping_style(value: &str, style: ScalarStyle) -> Option<Repr> {
    match style {
        ScalarStyle::Literal | ScalarStyle::Folded => None,
        _ => render(value, style).or_else(|| render(value, ScalarStyle::DoubleQuoted)),
    }
}

/// Returns true if and only if `raw` is exactly `value` in `style` with no
/// escapes and no line folding, so a sub-range of the value maps 1:1 onto raw
/// bytes.
pub fn is_verbatim(raw: &str, value: &str, style: ScalarStyle) -> bool {
    match style {
        ScalarStyle::Plain => raw == value,
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            raw.len() == value.len() + 2
                && &raw[1..raw.len() - 1] == value
                && !value.contains(['\\', '\'', '"'])
        }
        ScalarStyle::Literal | ScalarStyle::Folded => false,
    }
}

// Characters that cannot start a plain scalar, or that end it in some context.
// Image references never contain these, so refusing them is cheap insurance.
fn plain_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace() {
        return false;
    }
    if value.ends_with(char::is_whitespace)
        || value.contains(": ")
        || value.contains(" #")
        || value.ends_with(':')
    {
        return false;
    }
    value
        .chars()
        .all(|c| !c.is_control() && !",[]{}".contains(c))
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_null(v: &str) -> bool {
    matches!(v, "" | "~" | "null" | "Null" | "NULL")
}

fn is_bool(v: &str) -> bool {
    // YAML 1.2 core plus the YAML 1.1 forms go-yaml v2 still honours.
    matches!(
        v,
        "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "y"
            | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn strip_sign(v: &str) -> &str {
    v.strip_prefix(['+', '-']).unwrap_or(v)
}

fn all(v: &str, f: impl Fn(char) -> bool) -> bool {
    !v.is_empty() && v.chars().all(f)
}

fn is_int(v: &str) -> bool {
    let u = strip_sign(v);
    if let Some(rest) = u.strip_prefix("0x").or_else(|| u.strip_prefix("0X")) {
        return all(rest, |c| c.is_ascii_hexdigit() || c == '_');
    }
    if let Some(rest) = u.strip_prefix("0o") {
        return all(rest, |c| ('0'..='7').contains(&c));
    }
    if let Some(rest) = u.strip_prefix("0b") {
        return all(rest, |c| c == '0' || c == '1' || c == '_');
    }
    // Decimal, YAML 1.1 octal (`012`) and underscores (`1_000`) all read as ints.
    if u.starts_with(|c: char| c.is_ascii_digit()) && all(u, |c| c.is_ascii_digit() || c == '_') {
        return true;
    }
    is_sexagesimal(u, false)
}

fn is_float(v: &str) -> bool {
    let u = strip_sign(v);
    if matches!(u, ".inf" | ".Inf" | ".INF") || matches!(v, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    // mantissa: digits/underscores with at most one '.', at least one digit.
    let (mantissa, exponent) = match u.find(['e', 'E']) {
        Some(i) => (&u[..i], Some(&u[i + 1..])),
        None => (u, None),
    };
    let digits = mantissa.chars().filter(char::is_ascii_digit).count();
    let dots = mantissa.matches('.').count();
    let mantissa_ok = digits > 0
        && dots <= 1
        && mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '_')
        && !mantissa.starts_with('_');
    // YAML 1.1 also allows `1.2.3`-free forms like `1.` and `.5`; both covered above.
    let exponent_ok = match exponent {
        None => dots == 1,
        Some(e) => {
            let e = strip_sign(e);
            all(e, |c| c.is_ascii_digit())
        }
    };
    (mantissa_ok && exponent_ok) || is_sexagesimal(u, true)
}

// YAML 1.1 base 60: `1:30` (int) and `1:30.5` (float).
fn is_sexagesimal(u: &str, float: bool) -> bool {
    let mut parts = u.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    if !(head.starts_with(|c: char| ('1'..='9').contains(&c))
        && all(head, |c| c.is_ascii_digit() || c == '_'))
    {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    let Some((last, middle)) = rest.split_last() else {
        return false;
    };
    let sixty = |p: &str| {
        p.len() <= 2 && all(p, |c| c.is_ascii_digit()) && p.parse::<u8>().is_ok_and(|n| n < 60)
    };
    if !middle.iter().all(|p| sixty(p)) {
        return false;
    }
    if float {
        match last.split_once('.') {
            Some((a, b)) => sixty(a) && b.chars().all(|c| c.is_ascii_digit() || c == '_'),
            None => false,
        }
    } else {
        sixty(last)
    }
}

// YAML 1.1 timestamps: `2001-12-14`, `2001-12-14t21:59:43.10-05:00`, ...
fn is_timestamp(v: &str) -> bool {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let Some((year, rest)) = v.split_once('-') else {
        return false;
    };
    let Some((month, day)) = rest.split_once('-') else {
        return false;
    };
    let day_len = digits(day);
    let tail = &day[day_len..];
    year.len() == 4
        && digits(year) == 4
        && (1..=2).contains(&month.len())
        && digits(month) == month.len()
        && (1..=2).contains(&day_len)
        && (tail.is_empty() || tail.starts_with(['t', 'T', ' ', '\t']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_strings_need_quotes() {
        for v in [
            "1.10",
            "0e1234",
            "706798e8",
            "123456",
            "true",
            "null",
            "0x1F",
            "012",
            "yes",
            "on",
            "Off",
            "y",
            "~",
            "1_000",
            "1e3",
            "-1",
            "+2.5",
            ".5",
            "1.",
            ".inf",
            ".NaN",
            "2024-01-15",
            "2001-12-14t21:59:43.10-05:00",
            "1:30",
            "190:20:30.15",
            "0b1010",
            "0o17",
            "",
            "1__",
        ] {
            assert!(!plain_is_string(v), "{v:?} should need quotes");
        }
    }

    #[test]
    fn strings_stay_plain() {
        for v in [
            "v1.10",
            "1.2.3",
            "sha-5b09d68",
            "main",
            "latest",
            "1.43.3.10896",
            "v2",
            "1.2.3-rc.1",
            "20240115-abc",
            "5b09d68e",
            "e8",
            "1e",
            "0x",
            "1.2e",
            "nginx:1.25",
            "2024-01-15-abc",
            "1-2",
            "_1",
            "yesplease",
        ] {
            assert!(plain_is_string(v), "{v:?} should stay plain");
        }
    }

    #[test]
    fn render_falls_back_to_double_quotes() {
        assert_eq!(
            render_keeping_style("1.10", ScalarStyle::Plain),
            Some(Repr("\"1.10\"".into()))
        );
        assert_eq!(
            render_keeping_style("v1.10", ScalarStyle::Plain),
            Some(Repr("v1.10".into()))
        );
        assert_eq!(
            render_keeping_style("1.10", ScalarStyle::SingleQuoted),
            Some(Repr("'1.10'".into()))
        );
        assert_eq!(
            render_keeping_style("it's", ScalarStyle::SingleQuoted),
            Some(Repr("'it''s'".into()))
        );
        assert_eq!(render_keeping_style("x", ScalarStyle::Literal), None);
    }

    #[test]
    fn verbatim_detection() {
        assert!(is_verbatim("\"v1\"", "v1", ScalarStyle::DoubleQuoted));
        assert!(!is_verbatim(
            "\"v\\u0031\"",
            "v1",
            ScalarStyle::DoubleQuoted
        ));
        assert!(!is_verbatim("a\n  b", "a b", ScalarStyle::Plain));
    }
}
