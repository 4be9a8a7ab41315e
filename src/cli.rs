//! Low-level arguments: what the user typed, parsed by clap. No validation
//! beyond syntax; `settings` turns these into checked settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Move image tags in a GitOps repository correctly.
#[derive(Debug, Parser)]
#[command(name = "gitops-bump", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// Log what happens on stderr: `-v` info, `-vv` debug (every registry
    /// and GitHub request), `-vvv` trace. `GITOPS_BUMP_LOG` (an env-filter
    /// directive such as `gitops_bump::registry=debug`) overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set image references to a new tag or digest in every matching manifest.
    Set(SetArgs),
    /// Check every tracked image against its registry: drift at file:line, and with
    /// `--apply` one commit (or pull request per entry) that fixes it.
    Sync(SyncArgs),
    /// Show which tag a policy selects, step by step, and warn about likely mistakes.
    Explain(ExplainArgs),
    /// Run as a GitHub Action step: read the `INPUT_*` variables action.yml passes.
    #[command(hide = true)]
    Action,
}

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The image repository (with `--tags-from`, only a label). Not with `--from`.
    #[arg(value_name = "IMAGE", required_unless_present = "from")]
    pub image: Option<String>,

    /// Explain what an object in the repository selects: a Flux ImagePolicy
    /// file (its ImageRepository in the same file or directory), an Argo CD
    /// Application annotated for Image Updater or an `ImageUpdater`, or a
    /// `.gitops-bump.yaml`. The image, policy, filter and platforms come from
    /// it, so IMAGE, `--policy`, `--filter`, `--extract`, `--exclude` and
    /// `--semver-parse` cannot be given.
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with_all = ["image", "policy", "filter", "extract", "exclude", "semver_parse"]
    )]
    pub from: Option<PathBuf>,

    /// With `--from`, which one: the ImagePolicy's name, the image alias of
    /// the Application or `ImageUpdater`, or the configuration entry's image
    /// name (needed only when the file holds several).
    #[arg(long, value_name = "NAME", requires = "from")]
    pub alias: Option<String>,

    /// Tag policy: `semver:RANGE`, `alphabetical[:asc|desc]`, `numerical[:asc|desc]`,
    /// `newest-build` or `digest[:TAG]`.
    #[arg(long, value_name = "SPEC", default_value = "semver:*")]
    pub policy: String,

    /// Keep only tags this (unanchored) regex matches; named groups feed `--extract`.
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,

    /// What the policy compares, expanded from `--filter` groups (`$ts`, `${1}`).
    #[arg(long, value_name = "TEMPLATE", requires = "filter")]
    pub extract: Option<String>,

    /// Drop tags this regex matches (repeatable; added to the defaults for
    /// cosign `.sig`, `.att` and `.sbom` tags).
    #[arg(long, value_name = "REGEX")]
    pub exclude: Vec<String>,

    /// How tags are read as versions: `strict` (Flux: exactly three parts) or
    /// `lenient` (Argo CD: `1` and `1.2` accepted).
    #[arg(long, value_enum, default_value_t = SemverParseArg::Strict)]
    pub semver_parse: SemverParseArg,

    /// Take the tag list from a file, one tag per line (`-` for stdin), instead of the registry.
    #[arg(long, value_name = "FILE")]
    pub tags_from: Option<PathBuf>,

    /// Most tags checked against the registry: build times fetched for
    /// `newest-build`, and ranked tags tried for `--platform`. Each costs
    /// registry requests (and Docker Hub pull quota).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_candidates: usize,

    /// Total time allowed for the whole registry conversation, retries and
    /// waits included (`300`, `90s`, `5m`, `1h`).
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub deadline: String,

    /// How the registry is asked (not with `--tags-from`).
    #[command(flatten)]
    pub registry: RegistryArgs,

    /// How results are shown.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The configuration file, relative to the repository root (default:
    /// `.gitops-bump.yaml` when it exists).
    #[arg(long, value_name = "PATH")]
    pub config: Option<String>,

    /// Fix drift: write the files (`--dir`; one local commit with `--commit`), or make
    /// one compare-and-swap commit (`--repo`), plus one pull request per entry with
    /// `mode: pull-request`. With `--dry-run`, print the diff and write nothing.
    #[arg(long)]
    pub apply: bool,

    /// The policy for references no configuration governs: `semver` (the newest stable
    /// semver tag in the current tag's style and track), another SPEC, or `none`.
    /// Drift it finds is a notice, applied only when this flag is given.
    #[arg(long, value_name = "SPEC|none")]
    pub default_policy: Option<String>,

    /// How long a newer image may be missing from Git before that is an error
    /// (`15m`, `1h`; `0` for never in flight). Configuration entries may set their own.
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<String>,

    /// The least severity that fails the run (exit 1).
    #[arg(long, value_enum, default_value_t = FailOnArg::Error)]
    pub fail_on: FailOnArg,

    /// Allow writing a tag that orders before the current one.
    #[arg(long)]
    pub allow_downgrade: bool,

    /// Most tags checked against the registry per image (platform tries, build times).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_candidates: usize,

    /// Skip files this glob matches, relative to the root (repeatable; `*`
    /// never crosses `/`), even when `--files` selects them.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// How writers are kept from fighting (with `--apply`).
    #[command(flatten)]
    pub writers: WriterGuardArgs,

    /// Where the manifests are.
    #[command(flatten)]
    pub source: SourceArgs,

    /// How changes are written (with `--apply`).
    #[command(flatten)]
    pub write: WriteArgs,

    /// How the registry is asked and what tags must provide.
    #[command(flatten)]
    pub registry: RegistryArgs,

    /// How results are shown.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `--fail-on` levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// Errors fail the run (missing tags and platforms, lost deploys, registry failures).
    Error,
    /// Warnings fail it too (ahead, blocked).
    Warning,
    /// Only a failed write fails the run.
    Never,
}

/// Semver parsing modes on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SemverParseArg {
    /// Flux: exactly three parts, optional lowercase `v`.
    Strict,
    /// Argo CD: `1` and `1.2` are versions too.
    Lenient,
}

/// Arguments of `set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Images to set: `name:tag`, `name@sha256:<64 hex>` or `name:tag@sha256:…`.
    #[arg(value_name = "IMAGE_REF", required = true)]
    pub images: Vec<String>,

    /// Where the manifests are.
    #[command(flatten)]
    pub source: SourceArgs,

    /// How changes are written.
    #[command(flatten)]
    pub write: WriteArgs,

    /// How the registry is checked.
    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Skip the registry checks (tag exists, platforms, digest).
    #[arg(long, help_heading = "Writing")]
    pub no_verify: bool,

    /// Which moves are allowed.
    #[command(flatten)]
    pub guard: GuardArgs,

    /// Which references and files `set` considers.
    #[command(flatten)]
    pub select: SelectArgs,

    /// How writers are kept from fighting.
    #[command(flatten)]
    pub writers: WriterGuardArgs,

    /// How results are shown.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Which moves `set` allows.
#[derive(Debug, Args)]
#[command(next_help_heading = "Guard")]
pub struct GuardArgs {
    /// Allow moving an image to a tag that orders before its current tag.
    #[arg(long)]
    pub allow_downgrade: bool,

    /// Order tags by this policy for the no-downgrade check (default: semver,
    /// lenient parsing, when both tags parse). Only the ordering is used.
    #[arg(long, value_name = "SPEC")]
    pub policy: Option<String>,
}

/// Which references and files `set` considers.
#[derive(Debug, Args)]
#[command(next_help_heading = "Selection")]
pub struct SelectArgs {
    /// Skip files this glob matches, relative to the root (repeatable; `*`
    /// never crosses `/`), even when `--files` selects them.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Move the references whose current tag this (unanchored) regex
    /// matches, whatever their tag track. Default: only references whose
    /// current tag is on the new tag's track (`agent-0.0.1` for
    /// `agent-0.0.2`, `1.25-alpine` for `1.26-alpine`).
    #[arg(long, value_name = "REGEX")]
    pub match_tag: Option<String>,

    /// Succeed when an IMAGE_REF matches no reference (a pipeline that runs
    /// on repositories where the image may be absent). Default: exit 1.
    #[arg(long)]
    pub allow_absent: bool,
}

/// The writer guards of `set` and `sync`: revert detection, the storm
/// brake (ownership needs no flag: `.gitops-bump.yaml` names owners).
#[derive(Debug, Args)]
#[command(next_help_heading = "Writer guards")]
pub struct WriterGuardArgs {
    /// How far back a change counts when another writer would undo it
    /// (`24h`, `90m`, `7d`).
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub fight_window: String,

    /// Most commits of each changed file read for the writer guards (1 to 100).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub fight_depth: usize,

    /// Allow undoing another writer's recent change (a deliberate rollback).
    #[arg(long)]
    pub allow_revert: bool,

    /// Refuse to change an image that changed more than N times in the same
    /// file within the last hour (a loop is already running).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_changes: usize,
}

/// Where the manifests are.
#[derive(Debug, Args)]
#[command(next_help_heading = "Manifests")]
pub struct SourceArgs {
    /// Work on a local directory or Git work tree.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["repo", "branch", "api"])]
    pub dir: Option<PathBuf>,

    /// Work on a GitHub repository through its API (default: `$GITHUB_REPOSITORY`).
    /// The token comes from `GITHUB_TOKEN` or `GH_TOKEN`, never from arguments.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,

    /// With `--repo`: the branch to commit to (default: the repository's default branch).
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,

    /// With `--repo`: how commits are written. `graphql` uses `createCommitOnBranch`;
    /// `rest` is for GitHub Enterprise Server versions without it.
    #[arg(long, value_enum, value_name = "API")]
    pub api: Option<ApiKind>,

    /// Which files to consider, relative to the root (repeatable; `*` never crosses `/`).
    /// Default: `**/*.yaml` and `**/*.yml`.
    #[arg(long = "files", value_name = "GLOB")]
    pub files: Vec<String>,

    /// Largest file to read, in bytes or with a KiB/MiB suffix.
    #[arg(long, value_name = "SIZE", default_value = "5MiB")]
    pub max_file_size: String,
}

/// How changes are written.
#[derive(Debug, Args)]
#[command(next_help_heading = "Writing")]
pub struct WriteArgs {
    /// Plan, verify and report, but write nothing; prints a unified diff.
    #[arg(long)]
    pub dry_run: bool,

    /// With `--dir` on a Git work tree: make one local commit with the git CLI.
    #[arg(long)]
    pub commit: bool,

    /// Commit message template; placeholders: {image}, {from}, {to}, {summary}.
    #[arg(long, value_name = "TEMPLATE")]
    pub message: Option<String>,

    /// Identity of this writer, recorded in the `Gitops-Bump-Writer:` trailer and
    /// checked by the writer guards (default: `gitops-bump`; in GitHub Actions,
    /// `<workflow>@<repository>`).
    #[arg(long, value_name = "ID")]
    pub writer_id: Option<String>,

    /// Add `[skip ci]` to the commit subject, so push and pull_request workflows skip it.
    #[arg(long)]
    pub skip_ci: bool,

    /// With `--repo`: commit to the branch `gitops-bump/<BASE>/<IMAGES>` instead, and open
    /// (or update) one pull request from it into `--branch`. Needs `pull-requests: write`.
    #[arg(long)]
    pub pull_request: bool,

    /// Most attempts at one write (re-reads after the branch moved) and at one API request.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_attempts: usize,

    /// Total time allowed for retries and waits (`300`, `90s`, `5m`, `1h`).
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub deadline: String,
}

/// How the registry is reached and what a tag must provide; shared by `set`
/// (skipped with `--no-verify`) and `explain` (unused with `--tags-from`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Registry")]
pub struct RegistryArgs {
    /// A platform the tag must provide (repeatable, or comma-separated:
    /// `linux/amd64,linux/arm64`).
    #[arg(long = "platform", value_name = "OS/ARCH[/VARIANT]")]
    pub platforms: Vec<String>,

    /// Talk plain HTTP to this registry (repeatable; a HOST without a port
    /// allows every port). Meant for loopback test registries.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,

    /// Credentials for a registry (repeatable). The last part names an
    /// environment variable holding the password or token, so the secret
    /// never appears on the command line.
    #[arg(long = "registry-auth", value_name = "HOST=USER:PASSWORD_ENV_VAR")]
    pub registry_auth: Vec<String>,
}

/// How results are shown.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Human text (default) or one JSON document on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// The write path of the GitHub backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ApiKind {
    /// One `createCommitOnBranch` mutation (compare-and-swap on `expectedHeadOid`).
    Graphql,
    /// Blobs and tree, a commit, then `PATCH git/refs` with `force: false`.
    Rest,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Readable text.
    Text,
    /// One JSON document.
    Json,
}
