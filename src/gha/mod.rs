//! GitHub Actions glue: the workflow-command wire format ([`commands`]),
//! the files the runner names for a step ([`files`]), and the action's
//! `INPUT_*` variables turned into a command line ([`inputs`]).

pub mod commands;
pub mod files;
pub mod inputs;
