//! The environment, read once: every variable the program reads is a
//! [`Var`] in one table, and every value goes through one rule (trimmed, an
//! empty value is unset: [`normalized`]). Settings, the `action` command
//! and the report all read it from here, never from `std::env` directly.
//!
//! A leaf: it uses nothing else in the crate but that rule.

use std::collections::BTreeMap;

pub use crate::gha::inputs::normalized;

/// The variables gitops-bump reads (besides the action's `INPUT_*`, which
/// `gha::inputs` reads from the same snapshot, and the variables that
/// `--registry-auth HOST=USER:VAR` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Var {
    /// A token for the GitHub API (and ghcr.io).
    GithubToken,
    /// The GitHub CLI's name for the same token; read when `GITHUB_TOKEN` is unset.
    GhToken,
    /// `OWNER/NAME`, the default for `--repo` (set by Actions).
    GithubRepository,
    /// The REST endpoint (GitHub Enterprise Server sets it).
    GithubApiUrl,
    /// The GraphQL endpoint (GitHub Enterprise Server sets it).
    GithubGraphqlUrl,
    /// The web address for links to commits (set by Actions).
    GithubServerUrl,
    /// `true` inside a GitHub Actions step.
    GithubActions,
    /// The file a step's outputs go to.
    GithubOutput,
    /// The file a step's job summary goes to.
    GithubStepSummary,
    /// The workflow's name (set by Actions), for the default `--writer-id`.
    GithubWorkflow,
    /// `1` when the run was re-run with debug logging.
    RunnerDebug,
    /// The runner's temporary directory, for files a step leaves to later steps.
    RunnerTemp,
    /// A `tracing` filter for logs on stderr (`debug`, `gitops_bump::registry=debug`).
    GitopsBumpLog,
}

impl Var {
    /// Every variable, for docs and tests.
    pub const ALL: [Var; 13] = [
        Var::GithubToken,
        Var::GhToken,
        Var::GithubRepository,
        Var::GithubApiUrl,
        Var::GithubGraphqlUrl,
        Var::GithubServerUrl,
        Var::GithubActions,
        Var::GithubOutput,
        Var::GithubStepSummary,
        Var::GithubWorkflow,
        Var::RunnerDebug,
        Var::RunnerTemp,
        Var::GitopsBumpLog,
    ];

    /// The variable's name.
    pub fn name(self) -> &'static str {
        match self {
            Var::GithubToken => "GITHUB_TOKEN",
            Var::GhToken => "GH_TOKEN",
            Var::GithubRepository => "GITHUB_REPOSITORY",
            Var::GithubApiUrl => "GITHUB_API_URL",
            Var::GithubGraphqlUrl => "GITHUB_GRAPHQL_URL",
            Var::GithubServerUrl => "GITHUB_SERVER_URL",
            Var::GithubActions => "GITHUB_ACTIONS",
            Var::GithubOutput => "GITHUB_OUTPUT",
            Var::GithubStepSummary => "GITHUB_STEP_SUMMARY",
            Var::GithubWorkflow => "GITHUB_WORKFLOW",
            Var::RunnerDebug => "RUNNER_DEBUG",
            Var::RunnerTemp => "RUNNER_TEMP",
            Var::GitopsBumpLog => "GITOPS_BUMP_LOG",
        }
    }
}

/// A snapshot of the environment.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The process's environment, now. Variables whose name or value is
    /// not UTF-8 are left out.
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment of exactly these variables (tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// The value of `var`, [`normalized`].
    pub fn get(&self, var: Var) -> Option<String> {
        self.named(var.name())
    }

    /// The value of a variable the user named (`--registry-auth`), [`normalized`].
    pub fn named(&self, name: &str) -> Option<String> {
        self.vars.get(name).and_then(|v| normalized(v))
    }

    /// Returns true if and only if this process runs as a GitHub Actions step.
    pub fn in_actions(&self) -> bool {
        self.get(Var::GithubActions).as_deref() == Some("true")
    }

    /// Every variable, for the action's `INPUT_*` translation.
    pub fn all(&self) -> &BTreeMap<String, String> {
        &self.vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_every_value() {
        let env = Env::from_pairs([("GITHUB_TOKEN", "  "), ("GH_TOKEN", " t \n"), ("X", "1")]);
        assert_eq!(env.get(Var::GithubToken), None, "empty counts as unset");
        assert_eq!(env.get(Var::GhToken).as_deref(), Some("t"));
        assert_eq!(env.named("X").as_deref(), Some("1"));
        assert!(!env.in_actions());
        assert!(Env::from_pairs([("GITHUB_ACTIONS", "true")]).in_actions());
        let names: std::collections::BTreeSet<&str> = Var::ALL.iter().map(|v| v.name()).collect();
        assert_eq!(names.len(), Var::ALL.len(), "names are distinct");
    }
}
