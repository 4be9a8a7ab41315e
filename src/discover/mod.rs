//! Discover: turns the files a backend offers into parsed manifests, and
//! every file that cannot be read as YAML into a problem with its line. A
//! Helm chart template that does not parse (it is not YAML until Helm
//! renders it, [`text::is_chart_template`]) is no problem: it is a
//! [`Kind::ChartTemplate`] notice, which reports count in one line.
//! Pure: the backend already did the reading.

pub mod argocd;
pub mod config;
pub mod flux;
pub mod tracked;

use crate::backend::files::{Keep, Kept, skipped, text_of};
use crate::backend::{SkippedContent, Snapshot};
use crate::finding::{Finding, Kind, Location};
use crate::manifest::{Manifest, ManifestError, text};

/// Parsed manifests and the files that could not be parsed.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Files parsed as YAML, in path order.
    pub manifests: Vec<Manifest>,
    /// Files skipped, in the backend's order then path order.
    pub unreadable: Vec<Unreadable>,
}

/// A file that could not be read as YAML.
#[derive(Debug)]
pub struct Unreadable {
    /// The [`Kind::FileSkipped`] warning that says why, or for a chart
    /// template the [`Kind::ChartTemplate`] notice.
    pub finding: Finding,
    /// Its text (invalid UTF-8 replaced), so a guard can tell whether it
    /// mentions an image of this run; `None` when nothing of it was kept.
    pub text: Option<String>,
    /// For a file too large to keep: the [`FileSelection::needles`] a
    /// streaming search found in it.
    ///
    /// [`FileSelection::needles`]: crate::backend::files::FileSelection::needles
    pub mentions: Vec<String>,
}

/// [`discover`], moving the snapshot's outlines into the discovery instead
/// of copying them (they are gone from `snapshot` after).
pub fn discover_taking(
    snapshot: &mut Snapshot,
    keep: &(dyn Fn(&Manifest) -> bool + Sync),
) -> Discovery {
    let outlines = std::mem::take(&mut snapshot.outlines);
    let mut out = discover(snapshot, keep);
    // Straight into place: the outlines are most of a large repository.
    out.manifests.reserve_exact(outlines.len());
    merge(
        &mut out,
        outlines.into_iter().filter_map(|o| {
            // Only `outlining_filter` makes outlines, and they are manifests.
            let m = o
                .downcast::<Manifest>()
                .expect("impossible: an outline that is not a manifest");
            let m = std::sync::Arc::try_unwrap(m).unwrap_or_else(|shared| (*shared).clone());
            keep(&m).then_some(m)
        }),
    );
    out
}

/// Adds `outlined` to the discovery's manifests, in path order.
fn merge(out: &mut Discovery, outlined: impl Iterator<Item = Manifest>) {
    let before = out.manifests.len();
    out.manifests.extend(outlined);
    if out.manifests.len() > before {
        // In place (paths are unique): a stable sort would copy half.
        out.manifests.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    }
}

/// Parses every file of `snapshot` on all cores, keeping only the manifests
/// `keep` accepts: the rest are dropped as soon as they are scanned, so
/// memory follows what the run needs, not the size of the repository.
/// Outlines the snapshot holds are copied in ([`discover_taking`] moves
/// them).
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
                            Parsed::Manifest(m) if !keep(&m) => None,
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
        .extend(snapshot.problems.iter().cloned().map(|finding| {
            let kept = snapshot.skipped.get(finding.file());
            Unreadable {
                text: match kept {
                    Some(SkippedContent::Raw(bytes)) => Some(text_of(bytes.clone())),
                    _ => None,
                },
                mentions: match kept {
                    Some(SkippedContent::Mentions(found)) => found.clone(),
                    _ => Vec::new(),
                },
                finding,
            }
        }));
    for result in parts.into_iter().flatten() {
        match result {
            Parsed::Manifest(m) => out.manifests.push(*m),
            Parsed::Unreadable(u) => out.unreadable.push(u),
        }
    }
    // Outlines were judged by the filter already; `keep` is the same test.
    let outlined = snapshot
        .outlines
        .iter()
        .filter_map(|o| o.downcast_ref::<Manifest>())
        .filter(|m| keep(m))
        .cloned();
    merge(&mut out, outlined);
    out
}

/// The file filter for [`FileSelection::keep`] that keeps exactly what
/// [`discover`] with `keep` would: a file that parses is kept when `keep`
/// accepts its manifest; one that does not (a problem to report) always.
/// The kept files are parsed again by [`discover`]; dropping the rest as
/// they are read is what bounds memory by what the run uses.
///
/// [`FileSelection::keep`]: crate::backend::files::FileSelection::keep
pub fn file_filter(keep: impl Fn(&Manifest) -> bool + Send + Sync + 'static) -> Keep {
    outlining_filter(move |m: &Manifest| if keep(m) { Fate::Whole } else { Fate::Drop })
}

/// What a run needs of a manifest it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Nothing: drop it.
    Drop,
    /// Its sites, to report them: keep its [`Manifest::outline`].
    Outline,
    /// All of it, to edit it or to read objects in it.
    Whole,
}

/// Like [`file_filter`], with outlines: a manifest whose [`Fate`] is
/// `Outline` is kept as [`Manifest::outline`] in the snapshot's
/// [`outlines`](crate::backend::Snapshot::outlines) (whole, when it
/// cannot be outlined), which [`discover`] merges back in path order.
pub fn outlining_filter(fate: impl Fn(&Manifest) -> Fate + Send + Sync + 'static) -> Keep {
    Keep(std::sync::Arc::new(
        move |path: &str, bytes: &[u8]| match parse_one(path, bytes) {
            Parsed::Manifest(m) => match fate(&m) {
                Fate::Drop => Kept::Dropped,
                Fate::Whole => Kept::File,
                Fate::Outline => {
                    let m = m.outline();
                    if m.is_outline() {
                        Kept::Outline(std::sync::Arc::new(m))
                    } else {
                        Kept::File
                    }
                }
            },
            Parsed::Unreadable(_) => Kept::File,
        },
    ))
}

/// A parsed manifest, or a file that is not one.
enum Parsed {
    Manifest(Box<Manifest>),
    Unreadable(Unreadable),
}

fn parse_one(path: &str, bytes: &[u8]) -> Parsed {
    let at_line = |line: usize, message: String, text: Option<String>| Unreadable {
        finding: Finding {
            location: Some(Location::line(path, line)),
            ..skipped(path, message)
        },
        text,
        mentions: Vec::new(),
    };
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
            // Latin-1 and the like: the references in it are still ASCII.
            let lossy = String::from_utf8_lossy(bytes).into_owned();
            return Parsed::Unreadable(at_line(line, message, Some(lossy)));
        }
    };
    match Manifest::parse(path, text.clone()) {
        Ok(m) => Parsed::Manifest(Box::new(m)),
        Err(ManifestError::Syntax { .. }) if text::is_chart_template(path, &text) => {
            Parsed::Unreadable(Unreadable {
                finding: Finding::notice(
                    Kind::ChartTemplate,
                    Some(Location::file(path)),
                    "a Helm chart template (not YAML until Helm renders it); skipped",
                ),
                text: Some(text),
                mentions: Vec::new(),
            })
        }
        Err(ManifestError::Syntax {
            line,
            column,
            message,
        }) => {
            let message = format!("invalid YAML at column {column}: {message}; skipped");
            Parsed::Unreadable(at_line(line, message, Some(text)))
        }
        Err(e @ ManifestError::AliasBudget) => Parsed::Unreadable(Unreadable {
            finding: skipped(path, format!("{e}; skipped")),
            text: Some(text),
            mentions: Vec::new(),
        }),
    }
}
