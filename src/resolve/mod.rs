//! Resolve, the spine step that asks the registry: whether the references a
//! run writes exist and provide the required platforms ([`verify`]), which
//! tag a policy selects ([`select`]), and the one platform check both use
//! ([`platforms`]). The only step besides the backend that does I/O; its
//! functions are async and run on the command's runtime.
//!
//! Owns the meaning of a registry answer (a missing tag is an error about
//! the image, an unreachable registry another); does not own registry I/O
//! (`registry`) or tag ordering (`policy`).

pub mod platforms;
pub mod select;
pub mod survey;
pub mod verify;
