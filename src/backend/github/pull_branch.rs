//! The name of a pull-request branch: `gitops-bump/<base>/<images>`. Owns
//! the mapping from a pull request's key (the image repositories a `set`
//! moves, or a `sync` entry's key) to a branch name, which must be
//! injective (two different keys never share a branch, so two pull
//! requests never fight over one) and readable. Pure; the rest of
//! pull-request mode is in `pull`.
//!
//! # The encoding
//!
//! Each key is turned into its familiar repository name when it is one
//! (`docker.io/library/nginx` → `nginx`, as `docker` prints it), then
//! escaped character by character:
//!
//! | in the name | in the branch |
//! |---|---|
//! | `a`–`z`, `0`–`9`, `.` | itself |
//! | `/` | `-` |
//! | `-` | `--` |
//! | `:` (before a port) | `_` |
//! | `_` | `__` |
//!
//! `ghcr.io/acme/backend` → `ghcr.io-acme-backend`, `ghcr.io/acme/my-app`
//! → `ghcr.io-acme-my--app`, `localhost:5000/a` → `localhost_5000-a`. The
//! escape is injective on repository names because of their grammar
//! (distribution/reference): a `/` or `:` always sits between letters or
//! digits, and `-` and `_` only occur in separators between letters or
//! digits, so a run of one `-` (or `_`) can only be a `/` (or `:`), and
//! runs of two or more are always even. `a-b/c` gives `a--b-c`, `a/b-c`
//! gives `a-b--c`.
//!
//! A key that is not a repository name (or whose familiar form holds other
//! characters, such as an IPv6 host) is written `_<key, letters and digits
//! kept, anything else as `-`>-<10 hex digits of its SHA-256>`: a leading
//! `_` never starts an escaped name, so the two kinds never meet.
//!
//! Several keys are sorted and joined by `+`, which no encoding holds. A
//! result ending in `.lock` (which Git refuses) gets a `_`, which no other
//! encoding ends with. A result over 80 characters keeps its first 70 and
//! ends with `-` and 10 hex digits of the SHA-256 of all the keys: 81
//! characters, a length no unhashed name has.

use sha2::Digest as _;

use super::types::valid_branch;

/// Every pull-request branch starts with this.
pub const PREFIX: &str = "gitops-bump/";

/// Longest image part of a branch name before it is shortened with a hash.
const MAX_IMAGES_LEN: usize = 80;

/// How much of a longer image part is kept before the hash.
const KEPT: usize = 70;

/// The pull-request branch for `keys` (image repositories, or a `sync`
/// entry's key; any order, duplicates ignored) into `base`:
/// `gitops-bump/<base>/<images>` (module docs), so the same keys always
/// share one branch whatever their tags, and different keys never do
/// (`ghcr.io/acme/backend` → `gitops-bump/main/ghcr.io-acme-backend`).
pub fn pull_request_branch(base: &str, keys: &[String]) -> String {
    // Sorted as shown; equal keys have equal encodings.
    let mut names: Vec<(String, String)> = keys.iter().map(|k| (encode(k), canonical(k))).collect();
    names.sort();
    names.dedup();
    let mut part = names
        .iter()
        .map(|(e, _)| e.as_str())
        .collect::<Vec<_>>()
        .join("+");
    if part.ends_with(".lock") {
        part.push('_');
    }
    let digest = || {
        let all: Vec<&str> = names.iter().map(|(_, c)| c.as_str()).collect();
        hex10(&all.join("\n"))
    };
    if part.len() > MAX_IMAGES_LEN {
        // ASCII only, so any byte index is a character boundary.
        part = format!("{}-{}", &part[..KEPT], digest());
    }
    let branch = format!("{PREFIX}{base}/{part}");
    if valid_branch(&branch) {
        branch
    } else {
        // Every encoding is ref-safe, so this is for odd bases; the hash
        // alone is always valid.
        format!("{PREFIX}{base}/{}", digest())
    }
}

/// The key as a set member: its normalized repository when it is one (so
/// `nginx` and `docker.io/library/nginx` are one key), else itself.
fn canonical(key: &str) -> String {
    crate::reference::Repository::parse(key).map_or_else(|_| key.to_owned(), |r| r.to_string())
}

/// One key's part of the branch name (module docs).
fn encode(key: &str) -> String {
    let familiar = crate::reference::Repository::parse(key).map(|r| r.familiar());
    match familiar {
        Ok(f)
            if f.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"./-:_".contains(&b)) =>
        {
            let mut out = String::with_capacity(f.len() + 8);
            for c in f.chars() {
                match c {
                    '/' => out.push('-'),
                    '-' => out.push_str("--"),
                    ':' => out.push('_'),
                    '_' => out.push_str("__"),
                    c => out.push(c),
                }
            }
            out
        }
        _ => {
            let mut kept: String = key
                .to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            kept.truncate(40);
            format!("_{kept}-{}", hex10(key))
        }
    }
}

/// The first 10 hex digits of the SHA-256 of `text`.
fn hex10(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .take(5)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn branch(keys: &[&str]) -> String {
        pull_request_branch(
            "main",
            &keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn names_are_readable_and_stable() {
        assert_eq!(
            branch(&["ghcr.io/acme/backend"]),
            "gitops-bump/main/ghcr.io-acme-backend"
        );
        // Order and spelling do not matter; Docker Hub names are familiar.
        let a = pull_request_branch(
            "release/1.x",
            &[
                "docker.io/library/nginx".into(),
                "localhost:5000/a/b".into(),
            ],
        );
        let b = pull_request_branch(
            "release/1.x",
            &["localhost:5000/a/b".into(), "nginx".into(), "nginx".into()],
        );
        assert_eq!(a, "gitops-bump/release/1.x/localhost_5000-a-b+nginx");
        assert_eq!(a, b);
        assert_eq!(
            branch(&["ghcr.io/acme/my-app"]),
            "gitops-bump/main/ghcr.io-acme-my--app"
        );
        assert_eq!(branch(&["acme/x.lock"]), "gitops-bump/main/acme-x.lock_");
        assert_eq!(branch(&["a__b/c_d"]), "gitops-bump/main/a____b-c__d");
    }

    // See: issue #14. `a-b/c` and `a/b-c` both became `a-b-c`.
    #[test]
    fn issue_14_separators_no_longer_collide() {
        let pairs: [(&[&str], &[&str]); 8] = [
            (&["a-b/c"], &["a/b-c"]),
            (&["a/b"], &["a-b"]),
            (&["localhost:5000/a"], &["localhost/5000/a"]),
            (&["a_b/c"], &["a/b_c"]),
            (&["a--b/c"], &["a-b/-c"]),
            (&["a/b", "c"], &["a/b+c"]),
            (&["acme/x.lock"], &["acme/x.lock_"]),
            (&["Prod"], &["prod"]),
        ];
        for (x, y) in pairs {
            assert_ne!(branch(x), branch(y), "{x:?} {y:?}");
            assert!(
                valid_branch(&branch(x)) && valid_branch(&branch(y)),
                "{x:?} {y:?}"
            );
        }
    }

    #[test]
    fn long_names_are_cut_and_hashed_and_other_keys_escaped() {
        let many: Vec<String> = (0..20).map(|i| format!("ghcr.io/acme/svc-{i}")).collect();
        let long = pull_request_branch("main", &many);
        assert_eq!(long.len(), "gitops-bump/main/".len() + 81, "{long}");
        assert!(valid_branch(&long), "{long}");
        let mut fewer = many.clone();
        fewer.pop();
        assert_ne!(long, pull_request_branch("main", &fewer));
        let odd = branch(&["Prod Backend!"]);
        assert!(odd.starts_with("gitops-bump/main/_prod-backend--"), "{odd}");
        assert!(valid_branch(&odd), "{odd}");
        assert!(valid_branch(&branch(&["[::1]:5000/a"])));
    }

    /// Repository names as distribution/reference's grammar allows them,
    /// weighted towards the separators that used to collide.
    fn repository() -> impl Strategy<Value = String> {
        let component = "[a-z0-9]{1,3}(([._]|__|-{1,3})[a-z0-9]{1,3}){0,2}";
        let host = prop_oneof![
            Just(String::new()),
            "[a-z0-9]{1,3}(\\.[a-z0-9]{1,3}){1,2}(:[0-9]{1,4})?/".prop_map(|h| h),
            "localhost(:[0-9]{1,4})?/".prop_map(|h| h),
        ];
        (host, prop::collection::vec(component, 1..4))
            .prop_map(|(h, parts)| format!("{h}{}", parts.join("/")))
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => repository(),
            1 => "[ -~]{1,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        // See: issue #14. Distinct sets of keys get distinct branches, and
        // every branch is a valid ref.
        #[test]
        fn issue_14_distinct_key_sets_get_distinct_branches(
            a in prop::collection::vec(key(), 1..4),
            b in prop::collection::vec(key(), 1..4),
        ) {
            let set = |keys: &[String]| {
                keys.iter().map(|k| canonical(k)).collect::<std::collections::BTreeSet<_>>()
            };
            let (x, y) = (pull_request_branch("main", &a), pull_request_branch("main", &b));
            prop_assert!(valid_branch(&x), "{}", x);
            prop_assert_eq!(set(&a) == set(&b), x == y, "{:?} {:?}: {} {}", a, b, x, y);
        }
    }
}
