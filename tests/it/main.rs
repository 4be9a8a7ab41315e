//! Integration tests: one binary, a module per area.

#![allow(clippy::print_stderr, clippy::print_stdout, clippy::unwrap_used)]

mod common;

/// action.yml's composite steps, run the way the runner runs them.
mod action;

/// @actions/core workflow-command vectors.
mod actions_oracles;
/// Shared anchors and pins on alias lines through `set --dir`; alias-free large files.
mod anchors;
/// The shared real-world corpus: recall and byte-exact edits.
mod corpus;
/// The engine's precision, recall and insertion cases through the binary.
mod engine_cli;
/// Engine cases from YAML fixtures: sites found, edits planned and written.
mod engine_fixtures;
/// `explain` end to end (offline tag lists).
mod explain_cli;
/// `explain --from`: an ImagePolicy, an Application alias, a configuration entry.
mod explain_from;
/// `explain` against the real registry: platforms, newest-build, pagination, errors.
mod explain_registry;
/// A fake GitHub (axum over a real Git repository) for the GitHub backend.
mod fake_github;
/// Flux image-automation setter vectors.
mod flux_setters;
/// The fuzz targets: seed and crash replay, and a bounded mutation run.
mod fuzz;
/// `set --repo` against the fake GitHub: budget, CAS, faults, concurrency.
mod github;
/// `set --repo` against a misbehaving GitHub: lost races, rate-limit shapes, caps, bad ids.
mod github_hardening;
/// `Backend::history` on GitHub: one pinned query for the writer guards.
mod github_history;
/// Structured GitHub logs: one event per request, never the token.
mod github_logs;
/// Hostile names, comments and labels never become runner commands or terminal controls.
mod injection;
/// `set` with the read-time keep filter equals `set` holding every file, over the corpus.
mod keep_equivalence;
/// kustomize renders the edited overlay to the intended image.
mod kustomize_render;
/// The module layering of `src/` (no import cycles).
mod layers;
/// Bounds: `explain --deadline`, the `updates` output and the job summary under GitHub's limits.
mod limits;
/// `--dir`: which files are read (ignore rules, UTF-16) and what is kept of skipped ones.
mod local_files;
/// `--dir`: file history for the writer guards.
mod local_history;
/// `--dir` writes under signals, a low open-file limit; modes and owners.
mod local_write;
/// Lossless editing under random documents.
mod lossless;
/// Masterminds, Flux and Argo CD tag-policy oracles.
mod policy_oracles;
/// `set --pull-request` against the fake GitHub: whose the branch is, the
/// same-tag no-op, stale pull requests closed, signed commits.
mod pull_request;
/// distribution/reference and kustomize name oracles.
mod reference_oracles;
/// The registry client against the real distribution registry.
mod registry;
/// The registry client against hostile registries: Link, tag names, sizes, redirects.
mod registry_hostile;
/// Structured registry logs: one event per request, never a secret.
mod registry_logs;
/// Digest pins: is a pin the tag's index or one platform's child, and what moves it.
mod registry_pins;
/// `set` verifying against the real registry, end to end.
mod registry_set;
/// Starts the real registry and loopback helpers; pushes images.
mod registry_support;
/// `set --dir` end to end through the real binary.
mod set_cli;
/// Issue #12's `set`-path kinds through the real binary (and the real registry).
mod set_issue12;
/// Pinned output of `set` and `explain` in every format.
mod snapshots;
/// `sync` against the real registry: verdicts, incidents, --apply.
mod sync;
/// `sync --apply` against the real registry: pin kinds, `policy: digest`,
/// chart templates, a tag list failing mid-pagination.
mod sync_apply;
/// `sync` over Argo CD Image Updater annotations and `ImageUpdater` objects.
mod sync_argo;
/// `sync` over Flux ImageRepository, ImagePolicy and ImageUpdateAutomation objects.
mod sync_flux;
/// `sync --repo --apply` against the fake GitHub: one commit, a racer,
/// pull requests per entry, dry run, a missing repository.
mod sync_github;
/// `sync` with outlines: the `--apply` re-read of an outline holding drift,
/// verdicts alike from outlines, configured files held whole.
mod sync_outline;
/// `sync --apply` asks the registry again before it writes: a tag deleted,
/// re-pushed without a platform, or moved since the survey is not written.
mod sync_recheck;
/// `--verbose`, `GITOPS_BUMP_LOG` and `RUNNER_DEBUG` logs through the binary, never a secret.
mod verbose;
/// Writers that never fight: revert detection, ownership, the storm brake, out-of-order builds.
mod writers;
