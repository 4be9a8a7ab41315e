//! AFL++ entry point for the `link` target (see `targets::link`).

fn main() {
    afl::fuzz!(|data: &[u8]| gitops_bump_fuzz::targets::link(data));
}
