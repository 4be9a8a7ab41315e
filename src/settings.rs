//! Inputs, the first step of the spine: turns [`cli`](crate::cli) arguments
//! into checked [`Settings`] (for `set`) and [`ExplainSettings`]. Compiles
//! globs, policies and regexes, parses image references and sizes. Does no
//! network and no file I/O.

use std::path::PathBuf;
use std::time::Duration;

use crate::backend::files::FileSelection;
use crate::backend::github::{self, ApiKind, Endpoints, RepoName, Token};
use crate::cli::{self, ExplainArgs, OutputFormat, RegistryArgs, SemverParseArg, SetArgs};
use crate::commit::message::Template;
use crate::commit::retry::RetrySettings;
use crate::guard::Downgrades;
use crate::plan::Desired;
use crate::policy::{Policy, SemverParse, TagFilter};
use crate::reference::{Reference, Repository};
use crate::registry::{FlagCredential, Platform, RegistryOptions, Secret};

/// A usage or configuration error: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Where manifests live.
#[derive(Debug)]
pub enum Source {
    /// `--dir PATH`: a directory or Git work tree.
    Dir(PathBuf),
    /// `--repo OWNER/NAME`: a GitHub repository through its API.
    GitHub(github::Config),
}

/// Checked settings for `set`.
#[derive(Debug)]
pub struct Settings {
    /// Images to set, one per repository.
    pub targets: Vec<Desired>,
    /// Where the manifests are.
    pub source: Source,
    /// Files to read.
    pub files: FileSelection,
    /// Write nothing.
    pub dry_run: bool,
    /// Write through a pull request (`--pull-request`) instead of to the branch.
    pub pull_request: bool,
    /// Registry checks skipped.
    pub no_verify: bool,
    /// Make a local Git commit.
    pub commit: bool,
    /// Commit message template, writer identity and `[skip ci]`.
    pub message: Template,
    /// Retry bounds.
    pub retry: RetrySettings,
    /// Output format.
    pub output: OutputFormat,
    /// Platforms every target must provide.
    pub platforms: Vec<Platform>,
    /// How to reach registries.
    pub registry: RegistryOptions,
    /// The no-downgrade check.
    pub downgrades: Downgrades,
}

impl Settings {
    /// Validates `set` arguments against the process environment.
    pub fn resolve(args: &SetArgs) -> Result<Settings, UsageError> {
        Settings::resolve_with(args, &|k| std::env::var(k).ok())
    }

    /// Validates `set` arguments; `env` looks up environment variables
    /// (empty values count as unset).
    pub fn resolve_with(
        args: &SetArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, UsageError> {
        let env = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut targets: Vec<Desired> = Vec::new();
        for arg in &args.images {
            let reference =
                Reference::parse(arg).map_err(|e| UsageError(format!("IMAGE_REF {arg:?}: {e}")))?;
            if reference.tag().is_none() && reference.digest().is_none() {
                return Err(UsageError(format!(
                    "IMAGE_REF {arg:?}: give a tag or a digest (name:tag, name@sha256:…)"
                )));
            }
            if let Some(other) = targets
                .iter()
                .find(|t| t.reference.repository() == reference.repository())
            {
                return Err(UsageError(format!(
                    "IMAGE_REF {arg:?}: the same image is already set by {:?}",
                    other.arg
                )));
            }
            targets.push(Desired {
                arg: arg.clone(),
                reference,
                resolved_digest: None,
            });
        }
        let source = resolve_source(args, &env)?;
        if args.write.pull_request {
            match &source {
                Source::Dir(_) => {
                    return Err(UsageError(
                        "--pull-request is for --repo; with --dir, open the pull request yourself"
                            .into(),
                    ));
                }
                Source::GitHub(gh) if gh.api == ApiKind::Rest => {
                    // NOTE: GHES versions without `createCommitOnBranch` lack
                    // `createRef`/`updateRefs` in GraphQL too.
                    return Err(UsageError(
                        "--pull-request needs --api graphql (createRef, updateRefs and createPullRequest)"
                            .into(),
                    ));
                }
                Source::GitHub(_) => {}
            }
        }
        let (platforms, registry) = registry_settings(&args.registry, &env)?;
        let downgrades = match (&args.guard.policy, args.guard.allow_downgrade) {
            (_, true) => Downgrades::Allowed,
            (None, false) => Downgrades::default(),
            (Some(spec), false) => Downgrades::Refused(
                Policy::parse(spec).map_err(|e| UsageError(format!("--policy: {e}")))?,
            ),
        };
        if args.write.no_verify && !platforms.is_empty() {
            return Err(UsageError(
                "--platform needs the registry check; drop --no-verify or drop --platform".into(),
            ));
        }
        let max_size = parse_size(&args.source.max_file_size).ok_or_else(|| {
            UsageError(format!(
                "--max-file-size {:?}: expected bytes, or a number with KiB/MiB/GiB",
                args.source.max_file_size
            ))
        })?;
        if args
            .write
            .message
            .as_deref()
            .is_some_and(|m| m.trim().is_empty())
        {
            return Err(UsageError("--message: the template is empty".into()));
        }
        if args.write.writer_id.trim().is_empty() || args.write.writer_id.contains(['\n', '\r']) {
            return Err(UsageError("--writer-id: must be one non-empty line".into()));
        }
        if args.write.max_attempts == 0 {
            return Err(UsageError("--max-attempts: must be at least 1".into()));
        }
        let deadline = parse_duration(&args.write.deadline).ok_or_else(|| {
            UsageError(format!(
                "--deadline {:?}: expected seconds, or a number with ms/s/m/h",
                args.write.deadline
            ))
        })?;
        if args.write.commit && matches!(source, Source::GitHub(_)) {
            return Err(UsageError(
                "--commit is for --dir; with --repo every write is a commit".into(),
            ));
        }
        Ok(Settings {
            targets,
            source,
            files: FileSelection::new(&args.source.files, max_size)
                .map_err(|e| UsageError(e.to_string()))?,
            dry_run: args.write.dry_run,
            pull_request: args.write.pull_request,
            no_verify: args.write.no_verify,
            commit: args.write.commit,
            message: Template {
                subject: args.write.message.clone(),
                writer: args.write.writer_id.trim().to_owned(),
                skip_ci: args.write.skip_ci,
            },
            retry: RetrySettings {
                max_attempts: args.write.max_attempts,
                deadline,
            },
            output: args.output.output,
            platforms,
            registry,
            downgrades,
        })
    }
}

/// Where `explain` gets its tags.
#[derive(Debug)]
pub enum TagSource {
    /// `--tags-from FILE` (`-` is stdin): offline.
    File(PathBuf),
    /// The registry, for this repository.
    Registry(Repository),
}

/// Checked settings for `explain`.
#[derive(Debug)]
pub struct ExplainSettings {
    /// The IMAGE argument as given.
    pub image: String,
    /// The compiled policy.
    pub policy: Policy,
    /// Exclusions, filter and extract template.
    pub filter: TagFilter,
    /// Where the tags come from.
    pub source: TagSource,
    /// Platforms the winner must provide (registry only).
    pub platforms: Vec<Platform>,
    /// How to reach the registry.
    pub registry: RegistryOptions,
    /// Most tags checked against the registry (build times, platform tries).
    pub max_candidates: usize,
    /// Output format.
    pub output: OutputFormat,
}

impl ExplainSettings {
    /// Validates `explain` arguments against the process environment.
    pub fn resolve(args: &ExplainArgs) -> Result<ExplainSettings, UsageError> {
        ExplainSettings::resolve_with(args, &|k| std::env::var(k).ok())
    }

    /// Validates `explain` arguments; `env` looks up environment variables
    /// (empty values count as unset).
    pub fn resolve_with(
        args: &ExplainArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ExplainSettings, UsageError> {
        let env = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let (mut policy, filter) = compile_policy(args)?;
        let (platforms, registry) = registry_settings(&args.registry, &env)?;
        if args.max_candidates == 0 {
            return Err(UsageError("--max-candidates: must be at least 1".into()));
        }
        let source = match &args.tags_from {
            Some(path) => {
                if matches!(policy, Policy::NewestBuild) {
                    return Err(UsageError("--policy newest-build orders by image build time, which only the registry knows; it cannot work with --tags-from".into()));
                }
                if !platforms.is_empty() {
                    return Err(UsageError(
                        "--platform needs the registry; drop --tags-from or drop --platform".into(),
                    ));
                }
                TagSource::File(path.clone())
            }
            None => {
                let reference = Reference::parse(&args.image)
                    .map_err(|e| UsageError(format!("IMAGE {:?}: {e}", args.image)))?;
                if reference.digest().is_some() {
                    return Err(UsageError(format!(
                        "IMAGE {:?}: give the repository without a digest; explain selects the tag",
                        args.image
                    )));
                }
                // A bare `digest` policy follows the tag written on the image
                // (`explain app:latest --policy digest`); any other policy
                // selects the tag, so a tag given there would be ignored.
                match (&mut policy, reference.tag()) {
                    (Policy::Digest { tag: tag @ None }, Some(t)) => *tag = Some(t.to_owned()),
                    (_, Some(t)) => {
                        return Err(UsageError(format!(
                            "IMAGE {:?}: give the repository without the tag {t:?}; the policy selects the tag (only --policy digest follows a tag written there)",
                            args.image
                        )));
                    }
                    (_, None) => {}
                }
                TagSource::Registry(reference.repository())
            }
        };
        Ok(ExplainSettings {
            image: args.image.clone(),
            policy,
            filter,
            source,
            platforms,
            registry,
            max_candidates: args.max_candidates,
            output: args.output.output,
        })
    }
}

/// Builds the policy and filter from `explain` arguments (no I/O), naming
/// the flag that is wrong.
pub fn compile_policy(args: &ExplainArgs) -> Result<(Policy, TagFilter), UsageError> {
    let mode = match args.semver_parse {
        SemverParseArg::Strict => SemverParse::Strict,
        SemverParseArg::Lenient => SemverParse::Lenient,
    };
    let policy = Policy::parse(&args.policy)
        .map_err(|e| UsageError(format!("--policy: {e}")))?
        .with_semver_parse(mode);
    let mut filter = TagFilter::new(args.filter.as_deref(), args.extract.as_deref())
        .map_err(|e| UsageError(format!("--filter: {e}")))?;
    for pattern in &args.exclude {
        filter = filter
            .exclude_regex(pattern)
            .map_err(|e| UsageError(format!("--exclude: {e}")))?;
    }
    Ok((policy, filter))
}

/// Checks the registry arguments: platforms, insecure hosts and
/// `--registry-auth HOST=USER:PASSWORD_ENV_VAR` (the secret is read from the
/// named variable here, so a missing one is a usage error, exit 2). Shared
/// by `set` and `explain`, so both read the flags the same way.
pub fn registry_settings(
    args: &RegistryArgs,
    env: &dyn Fn(&str) -> Option<String>,
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
        let password = env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
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
    let github_token = ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|k| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        })
        .map(Secret::new);
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

/// `--dir`, else `--repo`, else `$GITHUB_REPOSITORY`.
fn resolve_source(
    args: &SetArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Source, UsageError> {
    if let Some(dir) = &args.source.dir {
        if !dir.is_dir() {
            return Err(UsageError(format!(
                "--dir {}: not a directory",
                dir.display()
            )));
        }
        return Ok(Source::Dir(dir.clone()));
    }
    let (repo, from) = match (&args.source.repo, env("GITHUB_REPOSITORY")) {
        (Some(r), _) => (r.clone(), "--repo"),
        (None, Some(r)) => (r, "$GITHUB_REPOSITORY"),
        (None, None) => {
            return Err(UsageError(
                "set: say where the manifests are: --dir PATH, or --repo OWNER/NAME (default $GITHUB_REPOSITORY)".into(),
            ));
        }
    };
    let repo = RepoName::parse(&repo).map_err(|e| UsageError(format!("{from} {repo:?}: {e}")))?;
    let branch = match &args.source.branch {
        Some(b) if !github::valid_branch(b) => {
            return Err(UsageError(format!(
                "--branch {b:?}: not a valid branch name"
            )));
        }
        b => b.clone(),
    };
    let token = env("GITHUB_TOKEN")
        .or_else(|| env("GH_TOKEN"))
        .map(Token::new)
        .ok_or_else(|| {
            UsageError(
                "set --repo: no token; set GITHUB_TOKEN (or GH_TOKEN) to a token with `contents: write` on the repository".into(),
            )
        })?;
    let endpoints =
        Endpoints::resolve(env("GITHUB_API_URL"), env("GITHUB_GRAPHQL_URL")).map_err(UsageError)?;
    Ok(Source::GitHub(github::Config {
        repo,
        branch,
        api: match args.source.api {
            Some(cli::ApiKind::Rest) => ApiKind::Rest,
            Some(cli::ApiKind::Graphql) | None => ApiKind::Graphql,
        },
        endpoints,
        token,
    }))
}

/// Parses `300`, `500ms`, `90s`, `5m`, `1h`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "" | "s" => Some(Duration::from_secs(n)),
        "m" | "min" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

/// Parses `123`, `64KiB`, `5MiB`, `1GiB` (also `K`, `M`, `G`, `KB`, `MB`).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
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
        let env = |k: &str| (k == "REG_PASS").then(|| "s3cret".to_owned());
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

    #[test]
    fn sizes() {
        assert_eq!(parse_size("5MiB"), Some(5 << 20));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("5 TB"), None);
        assert_eq!(parse_size("x"), None);
    }

    fn set_args(argv: &[&str]) -> SetArgs {
        use clap::Parser;
        let mut full = vec!["gitops-bump", "set"];
        full.extend(argv);
        match crate::cli::Cli::try_parse_from(full)
            .expect("parses")
            .command
        {
            crate::cli::Command::Set(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn repo_settings_come_from_env_and_never_show_the_token() {
        let args = set_args(&["--no-verify", "--branch", "main", "a/b:1"]);
        let env = |k: &str| match k {
            "GITHUB_REPOSITORY" => Some("acme/gitops".to_owned()),
            "GITHUB_TOKEN" => Some("  ".to_owned()), // empty counts as unset
            "GH_TOKEN" => Some("ghp_SECRET".to_owned()),
            "GITHUB_API_URL" => Some("https://ghe.example.com/api/v3".to_owned()),
            _ => None,
        };
        let settings = Settings::resolve_with(&args, &env).expect("valid");
        let Source::GitHub(gh) = &settings.source else {
            panic!("expected the GitHub backend");
        };
        assert_eq!(gh.repo.to_string(), "acme/gitops");
        assert_eq!(gh.endpoints.graphql, "https://ghe.example.com/api/graphql");
        assert!(!format!("{settings:?}").contains("ghp_SECRET"));
        let no_token = |k: &str| (k == "GITHUB_REPOSITORY").then(|| "acme/gitops".to_owned());
        assert!(Settings::resolve_with(&args, &no_token).is_err());
    }

    fn explain_settings(argv: &[&str]) -> Result<ExplainSettings, UsageError> {
        use clap::Parser;
        let mut full = vec!["gitops-bump", "explain"];
        full.extend(argv);
        match crate::cli::Cli::try_parse_from(full)
            .expect("parses")
            .command
        {
            crate::cli::Command::Explain(args) => {
                ExplainSettings::resolve_with(&args, &|_: &str| None)
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn explain_settings_pick_the_tag_source_and_check_the_image() {
        let s =
            explain_settings(&["ghcr.io/acme/app", "--platform", "linux/arm64"]).expect("valid");
        assert!(matches!(&s.source, TagSource::Registry(r) if r.to_string() == "ghcr.io/acme/app"));
        assert_eq!(s.platforms.len(), 1);
        assert_eq!(s.max_candidates, 100);
        // A bare digest policy follows the tag written on the image.
        let s = explain_settings(&["ghcr.io/acme/app:main", "--policy", "digest"]).expect("valid");
        assert_eq!(s.policy.to_string(), "digest:main");
        for bad in [
            &["ghcr.io/acme/app:v1"][..],
            &[
                "ghcr.io/acme/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ],
            &["label", "--tags-from", "-", "--policy", "newest-build"],
            &["label", "--tags-from", "-", "--platform", "linux/amd64"],
            &["ghcr.io/acme/app", "--max-candidates", "0"],
        ] {
            assert!(explain_settings(bad).is_err(), "{bad:?}");
        }
        // Offline, IMAGE is only a label.
        let s = explain_settings(&["not a reference", "--tags-from", "-"]).expect("valid");
        assert!(matches!(s.source, TagSource::File(_)));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("300"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("5 days"), None);
    }
}
