//! Discover: turns the files a backend offers into parsed manifests, and
//! every file that cannot be read as YAML into a problem with its line.
//! Pure: the backend already did the reading.

use crate::backend::{Problem, Snapshot};
use crate::manifest::{Manifest, ManifestError};

/// Parsed manifests and the files that could not be parsed.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Files parsed as YAML, in path order.
    pub manifests: Vec<Manifest>,
    /// Files skipped, with their text when it was valid UTF-8 (so a guard
    /// can tell whether a broken file mentions a target image).
    pub unreadable: Vec<(Problem, Option<String>)>,
}

/// Parses every file of `snapshot` on all cores, keeping only the manifests
/// `keep` accepts: the rest are dropped as soon as they are scanned, so
/// memory follows what the run needs, not the size of the repository.
pub fn discover(snapshot: &Snapshot, keep: &(dyn Fn(&Manifest) -> bool + Sync)) -> Discovery {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = snapshot.files.len().div_ceil(threads).max(1);
    let parts: Vec<Vec<Parsed>> = std::thread::scope(|scope| {
        let handles: Vec<_> = snapshot
            .files
            .chunks(chunk)
            .map(|files| {
                scope.spawn(move || {
                    files
                        .iter()
                        .filter_map(|f| match parse_one(&f.path, &f.bytes) {
                            Ok(m) if !keep(&m) => None,
                            other => Some(other),
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut out = Discovery::default();
    out.unreadable
        .extend(snapshot.problems.iter().cloned().map(|p| (p, None)));
    for result in parts.into_iter().flatten() {
        match result {
            Ok(m) => out.manifests.push(m),
            Err(u) => out.unreadable.push(u),
        }
    }
    out
}

/// A parsed manifest, or the problem and (UTF-8) text of a file that is not one.
type Parsed = Result<Manifest, (Problem, Option<String>)>;

fn parse_one(path: &str, bytes: &[u8]) -> Parsed {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_owned(),
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            let message = format!(
                "not UTF-8 (invalid byte at offset {}); skipped",
                e.valid_up_to()
            );
            return Err((
                Problem {
                    file: path.to_owned(),
                    line: Some(line),
                    message,
                },
                None,
            ));
        }
    };
    match Manifest::parse(path, text.clone()) {
        Ok(m) => Ok(m),
        Err(ManifestError::Syntax {
            line,
            column,
            message,
        }) => {
            let message = format!("invalid YAML at column {column}: {message}; skipped");
            Err((
                Problem {
                    file: path.to_owned(),
                    line: Some(line),
                    message,
                },
                Some(text),
            ))
        }
        Err(e @ ManifestError::AliasBudget) => Err((
            Problem {
                file: path.to_owned(),
                line: None,
                message: format!("{e}; skipped"),
            },
            Some(text),
        )),
    }
}
