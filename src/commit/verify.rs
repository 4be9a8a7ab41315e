//! Verification: after a write, the branch (or directory) must hold it.
//! The backend re-reads (`Backend::verify`); this module owns the plan a dry
//! run shows of what would be checked: which lines each changed file must
//! hold, and the conditions beyond them (the commit is reachable from the
//! head, the pull request is open).

use crate::backend::FileChange;

/// The verification a real run makes after its write, shown by a dry run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyPlan {
    /// What is re-read: the branch (or directory) written to.
    pub target: String,
    /// The head the plan was computed at (`None` for a plain directory).
    pub head: Option<String>,
    /// Lines each changed file must hold after the write.
    pub checks: Vec<VerifyCheck>,
    /// Conditions beyond the lines (the commit is reachable from the head,
    /// the pull request is open).
    pub conditions: Vec<String>,
}

/// One line a file must hold after the write.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyCheck {
    /// File path.
    pub file: String,
    /// 1-based line in the new content.
    pub line: usize,
    /// The line's text, without its line ending.
    pub text: String,
}

impl VerifyPlan {
    /// The plan for `changes` planned at `head`, against `target`.
    pub fn new(
        target: String,
        head: Option<String>,
        changes: &[FileChange],
        conditions: Vec<String>,
    ) -> VerifyPlan {
        let checks = changes
            .iter()
            .flat_map(|c| {
                c.written_lines()
                    .into_iter()
                    .map(|(line, text)| VerifyCheck {
                        file: c.path.clone(),
                        line,
                        text,
                    })
            })
            .collect();
        VerifyPlan {
            target,
            head,
            checks,
            conditions,
        }
    }
}
