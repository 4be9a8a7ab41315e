//! Is a pull-request branch still only gitops-bump's? Owns that decision,
//! made by content and never by the commit message alone (issue #14): the
//! branch head must be exactly a commit gitops-bump made, one commit whose
//! one parent is the base commit its `Gitops-Bump-Base` trailer names and
//! whose tree is the tree its `Gitops-Bump-Tree` trailer records (the base
//! tree plus the bump, as GitHub computed it when the commit was made).
//! Someone who amends that commit (an extra file, the same message and
//! trailers), stacks a commit on it, merges the base into it or rebuilds it
//! by hand changes the tree or the parents, and the branch is no longer
//! gitops-bump's to re-create. Pure; the answer it reads comes from
//! `pull`'s lookup.

use serde::Deserialize;

use super::short;
use crate::commit::trailer;

/// The head of a pull-request branch, as the lookup read it.
#[derive(Clone, Debug)]
pub struct Head {
    /// Its commit id.
    pub oid: String,
    /// Its parents' ids (the first two).
    pub parents: Vec<String>,
    /// How many parents it has.
    pub parent_count: u64,
    /// Its tree's id.
    pub tree: String,
    /// Its full message.
    pub message: String,
    /// Who committed it.
    pub committer: Actor,
    /// Who wrote it.
    pub author: Actor,
}

/// One side of a commit (GraphQL `GitActor`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Actor {
    /// The name Git recorded.
    #[serde(default)]
    pub name: Option<String>,
    /// The email Git recorded.
    #[serde(default)]
    pub email: Option<String>,
    /// The GitHub account the email belongs to, when there is one.
    #[serde(default)]
    pub user: Option<Login>,
}

/// `User { login }`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Login {
    /// The account's login.
    pub login: String,
}

impl Actor {
    /// `Jane Doe (@jane)`, `Jane Doe <jane@example.com>`, or what there is.
    pub fn describe(&self) -> String {
        let name = self.name.as_deref().filter(|n| !n.is_empty());
        let extra = match (&self.user, self.email.as_deref().filter(|e| !e.is_empty())) {
            (Some(u), _) => Some(format!("@{}", u.login)),
            (None, Some(e)) => Some(format!("<{e}>")),
            (None, None) => None,
        };
        match (name, extra) {
            (Some(n), Some(x)) if x.starts_with('@') => format!("{n} ({x})"),
            (Some(n), Some(x)) => format!("{n} {x}"),
            (Some(n), None) => n.to_owned(),
            (None, Some(x)) => x,
            (None, None) => "someone unknown".to_owned(),
        }
    }
}

/// Whose the branch is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Its head is already in the base (merged, or never built on): it
    /// holds nothing the base lacks, so re-creating it loses nothing.
    Empty,
    /// Its head is exactly a commit gitops-bump made.
    Ours {
        /// The base commit it was made on.
        base: String,
        /// The tree the bump was planned as, when GitHub's commit holds
        /// another (it did not keep a file's mode): see `pull`.
        planned: Option<String>,
    },
    /// Its head is not: someone's work is on it.
    Foreign(Foreign),
}

/// A branch head gitops-bump did not make, described for the error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Foreign {
    /// The head commit, shortened.
    pub commit: String,
    /// Who committed it (and who wrote it, when someone else).
    pub committer: String,
    /// What gives it away, ending a sentence that starts with the commit.
    pub why: String,
}

/// Judges a branch head; `ahead_by` is how many of the branch's commits
/// the base lacks.
pub fn judge(head: &Head, ahead_by: u64) -> Verdict {
    if ahead_by == 0 {
        return Verdict::Empty;
    }
    let foreign = |why: String| {
        let mut committer = head.committer.describe();
        if head.author != head.committer && head.author.name != head.committer.name {
            committer = format!("{committer}, written by {}", head.author.describe());
        }
        Verdict::Foreign(Foreign {
            commit: short(&head.oid).to_owned(),
            committer,
            why,
        })
    };
    let message = head.message.as_str();
    if trailer::id(message).is_none() {
        return foreign("has no Gitops-Bump trailers".into());
    }
    if head.parent_count != 1 {
        return foreign(format!("is a merge of {} commits", head.parent_count));
    }
    let (Some(base), Some(tree)) = (
        trailer::value(message, trailer::BASE),
        trailer::value(message, trailer::TREE),
    ) else {
        return foreign(format!(
            "has no {} and {} record, so what it holds cannot be proven (an older gitops-bump made it, or its message was written by hand)",
            trailer::BASE,
            trailer::TREE
        ));
    };
    if head.parents.first() != Some(&base) {
        return foreign(format!(
            "is not on the commit its {} trailer names ({})",
            trailer::BASE,
            short(&base)
        ));
    }
    if head.tree != tree {
        return foreign(format!(
            "holds a tree other than the one its {} trailer records: it was amended or rebuilt, and holds changes beyond the bump",
            trailer::TREE
        ));
    }
    Verdict::Ours {
        base,
        planned: trailer::value(message, PLANNED),
    }
}

/// Key of the record kept when GitHub's commit holds a tree other than the
/// one planned (`pull`): the planned tree, so a later run with the same
/// bump knows it is up to date.
pub const PLANNED: &str = "Gitops-Bump-Planned-Tree";

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "1111111111111111111111111111111111111111";
    const TREE: &str = "2222222222222222222222222222222222222222";

    fn bot() -> Actor {
        Actor {
            name: Some("github-actions[bot]".into()),
            email: Some("41898282+github-actions[bot]@users.noreply.github.com".into()),
            user: None,
        }
    }

    fn ours() -> Head {
        Head {
            oid: "3333333333333333333333333333333333333333".into(),
            parents: vec![BASE.into()],
            parent_count: 1,
            tree: TREE.into(),
            message: format!(
                "chore: bump\n\nGitops-Bump-Image: i\nGitops-Bump-From: 1\nGitops-Bump-To: 2\nGitops-Bump-Writer: w\nGitops-Bump-Id: x\nGitops-Bump-Base: {BASE}\nGitops-Bump-Tree: {TREE}\n"
            ),
            committer: Actor {
                name: Some("GitHub".into()),
                email: Some("noreply@github.com".into()),
                user: Some(Login {
                    login: "web-flow".into(),
                }),
            },
            author: bot(),
        }
    }

    fn why(v: Verdict) -> String {
        match v {
            Verdict::Foreign(f) => format!("{} ({}) {}", f.commit, f.committer, f.why),
            other => panic!("expected foreign, got {other:?}"),
        }
    }

    #[test]
    fn exactly_what_gitops_bump_made_is_ours() {
        assert_eq!(
            judge(&ours(), 1),
            Verdict::Ours {
                base: BASE.into(),
                planned: None
            }
        );
        // The base was rewritten under it: still only ours.
        assert!(matches!(judge(&ours(), 3), Verdict::Ours { .. }));
        // In the base already: nothing to lose, whatever it is.
        let mut merged = ours();
        merged.message = "a person's commit".into();
        assert_eq!(judge(&merged, 0), Verdict::Empty);
    }

    // See: issue #14. The commit message alone decided it.
    #[test]
    fn issue_14_amended_stacked_merged_and_unrecorded_heads_are_foreign() {
        let jane = Actor {
            name: Some("Jane Doe".into()),
            email: Some("jane@example.com".into()),
            user: Some(Login {
                login: "jane".into(),
            }),
        };
        // Amended: same message and parents, another tree, Jane committed.
        let mut amended = ours();
        amended.tree = "4444444444444444444444444444444444444444".into();
        amended.committer = jane.clone();
        let text = why(judge(&amended, 1));
        assert!(
            text.starts_with("333333333333 (Jane Doe (@jane), written by github-actions[bot]"),
            "{text}"
        );
        assert!(text.contains("Gitops-Bump-Tree"), "{text}");
        // Stacked: a commit of Jane's on top.
        let mut stacked = ours();
        stacked.message = "fix: tweak limits\n".into();
        stacked.parents = vec![stacked.oid.clone()];
        stacked.committer = jane.clone();
        stacked.author = jane.clone();
        assert!(why(judge(&stacked, 2)).contains("(Jane Doe (@jane)) has no Gitops-Bump trailers"));
        // Rebased by hand onto another commit, trailers kept.
        let mut rebased = ours();
        rebased.parents = vec!["5555555555555555555555555555555555555555".into()];
        assert!(why(judge(&rebased, 1)).contains("is not on the commit"));
        // "Update branch": a merge.
        let mut merge = ours();
        merge.parent_count = 2;
        assert!(why(judge(&merge, 2)).contains("is a merge of 2 commits"));
        // Trailers without the record.
        let mut legacy = ours();
        legacy.message = legacy
            .message
            .replace(&format!("Gitops-Bump-Tree: {TREE}\n"), "");
        assert!(why(judge(&legacy, 1)).contains("cannot be proven"));
    }

    #[test]
    fn people_are_named_by_what_github_knows() {
        let mut a = Actor::default();
        assert_eq!(a.describe(), "someone unknown");
        a.email = Some("x@example.com".into());
        assert_eq!(a.describe(), "<x@example.com>");
        a.name = Some("X".into());
        assert_eq!(a.describe(), "X <x@example.com>");
    }
}
