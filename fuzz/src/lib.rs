//! gitops-bump's fuzz targets as a library for the AFL++ binaries in
//! `src/bin/`. The targets and their properties are in [`targets`]; this
//! crate adds nothing else.

pub mod targets;
