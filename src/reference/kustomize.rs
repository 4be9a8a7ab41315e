//! kustomize's `images:` value semantics (`sigs.k8s.io/kustomize` `api/internal/image` and the
//! imagetag updater's `SetImageValue`): how an image string is split, when an `images` entry
//! matches it, and what value kustomize writes back.
//!
//! Owns: the string-level rewrite of one image value. Does not own: which YAML fields kustomize
//! visits (legacy `containers`/`initContainers` walk plus fieldSpecs; both run per entry, so a
//! `tagSuffix` can land twice, kustomize issue #4814), YAML I/O, or reference validation —
//! kustomize validates nothing, so neither does this module (see the parent module for that).

use regex::Regex;

/// One entry of a kustomization's `images:` list. Empty strings count as unset, as in Go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImagesEntry {
    /// `name`: a regexp fragment matched against the whole image name as written.
    pub name: String,
    /// `newName`: replaces the name.
    pub new_name: Option<String>,
    /// `newTag`: replaces the tag and drops any digest unless `digest` is also set.
    pub new_tag: Option<String>,
    /// `digest`: replaces the digest and drops any tag unless `newTag` is also set.
    pub digest: Option<String>,
    /// `tagSuffix`: appended to the tag (digest dropped), only when neither `newTag` nor `digest`.
    pub tag_suffix: Option<String>,
}

/// kustomize `image.Split`: `(name, tag, digest)` without the `:`/`@` separators; `""` when absent.
/// Only the part after the first `/` is searched, so a registry port is kept in the name.
pub fn split(image: &str) -> (&str, &str, &str) {
    // Byte offset of the searched part; a leading `/` (index 0) does not count.
    let offset = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[offset..];
    let (at, colon) = (search.find('@'), search.find(':'));
    match (colon, at) {
        (None, None) => (image, "", ""),
        (Some(c), Some(d)) if c < d => (
            &image[..offset + c],
            &image[offset + c + 1..offset + d],
            &image[offset + d + 1..],
        ),
        (_, Some(d)) => (&image[..offset + d], "", &image[offset + d + 1..]),
        (Some(c), None) => (&image[..offset + c], &image[offset + c + 1..], ""),
    }
}

/// kustomize `image.IsImageMatched`: whether `value` matches
/// `^<name>(:[a-zA-Z0-9_.{}-]*)?(@<algorithm>:[a-zA-Z0-9_.{}-]*)?$`, `<algorithm>` being the OCI
/// image-spec grammar (`sha256`, `sha512`, `multihash+base58`). `name` is used as a raw regexp,
/// as upstream does (`my.app` matches `myXapp`, `foo|bar` alternates). A name that is not a valid
/// regexp matches nothing; so does one using Go RE2 syntax the `regex` crate rejects (e.g. a
/// literal `{` outside a repetition).
pub fn is_image_matched(value: &str, name: &str) -> bool {
    let tag = "[a-zA-Z0-9_.{}-]*";
    let algorithm = "[a-z0-9]+(?:[+._-][a-z0-9]+)*";
    let pattern = format!("^{name}(:{tag})?(@{algorithm}:{tag})?$");
    Regex::new(&pattern).is_ok_and(|re| re.is_match(value))
}

/// The value kustomize's images transformer writes for `value`, or `None` when `entry` does not
/// match it (a matching entry that changes nothing returns the value unchanged).
pub fn apply_images_entry(value: &str, entry: &ImagesEntry) -> Option<String> {
    if !is_image_matched(value, &entry.name) {
        return None;
    }
    let set = |field: &Option<String>| field.clone().filter(|s| !s.is_empty());
    let (name, tag, digest) = split(value);
    let name = set(&entry.new_name).unwrap_or_else(|| name.to_string());
    let (tag, digest) = match (
        set(&entry.new_tag),
        set(&entry.digest),
        set(&entry.tag_suffix),
    ) {
        (Some(tag), digest, _) => (tag, digest.unwrap_or_default()),
        (None, Some(digest), _) => (String::new(), digest),
        (None, None, Some(suffix)) => (format!("{tag}{suffix}"), String::new()),
        (None, None, None) => (tag.to_string(), digest.to_string()),
    };
    let mut out = name;
    if !tag.is_empty() {
        out.push(':');
        out.push_str(&tag);
    }
    if !digest.is_empty() {
        out.push('@');
        out.push_str(&digest);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> ImagesEntry {
        ImagesEntry {
            name: name.to_string(),
            ..ImagesEntry::default()
        }
    }

    #[test]
    fn split_keeps_registry_port_in_name() {
        assert_eq!(
            split("foo.com:443/nginx:1.2@sha256:ab"),
            ("foo.com:443/nginx", "1.2", "sha256:ab")
        );
        assert_eq!(split("localhost:5000/app"), ("localhost:5000/app", "", ""));
        assert_eq!(split("app@sha256:abc"), ("app", "", "sha256:abc"));
        assert_eq!(split("/app:v1"), ("/app", "v1", ""));
        assert_eq!(split("é/ü:1"), ("é/ü", "1", ""));
    }

    #[test]
    fn name_is_a_raw_regexp_on_the_written_name() {
        assert!(is_image_matched("myXapp:1", "my.app"));
        assert!(!is_image_matched("docker.io/library/nginx:1", "nginx"));
        assert!(!is_image_matched("nginx", "["));
        assert!(!is_image_matched("img:1.0+build", "img"));
        assert!(is_image_matched("img@multihash+base58:Qm", "img"));
        assert!(is_image_matched("bar:1", "foo|bar") && is_image_matched("foo-x", "foo|bar"));
    }

    #[test]
    fn new_tag_and_digest_interplay() {
        let e = ImagesEntry {
            new_tag: Some("2".into()),
            ..entry("app")
        };
        assert_eq!(
            apply_images_entry("app:1@sha256:x", &e).as_deref(),
            Some("app:2")
        );
        let e = ImagesEntry {
            digest: Some("sha256:y".into()),
            ..entry("app")
        };
        assert_eq!(
            apply_images_entry("app:1", &e).as_deref(),
            Some("app@sha256:y")
        );
        let e = ImagesEntry {
            new_tag: Some("2".into()),
            digest: Some("sha256:y".into()),
            ..entry("app")
        };
        assert_eq!(
            apply_images_entry("app", &e).as_deref(),
            Some("app:2@sha256:y")
        );
        let e = ImagesEntry {
            tag_suffix: Some("-alpine".into()),
            ..entry("app")
        };
        assert_eq!(
            apply_images_entry("app:6@sha256:x", &e).as_deref(),
            Some("app:6-alpine")
        );
        assert_eq!(apply_images_entry("other:1", &e), None);
    }
}
