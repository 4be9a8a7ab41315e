//! The GitHub backend's configuration and value types: the repository
//! name, the endpoints (github.com or GitHub Enterprise Server), the token,
//! branch-name and URL rules. Checked by `settings`; no I/O.

use std::fmt;

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
            if !(url.starts_with("https://") || is_loopback_http(url)) {
                return Err(format!(
                    "{var} {url:?}: must be an https:// URL (plain http only on loopback), so the token is never sent in clear"
                ));
            }
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

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    host == "localhost" || host == "[::1]" || host.starts_with("127.")
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
