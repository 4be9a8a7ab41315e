//! Registry credentials and the auth handshake's pure parts: where a
//! credential comes from (`--registry-auth`, the Docker config with its
//! credential helpers, `GITHUB_TOKEN` for ghcr.io), `WWW-Authenticate`
//! challenges, and the per-run caches of challenges and Bearer tokens.
//!
//! Owns the lookup order and the secret-free description of what was tried.
//! Does not send requests; [`super::transport`] drives the handshake.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use crate::secret::Secret;

use super::lock;

/// A credential given with `--registry-auth HOST=USER:ENV_VAR`, the secret
/// already read from the named environment variable.
#[derive(Clone, Debug)]
pub struct FlagCredential {
    /// Registry host as the user wrote it (`ghcr.io`, `localhost:5000`).
    pub host: String,
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: Secret,
    /// The environment variable it came from (named in errors).
    pub env_var: String,
}

/// A usable credential.
#[derive(Clone, Debug)]
pub enum Credential {
    /// User name and password (or token used as a password).
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// An OAuth2 refresh token from `docker login` (`identitytoken`).
    IdentityToken(Secret),
}

/// Where a credential came from, for error messages. Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// `--registry-auth`, with the variable name.
    Flag(String),
    /// The Docker config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`).
    DockerConfig,
    /// `GITHUB_TOKEN`/`GH_TOKEN` for ghcr.io.
    GithubToken,
    /// Nothing configured: anonymous.
    Anonymous,
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Flag(var) => write!(f, "--registry-auth (password from ${var})"),
            CredentialSource::DockerConfig => {
                f.write_str("docker config ($DOCKER_CONFIG or ~/.docker/config.json)")
            }
            CredentialSource::GithubToken => f.write_str("GITHUB_TOKEN"),
            CredentialSource::Anonymous => f.write_str("anonymous (no credentials found)"),
        }
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="…"`.
    Basic,
    /// `Bearer realm="…",service="…",scope="…"`.
    Bearer {
        /// Token endpoint.
        realm: String,
        /// Service name to ask the token for.
        service: Option<String>,
        /// Scope the registry asked for, when given.
        scope: Option<String>,
    },
}

/// Parses the first challenge of a `WWW-Authenticate` header. Returns None
/// for schemes we cannot answer.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic)
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    } else {
        None
    }
}

/// `key="quoted, value",key2=token` → pairs. Quoted values may contain commas
/// (scopes such as `repository:a:pull,push` do).
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.trim().is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        out.push((key.trim().to_owned(), value.trim().to_owned()));
    }
}

/// The key under which `docker login` stores a registry's credentials.
pub fn docker_config_key(api_host: &str) -> &str {
    if api_host == super::DOCKER_HUB_API_HOST {
        "https://index.docker.io/v1/"
    } else {
        api_host
    }
}

/// Per-run auth state, shared by all requests of one client.
#[derive(Debug, Default)]
pub struct AuthState {
    /// Credential per registry API host, looked up once.
    credentials: Mutex<HashMap<String, (Option<Credential>, CredentialSource)>>,
    /// The challenge each host answered with, so later requests authenticate
    /// up front instead of paying for another 401.
    challenges: Mutex<HashMap<String, Challenge>>,
    /// Bearer tokens per (host, scope), with their expiry.
    tokens: Mutex<HashMap<(String, String), (Secret, Instant)>>,
}

impl AuthState {
    /// The credential for `api_host`, looked up once per run in this order:
    /// `--registry-auth`, the Docker config, `GITHUB_TOKEN` (ghcr.io only).
    pub fn credential(
        &self,
        api_host: &str,
        flags: &[FlagCredential],
        github_token: Option<&Secret>,
        use_docker_config: bool,
    ) -> (Option<Credential>, CredentialSource) {
        if let Some(found) = lock(&self.credentials).get(api_host) {
            return found.clone();
        }
        let found = lookup(api_host, flags, github_token, use_docker_config);
        lock(&self.credentials).insert(api_host.to_owned(), found.clone());
        found
    }

    /// The challenge `api_host` answered with before, if any.
    pub fn challenge(&self, api_host: &str) -> Option<Challenge> {
        lock(&self.challenges).get(api_host).cloned()
    }

    /// Remembers `api_host`'s challenge.
    pub fn remember_challenge(&self, api_host: &str, challenge: Challenge) {
        lock(&self.challenges).insert(api_host.to_owned(), challenge);
    }

    /// A cached, unexpired token for `(api_host, scope)`.
    pub fn token(&self, api_host: &str, scope: &str) -> Option<Secret> {
        let tokens = lock(&self.tokens);
        let (token, expires) = tokens.get(&(api_host.to_owned(), scope.to_owned()))?;
        (Instant::now() < *expires).then(|| token.clone())
    }

    /// Caches a token. `expires_in` follows the token spec (default 60 s);
    /// ten seconds are kept in hand so a token never expires mid-request.
    pub fn store_token(&self, api_host: &str, scope: &str, token: Secret, expires_in: Option<u64>) {
        let life = Duration::from_secs(expires_in.unwrap_or(60).max(10) - 5);
        lock(&self.tokens).insert(
            (api_host.to_owned(), scope.to_owned()),
            (token, Instant::now() + life),
        );
    }

    /// Forgets a token the registry refused.
    pub fn drop_token(&self, api_host: &str, scope: &str) {
        lock(&self.tokens).remove(&(api_host.to_owned(), scope.to_owned()));
    }
}

fn lookup(
    api_host: &str,
    flags: &[FlagCredential],
    github_token: Option<&Secret>,
    use_docker_config: bool,
) -> (Option<Credential>, CredentialSource) {
    if let Some(f) = flags.iter().find(|f| super::api_host(&f.host) == api_host) {
        return (
            Some(Credential::Basic {
                username: f.username.clone(),
                password: f.password.clone(),
            }),
            CredentialSource::Flag(f.env_var.clone()),
        );
    }
    if use_docker_config {
        // Missing files, missing entries and failing helpers all mean "no
        // credential here": the registry may well allow anonymous pulls, and
        // an unauthorized answer names the sources tried.
        match docker_credential::get_credential(docker_config_key(api_host)) {
            Ok(docker_credential::DockerCredential::UsernamePassword(username, password)) => {
                return (
                    Some(Credential::Basic {
                        username,
                        password: Secret::new(password),
                    }),
                    CredentialSource::DockerConfig,
                );
            }
            Ok(docker_credential::DockerCredential::IdentityToken(token)) => {
                return (
                    Some(Credential::IdentityToken(Secret::new(token))),
                    CredentialSource::DockerConfig,
                );
            }
            Err(_) => {}
        }
    }
    if api_host == "ghcr.io"
        && let Some(token) = github_token
    {
        // GHCR's token endpoint accepts any user name with a GitHub token as
        // the password.
        return (
            Some(Credential::Basic {
                username: "gitops-bump".into(),
                password: token.clone(),
            }),
            CredentialSource::GithubToken,
        );
    }
    (None, CredentialSource::Anonymous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/nginx:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(r#"bearer realm=http://x/token"#),
            Some(Challenge::Bearer {
                realm: "http://x/token".into(),
                service: None,
                scope: None
            })
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Negotiate abc"), None);
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        let c = Credential::Basic {
            username: "u".into(),
            password: s,
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn flag_wins_and_github_token_is_for_ghcr_only() {
        let flags = [FlagCredential {
            host: "localhost:5000".into(),
            username: "u".into(),
            password: Secret::new("p"),
            env_var: "P".into(),
        }];
        let token = Secret::new("t");
        let (c, src) = lookup("localhost:5000", &flags, Some(&token), false);
        assert!(c.is_some());
        assert_eq!(src, CredentialSource::Flag("P".into()));
        assert_eq!(
            lookup("ghcr.io", &flags, Some(&token), false).1,
            CredentialSource::GithubToken
        );
        assert_eq!(
            lookup("quay.io", &flags, Some(&token), false).1,
            CredentialSource::Anonymous
        );
    }
}
