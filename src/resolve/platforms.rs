//! The one platform check: which required platforms an image lacks, and
//! how that is said. Used for the tag `set` writes and for every tag a
//! policy selects.

use crate::registry::{Platform, shown_list};

/// The platforms of `want` that `have` lacks, in `want`'s order.
/// `linux/arm64` and `linux/arm64/v8` are the same platform (see
/// [`Platform`]'s equality).
pub fn missing<'a>(have: &[Platform], want: &'a [Platform]) -> Vec<&'a Platform> {
    want.iter().filter(|p| !have.contains(p)).collect()
}

/// `… lacks platform linux/arm64 (it has: linux/amd64)`: names at most
/// five of `have` (an index may list thousands).
pub fn lacks(what: &str, missing: &[&Platform], have: &[Platform]) -> String {
    let missing: Vec<String> = missing.iter().map(ToString::to_string).collect();
    let have: Vec<String> = have.iter().map(ToString::to_string).collect();
    format!(
        "{what} lacks platform {} (it has: {})",
        missing.join(", "),
        if have.is_empty() {
            "none declared".to_owned()
        } else {
            shown_list(&have, 5)
        }
    )
}

/// `linux/amd64, linux/arm64`.
pub fn joined(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm64_is_arm64_v8_and_lists_are_cut() {
        let p = |s: &str| Platform::parse_list(s).expect("valid");
        let have = p("linux/amd64,linux/arm64/v8");
        assert!(missing(&have, &p("linux/arm64")).is_empty());
        let want = p("linux/s390x");
        let gone = missing(&have, &want);
        assert_eq!(
            lacks("app:v1", &gone, &have),
            "app:v1 lacks platform linux/s390x (it has: linux/amd64, linux/arm64)"
        );
        let many: Vec<Platform> = (0..20)
            .map(|i| p(&format!("linux/arch{i}")).remove(0))
            .collect();
        assert!(
            lacks("x", &gone, &many).contains("… and 15 more"),
            "{}",
            lacks("x", &gone, &many)
        );
        assert_eq!(
            lacks("x", &gone, &[]),
            "x lacks platform linux/s390x (it has: none declared)"
        );
    }
}
