//! The `Gitops-Bump-*` commit trailers: the one writer and the one reader.
//! Every commit gitops-bump makes ends with them, so later runs (the lost
//! write lookup, pull-request branches, the writer guards) and people can
//! see who moved which image from what to what:
//!
//! ```text
//! Gitops-Bump-Image: ghcr.io/acme/backend
//! Gitops-Bump-From: v1.3.0
//! Gitops-Bump-To: v1.4.0
//! Gitops-Bump-Writer: ci-dev
//! Gitops-Bump-Id: 0b6c…
//! ```
//!
//! One `Image`/`From`/`To` group per image; `From` lists every old value
//! (`v1, v2`) and an empty value is written `(none)`. The format follows
//! git-interpret-trailers: `Key: value` lines in the last paragraph.
//! Commits on pull-request branches also record the commit they were made
//! on and the tree they hold ([`BASE`], [`TREE`]; written by the GitHub
//! backend, read by [`value`]).
//! Pure; round-trips (`parse(render(t)) == t`).

/// Key of the image trailer.
pub const IMAGE: &str = "Gitops-Bump-Image";
/// Key of the old-values trailer.
pub const FROM: &str = "Gitops-Bump-From";
/// Key of the new-values trailer.
pub const TO: &str = "Gitops-Bump-To";
/// Key of the writer trailer.
pub const WRITER: &str = "Gitops-Bump-Writer";
/// Key of the unique id trailer.
pub const ID: &str = "Gitops-Bump-Id";
/// Key of the pull-request record: the commit a pull-request branch's
/// commit was made on (its one parent).
pub const BASE: &str = "Gitops-Bump-Base";
/// Key of the pull-request record: the tree the commit holds (the base's
/// tree plus the bump), by which a later run proves the branch holds
/// nothing else.
pub const TREE: &str = "Gitops-Bump-Tree";

/// How an empty value (no tag) is written.
const NONE: &str = "(none)";

/// One image moved by a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    /// The image as the user wrote it.
    pub image: String,
    /// Every value it had before (sorted, distinct; `""` for none).
    pub from: Vec<String>,
    /// Every value it has after (sorted, distinct; `""` for none).
    pub to: Vec<String>,
}

/// The trailers of one commit.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Trailers {
    /// The images moved, in the order written.
    pub moves: Vec<Move>,
    /// The writer (`--writer-id`).
    pub writer: Option<String>,
    /// The unique id of the write, for finding a write whose answer was lost.
    pub id: Option<String>,
}

impl Trailers {
    /// The trailer block: one line per trailer, each ending in `\n`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for m in &self.moves {
            out.push_str(&format!(
                "{IMAGE}: {}\n{FROM}: {}\n{TO}: {}\n",
                m.image,
                list(&m.from),
                list(&m.to)
            ));
        }
        if let Some(w) = &self.writer {
            out.push_str(&format!("{WRITER}: {w}\n"));
        }
        if let Some(id) = &self.id {
            out.push_str(&format!("{ID}: {id}\n"));
        }
        out
    }

    /// Reads the trailers of a commit message. A message without any
    /// `Gitops-Bump-*` trailer (a person's commit) gives the empty value.
    pub fn parse(message: &str) -> Trailers {
        let mut t = Trailers::default();
        for line in message.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                IMAGE => t.moves.push(Move {
                    image: value.to_owned(),
                    from: Vec::new(),
                    to: Vec::new(),
                }),
                FROM => {
                    if let Some(m) = t.moves.last_mut() {
                        m.from = unlist(value);
                    }
                }
                TO => {
                    if let Some(m) = t.moves.last_mut() {
                        m.to = unlist(value);
                    }
                }
                WRITER => t.writer = Some(value.to_owned()),
                ID => t.id = Some(value.to_owned()),
                _ => {}
            }
        }
        t
    }

    /// Returns true if and only if the message had any `Gitops-Bump-*` trailer.
    pub fn is_ours(&self) -> bool {
        self.id.is_some() || self.writer.is_some() || !self.moves.is_empty()
    }

    /// Returns true if and only if both set the same images to the same
    /// values (whatever they moved them from, whoever wrote them).
    pub fn same_bump(&self, other: &Trailers) -> bool {
        let key = |t: &Trailers| -> Vec<(String, Vec<String>)> {
            let mut v: Vec<_> = t
                .moves
                .iter()
                .map(|m| (m.image.clone(), m.to.clone()))
                .collect();
            v.sort();
            v
        };
        !self.moves.is_empty() && key(self) == key(other)
    }
}

/// The `Gitops-Bump-Id` of a commit message, when it has one.
pub fn id(message: &str) -> Option<String> {
    Trailers::parse(message).id
}

/// The value of the last `key: value` trailer line in `message`, when it
/// has one (for keys with one value per commit, such as [`BASE`] and
/// [`TREE`]).
pub fn value(message: &str, key: &str) -> Option<String> {
    message
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_owned())
        .next_back()
}

/// `v1, v2`, with an empty value as `(none)`.
fn list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| if v.is_empty() { NONE } else { v.as_str() })
        .collect::<Vec<_>>()
        .join(", ")
}

fn unlist(value: &str) -> Vec<String> {
    value
        .split(", ")
        .map(|v| {
            if v == NONE {
                String::new()
            } else {
                v.to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_what_it_writes_and_ignores_the_rest() {
        let msg = "chore: x\n\nGitops-Bump-Image: i\nGitops-Bump-From: (none), v1\nGitops-Bump-To: v2\nGitops-Bump-Writer: w\nGitops-Bump-Id: abc\n";
        let t = Trailers::parse(msg);
        assert_eq!(t.id.as_deref(), Some("abc"));
        assert_eq!(t.writer.as_deref(), Some("w"));
        assert_eq!(t.moves[0].from, vec!["".to_owned(), "v1".to_owned()]);
        assert_eq!(t.render(), msg.split_once("\n\n").expect("body").1);
        assert!(!Trailers::parse("fix: a person's edit\n").is_ours());
        let recorded = format!("{msg}{BASE}: b1\n{TREE}: t1\n{TREE}: t2\n");
        assert_eq!(super::value(&recorded, BASE).as_deref(), Some("b1"));
        assert_eq!(super::value(&recorded, TREE).as_deref(), Some("t2"));
        assert_eq!(super::value(msg, TREE), None);
        assert_eq!(id("x\n\nGitops-Bump-Id: ab\n").as_deref(), Some("ab"));
        assert_eq!(
            id("x\n\nGitops-Bump-Id: ab\n").as_deref().map(|i| i == "a"),
            Some(false)
        );
    }

    #[test]
    fn same_bump_compares_images_and_targets_only() {
        let a = Trailers::parse(
            "chore: x\n\nGitops-Bump-Image: i\nGitops-Bump-From: 1\nGitops-Bump-To: 2\nGitops-Bump-Writer: w\nGitops-Bump-Id: A\n",
        );
        let mut b = a.clone();
        b.moves[0].from = vec!["0".into()];
        b.id = Some("B".into());
        assert!(a.same_bump(&b));
        b.moves[0].to = vec!["3".into()];
        assert!(!a.same_bump(&b));
        assert!(!Trailers::default().same_bump(&Trailers::default()));
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-zA-Z0-9_][a-zA-Z0-9._@:-]{0,20}"]
    }

    proptest! {
        #[test]
        fn round_trips(
            moves in prop::collection::vec(
                ("[a-z0-9./-]{1,30}", prop::collection::vec(value(), 1..3), prop::collection::vec(value(), 1..3)),
                0..4,
            ),
            writer in proptest::option::of("[a-zA-Z0-9@/._-]{1,20}"),
            id in proptest::option::of("[0-9a-f-]{1,36}"),
        ) {
            let t = Trailers {
                moves: moves.into_iter().map(|(image, from, to)| Move { image, from, to }).collect(),
                writer,
                id,
            };
            let message = format!("subject\n\n{}", t.render());
            prop_assert_eq!(Trailers::parse(&message), t);
        }
    }
}
