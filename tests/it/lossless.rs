//! Lossless editing under random documents (proptest).
