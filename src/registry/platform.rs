//! Platforms (`os/arch[/variant]`): parsing `--platform` values and the
//! normalization containerd applies, so that `linux/arm64` from the user and
//! `linux/arm64/v8` from an image index are the same platform.
//!
//! Owns the string form and equality of platforms. Does not own reading them
//! from a registry (that is [`super::Client::platforms`]). Pure.

use std::fmt;

/// A normalized platform. Two platforms are the same if and only if their
/// normalized fields are equal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

/// A `--platform` value that is not `OS/ARCH[/VARIANT]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("platform {0:?}: expected OS/ARCH[/VARIANT], such as linux/amd64 or linux/arm/v7")]
pub struct PlatformError(pub String);

impl Platform {
    /// Parses `OS/ARCH[/VARIANT]` and normalizes it.
    pub fn parse(s: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let ok = |p: &&str| is_platform_word(p);
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform::new(os, arch, None)),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => {
                Ok(Platform::new(os, arch, Some(variant)))
            }
            _ => Err(PlatformError(s.to_owned())),
        }
    }

    /// Builds a platform from the fields of an index entry or an image
    /// config, normalizing them (`aarch64` → `arm64`, `arm64/v8` → `arm64`,
    /// `x86_64` → `amd64`, `amd64/v1` → `amd64`, `arm` → `arm/v7`).
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        let os = os.to_ascii_lowercase();
        let arch = architecture.to_ascii_lowercase();
        let variant = variant
            .map(str::to_ascii_lowercase)
            .filter(|v| !v.is_empty());
        // NOTE: the same table as containerd's platforms.Normalize, which is
        // what kubelet uses to pick a child manifest from an index.
        let (architecture, variant) = match (arch.as_str(), variant.as_deref()) {
            ("i386", v) => ("386".to_owned(), v.map(str::to_owned)),
            ("x86_64" | "x86-64" | "amd64", Some("v1") | None) => ("amd64".to_owned(), None),
            ("x86_64" | "x86-64", v) => ("amd64".to_owned(), v.map(str::to_owned)),
            ("aarch64" | "arm64", Some("8" | "v8") | None) => ("arm64".to_owned(), None),
            ("aarch64", v) => ("arm64".to_owned(), v.map(str::to_owned)),
            ("armhf", _) => ("arm".to_owned(), Some("v7".to_owned())),
            ("armel", _) => ("arm".to_owned(), Some("v6".to_owned())),
            ("arm", None) => ("arm".to_owned(), Some("v7".to_owned())),
            ("arm", Some(v)) if !v.starts_with('v') => ("arm".to_owned(), Some(format!("v{v}"))),
            (a, v) => (a.to_owned(), v.map(str::to_owned)),
        };
        Platform {
            os,
            architecture,
            variant,
        }
    }

    /// Builds a platform from fields a registry sent (an index entry, an
    /// image config), or None when a field is not a platform word
    /// (`[A-Za-z0-9_.-]`, at most 64 bytes): a registry's text is shown to
    /// people and compared with theirs, so control characters and the like
    /// never become a platform. An empty variant means none.
    pub fn from_registry(os: &str, architecture: &str, variant: Option<&str>) -> Option<Platform> {
        let variant = variant.filter(|v| !v.is_empty());
        (is_platform_word(os)
            && is_platform_word(architecture)
            && variant.is_none_or(is_platform_word))
        .then(|| Platform::new(os, architecture, variant))
    }

    /// Parses a `--platform` argument, which may hold a comma-separated list.
    pub fn parse_list(s: &str) -> Result<Vec<Platform>, PlatformError> {
        s.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Platform::parse)
            .collect()
    }

    /// Returns true if and only if this is the `unknown/unknown` entry that
    /// BuildKit adds to an index for attestations.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" || self.architecture == "unknown"
    }

    /// Operating system (`linux`).
    pub fn os(&self) -> &str {
        &self.os
    }

    /// Architecture (`amd64`).
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// Variant, when it is not the architecture's default (`v7`).
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }
}

/// Returns true if and only if `s` is 1 to 64 bytes of `[A-Za-z0-9_.-]`,
/// the characters of every OS, architecture and variant in the OCI image
/// index spec's list.
fn is_platform_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        Platform::parse(s).expect("valid")
    }

    #[test]
    fn normalizes_like_containerd() {
        assert_eq!(p("linux/arm64"), p("linux/arm64/v8"));
        assert_eq!(p("linux/aarch64"), p("linux/arm64"));
        assert_eq!(p("linux/amd64"), p("linux/amd64/v1"));
        assert_eq!(p("linux/x86_64"), p("linux/amd64"));
        assert_ne!(p("linux/amd64"), p("linux/amd64/v3"));
        assert_eq!(p("linux/arm"), p("linux/arm/v7"));
        assert_eq!(p("linux/arm/7"), p("linux/arm/v7"));
        assert_ne!(p("linux/arm/v6"), p("linux/arm/v7"));
        assert_eq!(p("Linux/AMD64").to_string(), "linux/amd64");
        assert_eq!(p("linux/arm64/v8").to_string(), "linux/arm64");
    }

    #[test]
    fn lists_and_errors() {
        assert_eq!(
            Platform::parse_list("linux/amd64, linux/arm64").expect("valid"),
            vec![p("linux/amd64"), p("linux/arm64")]
        );
        for bad in [
            "linux",
            "linux/",
            "/amd64",
            "linux/amd64/v8/x",
            "linux amd64",
        ] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
        assert!(p("unknown/unknown").is_unknown());
    }

    #[test]
    fn registry_fields_must_be_platform_words() {
        assert_eq!(
            Platform::from_registry("linux", "arm64", Some("v8")),
            Some(p("linux/arm64"))
        );
        assert_eq!(
            Platform::from_registry("linux", "amd64", Some("")),
            Some(p("linux/amd64"))
        );
        for (os, arch, variant) in [
            ("linux\r::warning::x", "amd64", None),
            ("linux", "\u{1b}[31mamd64", None),
            ("linux", "amd64", Some("v8 ")),
            ("", "amd64", None),
            ("linux", "a/b", None),
        ] {
            assert_eq!(
                Platform::from_registry(os, arch, variant),
                None,
                "{os:?} {arch:?}"
            );
        }
        assert_eq!(
            Platform::from_registry(&"x".repeat(65), "amd64", None),
            None
        );
    }
}
