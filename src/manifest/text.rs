//! Raw-text questions about files that are not (or not only) YAML: is this
//! a Helm chart template, and does this text hold something shaped like a
//! reference to a given repository.
//!
//! Owns decoding bytes for such searches (UTF-8, UTF-16 by byte-order mark,
//! and Latin-1 for anything else) and the rules for what counts as a
//! reference in free text. Pure functions; does not own what a caller does
//! with the answer (`guard`, `discover`).

use std::borrow::Cow;

use crate::reference::Repository;

/// Returns true if and only if `path` lies under a directory named
/// `templates` and `text` holds a Go-template action (`{{ .Values.x }}`,
/// `{{- include … }}`, `{{ if … }}`), as a Helm chart's templates do. Such
/// files are not YAML until Helm renders them, so they are skipped (with
/// one summary line) rather than reported as broken.
pub fn is_chart_template(path: &str, text: &str) -> bool {
    let mut dirs = path.split('/').rev().skip(1);
    if !dirs.any(|d| d == "templates") {
        return false;
    }
    text.match_indices("{{").any(|(i, _)| {
        let rest = text[i + 2..].trim_start_matches('-').trim_start();
        rest.starts_with(['.', '$', '/'])
            || [
                "include", "if", "else", "end", "range", "with", "define", "template", "toYaml",
                "tpl", "default", "quote", "required", "printf", "block", "nindent", "indent",
            ]
            .iter()
            .any(|w| {
                rest.strip_prefix(w)
                    .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric()))
            })
    })
}

/// Decodes bytes for a text search: UTF-16 (LE or BE) when a byte-order
/// mark says so, UTF-8 (a BOM dropped) when valid, else Latin-1 (every
/// byte one character, so ASCII names are still found in broken files).
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    let utf16 = |be: bool| {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| {
                if be {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                }
            })
            .collect();
        Cow::Owned(String::from_utf16_lossy(&units))
    };
    match bytes {
        [0xFF, 0xFE, ..] => utf16(false),
        [0xFE, 0xFF, ..] => utf16(true),
        _ => match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s.strip_prefix('\u{feff}').unwrap_or(s)),
            Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
        },
    }
}

/// The 1-based lines of `bytes` (decoded with [`decode`]) that hold
/// something shaped like a reference to `repository`: the name followed by
/// a tag or digest (`redis:7`, `redis:{{ .Values.tag }}`, `redis@sha256:…`),
/// the name with its registry (`docker.io/library/redis`), or the bare name
/// as the value of an image key (`image: redis`, `repository: redis`,
/// `newName: redis`). A port named `redis`, a `redis.conf:` key, a
/// `bitnami/redis` image or a URL do not count.
pub fn reference_lines(bytes: &[u8], repository: &Repository) -> Vec<usize> {
    let text = decode(bytes);
    let path = repository.path();
    let needle = if repository.domain() == "docker.io" {
        path.strip_prefix("library/").unwrap_or(path)
    } else {
        path
    };
    let mut lines = Vec::new();
    for (at, _) in text.match_indices(needle) {
        if is_reference_at(&text, at, needle, repository) {
            let line = text[..at].bytes().filter(|&b| b == b'\n').count() + 1;
            if lines.last() != Some(&line) {
                lines.push(line);
            }
        }
    }
    lines
}

/// Bytes that may appear in a reference name before the match (registry,
/// port, path).
fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b':')
}

fn is_reference_at(text: &str, at: usize, needle: &str, repository: &Repository) -> bool {
    let bytes = text.as_bytes();
    let end = at + needle.len();
    // What follows: the end of the name, then a tag or digest, or nothing.
    let versioned = match bytes.get(end) {
        None => false,
        Some(b':') => bytes
            .get(end + 1)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'{' | b'$')),
        Some(b'@') => true,
        Some(&b) if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/') => {
            return false;
        }
        Some(_) => false,
    };
    let mut start = at;
    while start > 0 && name_byte(bytes[start - 1]) {
        start -= 1;
    }
    let prefix = &text[start..at];
    if !(prefix.is_empty() || prefix.ends_with('/')) {
        return false;
    }
    // A URL (`https://host/acme/app`) is not an image reference.
    if prefix.contains("//") || prefix.starts_with(':') {
        return false;
    }
    let candidate = format!("{}{needle}", prefix.trim_start_matches('/'));
    let Ok(found) = Repository::parse(&candidate) else {
        return false;
    };
    let has_registry = candidate
        .split_once('/')
        .is_some_and(|(first, _)| first.contains(['.', ':']) || first == "localhost");
    let same = if has_registry {
        &found == repository
    } else {
        // No registry written (or a templated one): the path must match.
        found.path() == repository.path()
    };
    if !same {
        return false;
    }
    if versioned || has_registry {
        return true;
    }
    // A bare name counts only as the value of an image key.
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let before = text[line_start..start]
        .trim_end_matches(['"', '\''])
        .trim_end();
    let Some(key) = before.strip_suffix(':') else {
        return false;
    };
    let key = key
        .trim()
        .trim_start_matches("- ")
        .trim_matches(['"', '\''])
        .to_ascii_lowercase();
    key.contains("image") || key.contains("repository") || key == "newname"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::Reference;

    fn repo(s: &str) -> Repository {
        Reference::parse(s).expect("valid").repository()
    }

    #[test]
    fn chart_templates_are_told_by_path_and_actions() {
        let t = "spec:\n  image: {{ .Values.image }}\n";
        assert!(is_chart_template("charts/app/templates/deploy.yaml", t));
        assert!(is_chart_template(
            "templates/tests/t.yaml",
            "{{- include \"x\" . }}\n"
        ));
        assert!(!is_chart_template("charts/app/values.yaml", t));
        assert!(!is_chart_template(
            "charts/app/templates/plain.yaml",
            "kind: Service\n"
        ));
        // Argo CD ApplicationSet placeholders are not Go-template actions.
        assert!(!is_chart_template(
            "argocd/templates/appset.yaml",
            "name: '{{path.basename}}'\n"
        ));
    }

    #[test]
    fn only_reference_shaped_text_counts() {
        let redis = repo("redis");
        for (text, lines) in [
            ("image: redis:7\n", vec![1]),
            ("x: 1\nimage: docker.io/library/redis\n", vec![2]),
            ("image: redis\n", vec![1]),
            ("  repository: \"redis\"\n", vec![1]),
            ("image: redis:{{ .Values.tag }}\n", vec![1]),
            ("- image: redis@sha256:abc\n", vec![1]),
            ("ports:\n- name: redis\n  port: 6379\n", vec![]),
            ("redis.conf: |\n  bind 0.0.0.0\n", vec![]),
            ("redis: {enabled: true}\n", vec![]),
            ("image: bitnami/redis:7\n", vec![]),
            ("url: https://github.com/redis/redis\n", vec![]),
            ("image: redis-exporter:1\n", vec![]),
        ] {
            assert_eq!(reference_lines(text.as_bytes(), &redis), lines, "{text:?}");
        }
        let app = repo("ghcr.io/acme/app");
        assert_eq!(
            reference_lines(b"image: ghcr.io/acme/app:{{ .Values.tag }}\n", &app),
            vec![1]
        );
        assert_eq!(
            reference_lines(b"image: {{ .Values.registry }}/acme/app:v1\n", &app),
            vec![1]
        );
        assert_eq!(
            reference_lines(b"registry: ghcr.io\nrepository: acme/app\n", &app),
            vec![2]
        );
        assert!(reference_lines(b"image: ghcr.io/acme/application:v1\n", &app).is_empty());
        assert!(reference_lines(b"image: quay.io/acme/app:v1\n", &app).is_empty());
    }

    #[test]
    fn searches_utf16_and_latin1_files() {
        let redis = repo("redis");
        let text = "name: café\nimage: redis:7\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(reference_lines(&le, &redis), vec![2]);
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(reference_lines(&be, &redis), vec![2]);
        let latin1 = b"name: caf\xe9\nimage: redis:7\n";
        assert_eq!(reference_lines(latin1, &redis), vec![2]);
        assert_eq!(decode(b"\xef\xbb\xbfa"), "a");
    }
}
