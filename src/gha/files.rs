//! The files a GitHub Actions runner names for a step: `$GITHUB_OUTPUT`
//! (outputs as heredoc file commands) and `$GITHUB_STEP_SUMMARY` (Markdown).
//! Owns appending to them; what goes in them belongs to `report`.

use std::io::Write;
use std::path::Path;

use super::commands::{FileCommandError, key_value_message};

/// Appends an output to the `$GITHUB_OUTPUT` file with a fresh random delimiter.
pub fn append_output(path: &Path, name: &str, value: &str) -> Result<(), FileCommandError> {
    let delimiter = format!("ghadelimiter_{}", uuid::Uuid::new_v4());
    let text = key_value_message(name, value, &delimiter)? + "\n";
    let io = |source| FileCommandError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)
}

/// Appends Markdown to the `$GITHUB_STEP_SUMMARY` file.
pub fn append_summary(path: &Path, markdown: &str) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| format!("$GITHUB_STEP_SUMMARY {}: {e}", path.display()))?;
    f.write_all(markdown.as_bytes())
        .map_err(|e| format!("$GITHUB_STEP_SUMMARY {}: {e}", path.display()))
}
