//! The GitHub backend's configuration and value types: the repository
//! name, the endpoints (github.com or GitHub Enterprise Server), the token,
//! branch-name, URL and object-id rules. Checked by `settings`; no I/O.

use std::fmt;

use super::GitHubError;
use crate::secret::Secret;

/// Everything the GitHub backend needs, checked by `settings`.
#[derive(Debug)]
pub struct Config {
    /// `OWNER/NAME`.
    pub repo: RepoName,
    /// Branch to commit to; `None` means the default branch.
    pub branch: Option<String>,
    /// Write path.
    pub api: ApiKind,
    /// REST and GraphQL endpoints.
    pub endpoints: Endpoints,
    /// From `GITHUB_TOKEN` or `GH_TOKEN` (redacted in `Debug`).
    pub token: Secret,
}

/// How commits are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKind {
    /// One `createCommitOnBranch` mutation (compare-and-swap on `expectedHeadOid`).
    Graphql,
    /// Blobs and tree, a commit, then `PATCH git/refs` with `force: false`
    /// (GitHub Enterprise Server versions without `createCommitOnBranch`).
    Rest,
}

/// `OWNER/NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoName {
    /// User or organization.
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl RepoName {
    /// Parses `OWNER/NAME` (letters, digits, `-`, `_`, `.`).
    pub fn parse(s: &str) -> Result<RepoName, String> {
        let ok = |p: &str| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match s.trim().split_once('/') {
            Some((owner, name)) if ok(owner) && ok(name) => Ok(RepoName {
                owner: owner.to_owned(),
                name: name.to_owned(),
            }),
            _ => Err("expected OWNER/NAME".into()),
        }
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// The REST and GraphQL base URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// REST base, without a trailing `/` (`https://HOST/api/v3` on GHES).
    pub api: String,
    /// GraphQL endpoint.
    pub graphql: String,
}

impl Endpoints {
    /// From `GITHUB_API_URL` and `GITHUB_GRAPHQL_URL`. URLs are joined by
    /// appending, never with a URL join, which would drop GHES's `v3`.
    ///
    /// Each must parse as a URL without a user name, password, query or
    /// fragment, and be `https://`; plain `http://` is allowed only when the
    /// parsed host is a loopback IP address (`127.0.0.0/8`, `::1`) or
    /// `localhost`, so the token never crosses a network in clear.
    /// `http://127.evil.example` and `http://127.0.0.1:1@evil.example` are
    /// not loopback.
    pub fn resolve(api: Option<String>, graphql: Option<String>) -> Result<Endpoints, String> {
        let api = api
            .unwrap_or_else(|| "https://api.github.com".into())
            .trim_end_matches('/')
            .to_owned();
        let graphql = match graphql {
            Some(g) => g.trim_end_matches('/').to_owned(),
            None => match api.strip_suffix("/api/v3") {
                Some(host) => format!("{host}/api/graphql"),
                None => format!("{api}/graphql"),
            },
        };
        for (var, url) in [("GITHUB_API_URL", &api), ("GITHUB_GRAPHQL_URL", &graphql)] {
            check_endpoint(var, url)?;
        }
        Ok(Endpoints { api, graphql })
    }
}

/// Returns true if and only if `b` is a plausible branch name
/// (`git check-ref-format --branch` rules, roughly).
pub fn valid_branch(b: &str) -> bool {
    !b.is_empty()
        && !b.starts_with(['-', '/', '.'])
        && !b.ends_with(['/', '.'])
        && !b.ends_with(".lock")
        && !b.contains("..")
        && !b.contains("//")
        && !b.contains("@{")
        && !b
            .chars()
            .any(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
}

/// Percent-encodes what must not appear raw in a path, keeping `/`
/// (branch names such as `release/1.x`).
pub(super) fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Returns true if and only if `s` is a Git object id as GitHub writes it:
/// 40 lowercase hexadecimal digits (SHA-1), or 64 (SHA-256 repositories).
pub fn is_oid(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `value` (the `field` of the answer to `what`) as an object id. Anything
/// else is [`GitHubError::Unexpected`], described by its shape and never
/// echoed: an answer's bytes could hold terminal escapes or workflow
/// commands.
pub(super) fn checked_oid(
    value: Option<&str>,
    field: &str,
    what: &str,
) -> Result<String, GitHubError> {
    match value {
        Some(v) if is_oid(v) => Ok(v.to_owned()),
        other => Err(GitHubError::Unexpected {
            what: what.to_owned(),
            message: format!("{field} is not a Git object id ({})", shape(other)),
        }),
    }
}

/// What a malformed object id looks like, without its bytes.
fn shape(value: Option<&str>) -> String {
    let Some(v) = value else {
        return "missing".into();
    };
    if v.is_empty() {
        return "empty".into();
    }
    let mut parts = vec![format!("{} bytes", v.len())];
    if !v.is_ascii() {
        parts.push("non-ASCII".into());
    } else if !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        parts.push("not hexadecimal".into());
    } else if v.bytes().any(|b| b.is_ascii_uppercase()) {
        parts.push("upper case".into());
    }
    parts.join(", ")
}

fn check_endpoint(var: &str, url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{var} {url:?}: not a URL ({e})"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Not echoed: the user info may be a secret.
        return Err(format!(
            "{var}: the URL must not hold a user name or password (the token comes from GITHUB_TOKEN or GH_TOKEN)"
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "{var} {url:?}: must not have a query or fragment (paths are appended to it)"
        ));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        _ => Err(format!(
            "{var} {url:?}: must be an https:// URL (plain http only on loopback), so the token is never sent in clear"
        )),
    }
}

/// Returns true if and only if `url`'s parsed host is a loopback IP address
/// or `localhost`.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghes_endpoints_keep_v3() {
        let e = Endpoints::resolve(Some("https://ghe.example.com/api/v3/".into()), None)
            .expect("valid");
        assert_eq!(e.api, "https://ghe.example.com/api/v3");
        assert_eq!(e.graphql, "https://ghe.example.com/api/graphql");
        let dotcom = Endpoints::resolve(None, None).expect("valid");
        assert_eq!(dotcom.graphql, "https://api.github.com/graphql");
        assert!(Endpoints::resolve(Some("http://example.com".into()), None).is_err());
        assert!(Endpoints::resolve(Some("http://127.0.0.1:8080".into()), None).is_ok());
    }

    // See: issue #13 (hardening): the loopback exemption parsed the URL by hand.
    #[test]
    fn issue_13_plain_http_only_for_a_parsed_loopback_host() {
        let resolve = |api: &str| Endpoints::resolve(Some(api.into()), None);
        for ok in [
            "http://127.0.0.1:8080/api/v3",
            "http://127.8.9.10",
            "http://localhost:1234",
            "http://LOCALHOST",
            "http://[::1]:8080/api/v3",
            "https://ghe.example.com/api/v3",
        ] {
            assert!(resolve(ok).is_ok(), "{ok}: {:?}", resolve(ok));
        }
        for bad in [
            "http://127.evil.example",
            "http://127.0.0.1.evil.example/api/v3",
            "http://127.0.0.1:1@evil.example",
            "http://localhost@evil.example",
            "http://localhost.evil.example",
            "http://[::ffff:8.8.8.8]",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "127.0.0.1:8080",
            "not a url",
        ] {
            assert!(resolve(bad).is_err(), "{bad} was accepted");
        }
        // User info is refused even over https, and never echoed.
        let e = resolve("https://alice:s3cret@ghe.example.com/api/v3").expect_err("user info");
        assert!(e.contains("GITHUB_API_URL") && !e.contains("s3cret"), "{e}");
        assert!(resolve("https://ghe.example.com/api/v3?x=1").is_err());
        let graphql = Endpoints::resolve(
            Some("http://127.0.0.1:1/api/v3".into()),
            Some("http://127.1.evil.example/api/graphql".into()),
        );
        assert!(graphql.is_err_and(|e| e.contains("GITHUB_GRAPHQL_URL")));
    }

    #[test]
    fn object_ids_are_forty_or_sixty_four_lowercase_hex_digits() {
        assert!(is_oid(&"a".repeat(40)) && is_oid(&"0".repeat(64)));
        for bad in [
            "",
            "abc",
            &"A".repeat(40),
            &"g".repeat(40),
            "ｄｅａｄｂｅｅｆ",
            &"a".repeat(41),
        ] {
            assert!(!is_oid(bad), "{bad}");
        }
        let e = checked_oid(
            Some("ｄｅａｄｂｅｅｆ\u{1b}[31m"),
            "commit.oid",
            "commit to main",
        )
        .expect_err("refused");
        let text = e.to_string();
        assert!(
            text.starts_with("commit to main: unexpected answer: commit.oid"),
            "{text}"
        );
        assert!(text.contains("non-ASCII") && !text.contains('ｄ'), "{text}");
        assert!(checked_oid(None, "oid", "x").is_err_and(|e| e.to_string().contains("missing")));
    }

    #[test]
    fn repo_names_and_branches() {
        assert_eq!(
            RepoName::parse("acme/gitops").map(|r| r.to_string()),
            Ok("acme/gitops".into())
        );
        for bad in ["acme", "acme/", "/x", "a/b/c", "a/.."] {
            assert!(RepoName::parse(bad).is_err(), "{bad}");
        }
        assert!(valid_branch("release/1.x") && valid_branch("main"));
        for bad in ["", "-x", "a..b", "a b", "x.lock", "a/"] {
            assert!(!valid_branch(bad), "{bad}");
        }
    }
}
