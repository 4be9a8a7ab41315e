//! AFL++ entry point for the `reference` target (see `targets::reference`).

fn main() {
    afl::fuzz!(|data: &[u8]| gitops_bump_fuzz::targets::reference(data));
}
