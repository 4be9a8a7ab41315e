//! GitHub Actions workflow commands: escaping, annotations, masks, groups,
//! and `$GITHUB_OUTPUT` file commands, byte-compatible with @actions/core.
//!
//! Owns the wire format only (pure string building); appending to the
//! files the runner names is [`super::files`], and deciding what to
//! annotate belongs to `report`.

use std::fmt::Write as _;

/// Escapes a command's message: `%`, CR and LF, in that order (@actions/core `escapeData`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value: as [`escape_data`], plus `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Renders `::name k=v,…::message` plus a newline. Properties with empty
/// values are left out; like @actions/core, a non-empty property list whose
/// values are all empty still leaves the separating space (`::cmd ::m`).
pub fn command(name: &str, properties: &[(&str, String)], message: &str) -> String {
    let mut out = format!(
        "::{}",
        if name.is_empty() {
            "missing.command"
        } else {
            name
        }
    );
    if !properties.is_empty() {
        out.push(' ');
        let kept: Vec<String> = properties
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", escape_property(v)))
            .collect();
        out.push_str(&kept.join(","));
    }
    let _ = write!(out, "::{}", escape_data(message));
    out.push('\n');
    out
}

/// Annotation severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `::error`
    Error,
    /// `::warning`
    Warning,
    /// `::notice`
    Notice,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// An annotation, optionally pointing at a file position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Annotation {
    /// Short title shown in bold.
    pub title: Option<String>,
    /// Path relative to the repository root.
    pub file: Option<String>,
    /// 1-based start line.
    pub line: Option<usize>,
    /// 1-based end line.
    pub end_line: Option<usize>,
    /// 1-based start column.
    pub col: Option<usize>,
    /// 1-based end column.
    pub end_column: Option<usize>,
}

/// Renders an annotation command (property order as @actions/core emits it).
pub fn annotation(level: Level, message: &str, a: &Annotation) -> String {
    let num = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
    let mut props: Vec<(&str, String)> = Vec::new();
    let all = [
        ("title", a.title.clone().unwrap_or_default()),
        ("file", a.file.clone().unwrap_or_default()),
        ("line", num(a.line)),
        ("endLine", num(a.end_line)),
        ("col", num(a.col)),
        ("endColumn", num(a.end_column)),
    ];
    for (k, v) in all {
        if !v.is_empty() {
            props.push((k, v));
        }
    }
    command(level.name(), &props, message)
}

/// `::add-mask::` lines for a secret: the whole value (as @actions/core
/// `setSecret` does) and, for a multi-line secret, each line on its own so
/// the runner masks every line wherever it appears.
pub fn add_mask(secret: &str) -> String {
    let mut out = String::new();
    if secret.is_empty() {
        return out;
    }
    out.push_str(&command("add-mask", &[], secret));
    if secret.contains(['\n', '\r']) {
        for line in secret
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.trim().is_empty())
        {
            out.push_str(&command("add-mask", &[], line));
        }
    }
    out
}

/// Errors from file commands.
#[derive(Debug, thiserror::Error)]
pub enum FileCommandError {
    /// The name or value contains the heredoc delimiter.
    #[error("Unexpected input: {what} should not contain the delimiter \"{delimiter}\"")]
    Delimiter {
        /// `name` or `value`.
        what: &'static str,
        /// The delimiter.
        delimiter: String,
    },
    /// The file could not be appended to.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Formats `name<<DELIM`, value, `DELIM` without the final newline
/// (@actions/core `prepareKeyValueMessage`).
pub fn key_value_message(
    name: &str,
    value: &str,
    delimiter: &str,
) -> Result<String, FileCommandError> {
    if name.contains(delimiter) {
        return Err(FileCommandError::Delimiter {
            what: "name",
            delimiter: delimiter.to_owned(),
        });
    }
    if value.contains(delimiter) {
        return Err(FileCommandError::Delimiter {
            what: "value",
            delimiter: delimiter.to_owned(),
        });
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_table() {
        for (input, data, property) in [
            ("100%", "100%25", "100%25"),
            ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
            ("k: v, w", "k: v, w", "k%3A v%2C w"),
            (
                "::stop-commands::x",
                "::stop-commands::x",
                "%3A%3Astop-commands%3A%3Ax",
            ),
            ("%0A", "%250A", "%250A"),
        ] {
            assert_eq!(escape_data(input), data, "{input:?}");
            assert_eq!(escape_property(input), property, "{input:?}");
        }
    }

    #[test]
    fn untrusted_text_never_starts_a_command_line() {
        // A newline inside a message is escaped, so `::` can never begin a new line.
        let out = annotation(Level::Error, "bad\n::add-mask::x", &Annotation::default());
        assert_eq!(out.matches('\n').count(), 1);
        assert_eq!(out, "::error::bad%0A::add-mask::x\n");
    }

    #[test]
    fn multi_line_secrets_are_masked_line_by_line() {
        assert_eq!(
            add_mask("a\nb"),
            "::add-mask::a%0Ab\n::add-mask::a\n::add-mask::b\n"
        );
        assert_eq!(add_mask(""), "");
    }

    #[test]
    fn delimiter_in_value_is_refused() {
        assert!(key_value_message("n", "x ghadelimiter_1 y", "ghadelimiter_1").is_err());
        assert_eq!(key_value_message("n", "v", "D").expect("ok"), "n<<D\nv\nD");
    }
}
