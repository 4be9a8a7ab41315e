//! Inputs, the first step of the spine: turns [`cli`](crate::cli)
//! arguments and the [`env::Env`] into checked settings, one module per
//! command ([`set`], [`explain`]). Compiles globs, policies and regexes,
//! parses image references, sizes and durations ([`units`]). Does no network
//! and no file I/O: what is read from disk or GitHub is read by the command.
//!
//! This module holds what the commands share: where the manifests are
//! ([`Store`]), the registry flags, the retry bounds.

pub mod env;
pub mod explain;
pub mod set;
pub mod sync;
pub mod units;

use std::path::PathBuf;

use crate::backend::files::FileSelection;
use crate::backend::github::{self, ApiKind, Endpoints, RepoName};
use crate::cli::{self, RegistryArgs, SourceArgs, WriteArgs, WriterGuardArgs};
use crate::commit::message::Template;
use crate::commit::retry::RetrySettings;
use crate::guard::WriterRules;
use crate::guard::writers::DEFAULT_WRITER;
use crate::registry::{FlagCredential, Platform, RegistryOptions};
use crate::secret::Secret;
pub use env::{Env, Var};
pub use explain::{ExplainSettings, TagSource};
pub use set::Settings;
pub use sync::SyncSettings;

pub use crate::finding::UsageError;

/// Where the manifests are stored.
#[derive(Debug)]
pub enum Store {
    /// `--dir PATH`: a directory or Git work tree.
    Dir(PathBuf),
    /// `--repo OWNER/NAME`: a GitHub repository through its API.
    GitHub(github::Config),
}

/// Checks the registry arguments: platforms, insecure hosts and
/// `--registry-auth HOST=USER:PASSWORD_ENV_VAR` (the secret is read from the
/// named variable here, so a missing one is a usage error, exit 2). Shared
/// by `set` and `explain`, so both read the flags the same way.
pub fn registry_settings(
    args: &RegistryArgs,
    env: &Env,
) -> Result<(Vec<Platform>, RegistryOptions), UsageError> {
    let mut platforms: Vec<Platform> = Vec::new();
    for p in &args.platforms {
        for p in Platform::parse_list(p).map_err(|e| UsageError(format!("--platform: {e}")))? {
            if !platforms.contains(&p) {
                platforms.push(p);
            }
        }
    }
    for host in &args.insecure_registries {
        if !is_host_port(host) {
            return Err(UsageError(format!(
                "--insecure-registry {host:?}: expected HOST or HOST:PORT, without a scheme or path"
            )));
        }
    }
    let mut credentials = Vec::new();
    for spec in &args.registry_auth {
        let bad = || {
            UsageError(format!(
                "--registry-auth {}=…: expected HOST=USER:PASSWORD_ENV_VAR (the last part names an environment variable, never the secret itself)",
                spec.split_once('=').map_or("HOST", |(host, _)| host)
            ))
        };
        let (host, rest) = spec.split_once('=').ok_or_else(bad)?;
        let (username, var) = rest.rsplit_once(':').ok_or_else(bad)?;
        let var_ok = !var.is_empty()
            && !var.starts_with(|c: char| c.is_ascii_digit())
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_host_port(host) || username.is_empty() || !var_ok {
            return Err(bad());
        }
        let password = env.named(var).ok_or_else(|| {
            UsageError(format!(
                "--registry-auth {host}: the environment variable {var} is not set or empty"
            ))
        })?;
        credentials.push(FlagCredential {
            host: host.to_owned(),
            username: username.to_owned(),
            password: Secret::new(password),
            env_var: var.to_owned(),
        });
    }
    let github_token = github_token(env);
    Ok((
        platforms,
        RegistryOptions {
            insecure: args.insecure_registries.clone(),
            credentials,
            github_token,
            ..RegistryOptions::default()
        },
    ))
}

/// Returns true if and only if `s` is `HOST` or `HOST:PORT` with nothing else.
fn is_host_port(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
}

/// `GITHUB_TOKEN`, else `GH_TOKEN`.
pub fn github_token(env: &Env) -> Option<Secret> {
    env.get(Var::GithubToken)
        .or_else(|| env.get(Var::GhToken))
        .map(Secret::new)
}

/// Where the manifests are: `--dir`, else `--repo`, else
/// `$GITHUB_REPOSITORY`. `command` names the command in messages.
pub fn store(args: &SourceArgs, env: &Env, command: &str) -> Result<Store, UsageError> {
    if let Some(dir) = &args.dir {
        return Ok(Store::Dir(dir.clone()));
    }
    let (repo, from) = match (&args.repo, env.get(Var::GithubRepository)) {
        (Some(r), _) => (r.clone(), "--repo"),
        (None, Some(r)) => (r, "$GITHUB_REPOSITORY"),
        (None, None) => {
            return Err(UsageError(format!(
                "{command}: say where the manifests are: --dir PATH, or --repo OWNER/NAME (default $GITHUB_REPOSITORY)"
            )));
        }
    };
    let repo = RepoName::parse(&repo).map_err(|e| UsageError(format!("{from} {repo:?}: {e}")))?;
    let branch = match &args.branch {
        Some(b) if !github::valid_branch(b) => {
            return Err(UsageError(format!(
                "--branch {b:?}: not a valid branch name"
            )));
        }
        b => b.clone(),
    };
    let token = github_token(env).ok_or_else(|| {
        UsageError(format!(
            "{command} --repo: no token; set GITHUB_TOKEN (or GH_TOKEN) to a token with `contents: write` on the repository"
        ))
    })?;
    let endpoints = Endpoints::resolve(env.get(Var::GithubApiUrl), env.get(Var::GithubGraphqlUrl))
        .map_err(UsageError)?;
    Ok(Store::GitHub(github::Config {
        repo,
        branch,
        api: match args.api {
            Some(cli::ApiKind::Rest) => ApiKind::Rest,
            Some(cli::ApiKind::Graphql) | None => ApiKind::Graphql,
        },
        endpoints,
        token,
    }))
}

/// `--files` and `--max-file-size`.
pub fn files(args: &SourceArgs) -> Result<FileSelection, UsageError> {
    let max_size = units::parse_size(&args.max_file_size).ok_or_else(|| {
        UsageError(format!(
            "--max-file-size {:?}: expected bytes, or a number with KiB/MiB/GiB",
            args.max_file_size
        ))
    })?;
    FileSelection::new(&args.files, max_size).map_err(|e| UsageError(e.to_string()))
}

/// `--message`, `--writer-id` and `--skip-ci`. Without `--writer-id`, the
/// writer is `gitops-bump`, or inside GitHub Actions `<workflow>@<repository>`
/// (`$GITHUB_WORKFLOW@$GITHUB_REPOSITORY`), so two workflows are two writers
/// without configuration.
pub fn template(args: &WriteArgs, env: &Env) -> Result<Template, UsageError> {
    if args.message.as_deref().is_some_and(|m| m.trim().is_empty()) {
        return Err(UsageError("--message: the template is empty".into()));
    }
    let writer = match &args.writer_id {
        Some(id) => id.clone(),
        None => default_writer(env),
    };
    if writer.trim().is_empty() || writer.contains(['\n', '\r']) {
        return Err(UsageError("--writer-id: must be one non-empty line".into()));
    }
    Ok(Template {
        subject: args.message.clone(),
        writer: writer.trim().to_owned(),
        skip_ci: args.skip_ci,
    })
}

/// The writer when `--writer-id` is not given.
fn default_writer(env: &Env) -> String {
    match (
        env.in_actions(),
        env.get(Var::GithubWorkflow),
        env.get(Var::GithubRepository),
    ) {
        (true, Some(workflow), Some(repository)) if !workflow.contains(['\n', '\r']) => {
            format!("{workflow}@{repository}")
        }
        _ => DEFAULT_WRITER.to_owned(),
    }
}

/// The writer guards' flags, for the writer `id`: `--fight-window`,
/// `--fight-depth`, `--allow-revert`, `--max-changes`.
pub fn writer_rules(args: &WriterGuardArgs, id: &str) -> Result<WriterRules, UsageError> {
    let window = units::parse_duration(&args.fight_window)
        .filter(|d| d.as_secs() > 0)
        .ok_or_else(|| {
            UsageError(format!(
                "--fight-window {:?}: expected a duration of at least 1s (seconds, or a number with s/m/h/d)",
                args.fight_window
            ))
        })?;
    if !(1..=100).contains(&args.fight_depth) {
        return Err(UsageError(format!(
            "--fight-depth {}: expected 1 to 100 commits",
            args.fight_depth
        )));
    }
    if args.max_changes == 0 || args.max_changes >= args.fight_depth {
        return Err(UsageError(format!(
            "--max-changes {}: expected at least 1 and less than --fight-depth ({}), which bounds the commits read",
            args.max_changes, args.fight_depth
        )));
    }
    Ok(WriterRules {
        id: id.to_owned(),
        allow_revert: args.allow_revert,
        window: i64::try_from(window.as_secs()).unwrap_or(i64::MAX),
        depth: args.fight_depth,
        max_changes: args.max_changes,
    })
}

/// `--max-attempts` and `--deadline`.
pub fn retry(args: &WriteArgs) -> Result<RetrySettings, UsageError> {
    if args.max_attempts == 0 {
        return Err(UsageError("--max-attempts: must be at least 1".into()));
    }
    let deadline = units::parse_duration(&args.deadline).ok_or_else(|| {
        UsageError(format!(
            "--deadline {:?}: expected seconds, or a number with ms/s/m/h",
            args.deadline
        ))
    })?;
    Ok(RetrySettings {
        max_attempts: args.max_attempts,
        deadline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry_args(platforms: &[&str], auth: &[&str]) -> RegistryArgs {
        RegistryArgs {
            platforms: platforms.iter().map(|s| s.to_string()).collect(),
            insecure_registries: vec!["127.0.0.1:5000".into()],
            registry_auth: auth.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn registry_arguments() {
        let env = Env::from_pairs([("REG_PASS", "s3cret")]);
        let (platforms, opts) = registry_settings(
            &registry_args(
                &["linux/amd64,linux/arm64", "linux/arm64/v8"],
                &["127.0.0.1:5000=alice:REG_PASS"],
            ),
            &env,
        )
        .expect("valid");
        assert_eq!(platforms.len(), 2);
        assert_eq!(opts.credentials[0].username, "alice");
        assert_eq!(opts.credentials[0].password.expose(), "s3cret");
        for bad in [
            "127.0.0.1:5000=alice:UNSET",
            "127.0.0.1:5000=alice",
            "https://x=alice:REG_PASS",
            "127.0.0.1:5000=alice:pa$$word",
            "127.0.0.1:5000=:REG_PASS",
        ] {
            let e = registry_settings(&registry_args(&[], &[bad]), &env)
                .expect_err(bad)
                .to_string();
            assert!(!e.contains("s3cret") && !e.contains("pa$$"), "{e}");
        }
        assert!(registry_settings(&registry_args(&["linux"], &[]), &env).is_err());
    }

    fn write_args(argv: &[&str]) -> (WriteArgs, WriterGuardArgs) {
        use clap::Parser;
        let mut full = vec!["gitops-bump", "set", "--dir", "."];
        full.extend(argv);
        full.push("a/b:1");
        match cli::Cli::try_parse_from(full).expect("parses").command {
            cli::Command::Set(args) => (args.write, args.writers),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn issue_11_the_writer_defaults_to_the_workflow_inside_actions() {
        let actions = Env::from_pairs([
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_WORKFLOW", "deploy dev"),
            ("GITHUB_REPOSITORY", "acme/app"),
        ]);
        let (write, _) = write_args(&[]);
        assert_eq!(
            template(&write, &actions).expect("valid").writer,
            "deploy dev@acme/app"
        );
        assert_eq!(
            template(&write, &Env::default()).expect("valid").writer,
            "gitops-bump"
        );
        let (write, _) = write_args(&["--writer-id", " ci-dev "]);
        assert_eq!(template(&write, &actions).expect("valid").writer, "ci-dev");
        let (write, _) = write_args(&["--writer-id", " "]);
        assert!(template(&write, &actions).is_err());
    }

    #[test]
    fn issue_11_writer_guard_flags_name_themselves_when_wrong() {
        let (_, guards) = write_args(&[]);
        let rules = writer_rules(&guards, "me").expect("defaults are valid");
        assert_eq!(
            rules,
            WriterRules {
                id: "me".into(),
                ..WriterRules::default()
            }
        );
        let (_, guards) = write_args(&["--fight-window", "7d", "--allow-revert"]);
        let rules = writer_rules(&guards, "me").expect("valid");
        assert_eq!((rules.window, rules.allow_revert), (7 * 86_400, true));
        for (argv, flag) in [
            (&["--fight-window", "soon"][..], "--fight-window \"soon\""),
            (&["--fight-window", "0"], "--fight-window \"0\""),
            (&["--fight-depth", "0"], "--fight-depth 0"),
            (&["--fight-depth", "101"], "--fight-depth 101"),
            (&["--max-changes", "0"], "--max-changes 0"),
            (&["--max-changes", "50"], "--max-changes 50"),
        ] {
            let (_, guards) = write_args(argv);
            let e = writer_rules(&guards, "me").expect_err(flag).to_string();
            assert!(e.starts_with(flag), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
