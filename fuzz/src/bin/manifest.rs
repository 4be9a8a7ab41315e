//! AFL++ entry point for the `manifest` target (see `targets::manifest`).

fn main() {
    afl::fuzz!(|data: &[u8]| gitops_bump_fuzz::targets::manifest(data));
}
