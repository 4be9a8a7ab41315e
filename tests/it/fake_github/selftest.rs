//! Self-tests of the fake GitHub (being written).
