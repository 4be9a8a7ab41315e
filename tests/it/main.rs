//! Integration tests: one binary, a module per area.

#![allow(clippy::print_stderr, clippy::print_stdout, clippy::unwrap_used)]

mod common;

/// action.yml's composite steps, run the way the runner runs them.
mod action;

/// @actions/core workflow-command vectors.
mod actions_oracles;
/// The shared real-world corpus: recall and byte-exact edits.
mod corpus;
/// `explain` end to end (offline tag lists).
mod explain_cli;
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
/// kustomize renders the edited overlay to the intended image.
mod kustomize_render;
/// The module layering of `src/` (no import cycles).
mod layers;
/// Lossless editing under random documents.
mod lossless;
/// Masterminds, Flux and Argo CD tag-policy oracles.
mod policy_oracles;
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
/// Pinned output of `set` and `explain` in every format.
mod snapshots;
