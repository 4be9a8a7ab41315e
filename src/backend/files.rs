//! Which files a backend offers to the spine: `--files` globs (where `*`
//! never crosses `/`), `--exclude` globs, the size cap, and exact paths a
//! backend may fetch by name. Pure; the backends do the reading.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::finding::{Finding, Kind, Location};

/// Default `--files` patterns.
pub const DEFAULT_FILES: [&str; 2] = ["**/*.yaml", "**/*.yml"];

/// The warning for a file over `--max-file-size`; every backend says it
/// the same way.
pub fn too_large(path: &str, size: u64, max: u64) -> Finding {
    skipped(
        path,
        format!(
            "{size} bytes is over the {max} byte limit (raise it with --max-file-size); skipped"
        ),
    )
}

/// A [`Kind::FileSkipped`] warning about `path` (no path: about no file).
pub fn skipped(path: &str, message: String) -> Finding {
    let location = (!path.is_empty()).then(|| Location::file(path));
    Finding::warning(Kind::FileSkipped, location, message)
}

/// A `--files` pattern that is not a valid glob or could escape the root.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(pub String);

/// Which files to read.
#[derive(Clone, Debug)]
pub struct FileSelection {
    /// The patterns as given.
    pub patterns: Vec<String>,
    /// Compiled with `literal_separator(true)`.
    pub set: GlobSet,
    /// Largest file read.
    pub max_size: u64,
    /// `--exclude` patterns as given.
    pub excluded: Vec<String>,
    /// Compiled like `set`; a path it matches is never read.
    pub exclude: GlobSet,
}

impl FileSelection {
    /// Returns true if and only if `path` (relative, `/`-separated) is
    /// selected: a `--files` pattern matches it and no `--exclude` does.
    pub fn matches(&self, path: &str) -> bool {
        self.set.is_match(path) && !self.exclude.is_match(path)
    }

    /// The patterns as plain paths when none has a glob metacharacter, so a
    /// backend can fetch them by name without listing the tree.
    pub fn exact_paths(&self) -> Option<Vec<String>> {
        let literal = |p: &String| !p.contains(['*', '?', '[', ']', '{', '}', '\\']);
        self.patterns.iter().all(literal).then(|| {
            self.patterns
                .iter()
                .filter(|p| !self.exclude.is_match(p.as_str()))
                .cloned()
                .collect()
        })
    }

    /// Builds a selection from patterns, rejecting any that could escape the root.
    pub fn new(patterns: &[String], max_size: u64) -> Result<FileSelection, PatternError> {
        let patterns: Vec<String> = if patterns.is_empty() {
            DEFAULT_FILES.iter().map(|s| s.to_string()).collect()
        } else {
            patterns.to_vec()
        };
        Ok(FileSelection {
            set: glob_set("--files", &patterns)?,
            patterns,
            max_size,
            excluded: Vec::new(),
            exclude: GlobSet::empty(),
        })
    }

    /// The same selection without the paths `patterns` match (`--exclude`,
    /// with the rules of `--files`).
    pub fn excluding(mut self, patterns: &[String]) -> Result<FileSelection, PatternError> {
        self.exclude = glob_set("--exclude", patterns)?;
        self.excluded = patterns.to_vec();
        Ok(self)
    }
}

/// Compiles `patterns` (of the flag `flag`), rejecting any that could
/// escape the root.
fn glob_set(flag: &str, patterns: &[String]) -> Result<GlobSet, PatternError> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        if p.starts_with('/') || p.split('/').any(|c| c == "..") || p.contains('\\') {
            return Err(PatternError(format!(
                "{flag} {p:?}: the pattern must stay inside the directory (no leading '/', no '..')"
            )));
        }
        let glob = GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| PatternError(format!("{flag} {p:?}: {e}")))?;
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|e| PatternError(format!("{flag}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_paths_only_without_metacharacters() {
        let exact = FileSelection::new(&["a/b.yaml".into(), "c.yml".into()], 1).expect("valid");
        assert_eq!(
            exact.exact_paths(),
            Some(vec!["a/b.yaml".to_owned(), "c.yml".to_owned()])
        );
        let glob = FileSelection::new(&["a/b.yaml".into(), "*.yml".into()], 1).expect("valid");
        assert_eq!(glob.exact_paths(), None);
        assert_eq!(
            FileSelection::new(&[], 1).expect("valid").exact_paths(),
            None
        );
    }

    #[test]
    fn globs_never_cross_slash_and_never_escape() {
        let sel = FileSelection::new(&["overlays/*.yaml".into()], 1).expect("valid");
        assert!(sel.matches("overlays/a.yaml"));
        assert!(!sel.matches("overlays/dev/a.yaml"));
        let default = FileSelection::new(&[], 1).expect("valid");
        assert!(default.matches("a.yaml") && default.matches("x/y/b.yml"));
        for bad in ["../x.yaml", "/etc/*.yaml", "a/../../b.yaml"] {
            assert!(FileSelection::new(&[bad.into()], 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn excluded_paths_are_never_selected_nor_fetched() {
        let sel = FileSelection::new(&[], 1)
            .expect("valid")
            .excluding(&["charts/**".into(), "*.generated.yaml".into()])
            .expect("valid");
        assert!(sel.matches("base/a.yaml"));
        assert!(!sel.matches("charts/x/templates/deploy.yaml"));
        assert!(!sel.matches("x.generated.yaml"));
        assert!(
            sel.matches("base/x.generated.yaml"),
            "`*` never crosses `/`"
        );
        let exact = FileSelection::new(&["a.yaml".into(), "b.yaml".into()], 1)
            .expect("valid")
            .excluding(&["b.yaml".into()])
            .expect("valid");
        assert_eq!(exact.exact_paths(), Some(vec!["a.yaml".to_owned()]));
        let e = FileSelection::new(&[], 1)
            .expect("valid")
            .excluding(&["../x".into()])
            .expect_err("escapes");
        assert!(e.to_string().starts_with("--exclude \"../x\""), "{e}");
    }
}
