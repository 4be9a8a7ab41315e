//! gitops-bump: move image tags in a GitOps repository correctly.
//!
//! Every command flows through one spine:
//! `inputs → discover → resolve → plan → guard → commit → verify → report`.

#![warn(missing_docs)]

pub mod manifest;
pub mod reference;
