//! INTERIM: minimal reference parsing, replaced by the full distribution/reference grammar.
#![allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    Invalid,
}
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    domain: String,
    path: String,
}
impl Repository {
    pub fn domain(&self) -> &str {
        &self.domain
    }
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn parse(s: &str) -> Result<Repository, ReferenceError> {
        let r = Reference::parse(s)?;
        if r.tag.is_some() || r.digest.is_some() {
            return Err(ReferenceError::Invalid);
        }
        Ok(r.repository())
    }
}
impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)
    }
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    name: String,
    tag: Option<String>,
    digest: Option<String>,
}
impl Reference {
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let (rest, digest) = match s.split_once('@') {
            Some((a, d)) => (a, Some(d.to_string())),
            None => (s, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        if name.is_empty()
            || name
                .chars()
                .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c)))
        {
            return Err(ReferenceError::Invalid);
        }
        if let Some(d) = &digest {
            if !is_valid_digest(d) {
                return Err(ReferenceError::Invalid);
            }
        }
        if let Some(t) = &tag {
            if !is_valid_tag(t) {
                return Err(ReferenceError::Invalid);
            }
        }
        Ok(Reference {
            name: name.to_string(),
            tag,
            digest,
        })
    }
    pub fn repository(&self) -> Repository {
        let (d, p) = match self.name.split_once('/') {
            Some((d, p)) if d.contains(['.', ':']) || d == "localhost" => {
                (d.to_ascii_lowercase(), p.to_string())
            }
            _ => ("docker.io".to_string(), self.name.clone()),
        };
        let p = if d == "docker.io" && !p.contains('/') {
            format!("library/{p}")
        } else {
            p
        };
        Repository { domain: d, path: p }
    }
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }
    pub fn name_as_written(&self) -> &str {
        &self.name
    }
}
pub fn is_valid_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}
pub fn is_valid_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}
