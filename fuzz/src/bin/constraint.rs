//! AFL++ entry point for the `constraint` target (see `targets::constraint`).

fn main() {
    afl::fuzz!(|data: &[u8]| gitops_bump_fuzz::targets::constraint(data));
}
