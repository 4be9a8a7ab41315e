//! AFL++ entry point for the `inputs` target (see `targets::inputs`).

fn main() {
    afl::fuzz!(|data: &[u8]| gitops_bump_fuzz::targets::inputs(data));
}
