//! `set` verifying against the real registry through the binary.
