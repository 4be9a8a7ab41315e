//! Fuzz targets: one function per parser, each taking raw bytes and
//! panicking when a property fails.
//!
//! Shared by two drivers through this one file: the AFL++ binaries in
//! `fuzz/src/bin/` (coverage-guided, for long runs: `scripts/fuzz`) and the
//! integration test `tests/it/fuzz.rs` (corpus and regression replay plus a
//! bounded proptest run inside `cargo test`). Owns the byte encodings and the
//! properties; does not own the parsers, nor choosing inputs.
//!
//! Encodings keep seeds readable: YAML, references, constraints and `Link`
//! headers are written as they are; control bytes, where a target needs
//! them, follow the last NUL byte (which no valid YAML or header holds).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

use clap::Parser as _;

use gitops_bump::cli::{Cli, Command};
use gitops_bump::gha::inputs;
use gitops_bump::manifest::{Change, Manifest};
use gitops_bump::plan::{self, Desired, merge};
use gitops_bump::policy::{Constraints, Policy, Version};
use gitops_bump::reference::{self, Reference, Repository, kustomize};
use gitops_bump::registry;
use url::Url;

/// A fuzz target: runs on any bytes, panics when a property fails.
pub type Target = fn(&[u8]);

/// Every target by name, as `scripts/fuzz` and the corpus folders name them.
pub const TARGETS: &[(&str, Target)] = &[
    ("manifest", manifest),
    ("reference", reference),
    ("constraint", constraint),
    ("link", link),
    ("inputs", inputs),
];

/// The target called `name`, if there is one.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Tags that YAML 1.1 or 1.2 would read as something other than a string
/// when written plain, plus edge cases of the tag grammar.
const TRICKY_TAGS: &[&str] = &[
    "1.10",
    "0e1234",
    "true",
    "True",
    "yes",
    "No",
    "on",
    "OFF",
    "null",
    "NULL",
    "1_000",
    "0x1F",
    "0o17",
    "0b101",
    "0777",
    "1e3",
    "1E-3",
    "inf",
    "NaN",
    "2024-01-02",
    "2001-12-14t21-59-43.10-05-00",
    "0",
    "1.0",
    "v1.2.3",
    "1.2.3-rc.1",
    "latest",
    "y",
    "n",
    "_",
    "a-",
    "v1.4.0",
    "A123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456",
];

/// File names the manifest target parses as (the engine reads kustomize and
/// Helm hints from them).
const FILE_NAMES: &[&str] = &[
    "fuzz.yaml",
    "kustomization.yaml",
    "values.yaml",
    "Chart.yaml",
    "Kustomization",
    "application.yml",
];

/// The YAML engine: parse, plan a new tag (and maybe digest) for every
/// repository found, merge, apply. No panic; when the merge writes a file,
/// the result re-parses with the same sites, only the planned bytes moved,
/// and it is a fixed point: applying the same changes again, or planning
/// the same targets again, changes nothing.
///
/// Input: the YAML text, then optionally NUL and control bytes: the file
/// name, then per repository a tag choice and a digest choice, then one
/// byte per planned site (odd: left out of the write).
pub fn manifest(data: &[u8]) {
    let (text, control) = split_control(data);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let mut ctl = Control::new(control);
    let path = FILE_NAMES[usize::from(ctl.byte().unwrap_or(0)) % FILE_NAMES.len()];
    let Ok(m) = Manifest::parse(path, text.to_owned()) else {
        return;
    };
    // Every accessor is total over the sites the engine found.
    for site in &m.sites {
        let _ = m.image_of(site);
        let _ = m.is_pinned(site);
        for n in site.slots() {
            let _ = m.node_position(n);
        }
    }
    let mut targets: Vec<Desired> = Vec::new();
    for site in &m.sites {
        let image = m.image_of(site);
        let Some(repo) = image.repository else {
            continue;
        };
        if targets.iter().any(|t| t.reference.repository() == repo) {
            continue;
        }
        let tag = ctl.tag(targets.len());
        let (digest, resolved) = ctl.digests();
        let arg = match &digest {
            Some(d) => format!("{}:{tag}@{d}", image.name),
            None => format!("{}:{tag}", image.name),
        };
        let reference = Reference::parse(&arg).unwrap_or_else(|e| {
            panic!("{arg:?}: a site's repository with a valid tag must parse: {e}")
        });
        assert_eq!(
            reference.repository(),
            repo,
            "{arg:?}: the target names the site's repository"
        );
        targets.push(Desired {
            arg,
            reference,
            resolved_digest: resolved,
        });
    }
    let manifests = [m];
    let plans = plan::plan(&manifests, &targets);
    let allowed: Vec<usize> = (0..plans.len())
        .filter(|&i| plans[i].unfit.is_none() && ctl.byte().unwrap_or(0).is_multiple_of(2))
        .collect();
    let merged = merge::merge(&manifests, &plans, &allowed);
    if !merged.findings.is_empty() {
        // A conflict or a refused edit: `set` writes nothing.
        return;
    }
    let m = &manifests[0];
    let Some(written) = merged.changes.first() else {
        return;
    };
    let mut changes: Vec<Change> = Vec::new();
    for &i in &allowed {
        for c in &plans[i].changes {
            if !changes.iter().any(|x| x.node == c.node) {
                changes.push(c.clone());
            }
        }
    }
    // Only the planned scalars' bytes moved.
    let (out, edits) = m.apply(&changes).expect("the merge applied these changes");
    assert_eq!(out, written.new, "apply is deterministic");
    for e in &edits {
        assert!(
            changes
                .iter()
                .any(|c| contains(&m.stream.nodes[c.node].span, &e.span)),
            "edit {:?} lies outside every changed scalar",
            e.span
        );
        assert_eq!(
            &m.text[e.span.clone()],
            e.old.0,
            "edit.old is the original bytes"
        );
    }
    // Re-parses, with the same sites.
    let again = Manifest::parse(path, out.clone())
        .unwrap_or_else(|e| panic!("the written file does not re-parse: {e}\n{out}"));
    assert_eq!(
        again.sites.len(),
        m.sites.len(),
        "the written file holds a different number of image sites\n{out}"
    );
    for (a, b) in m.sites.iter().zip(&again.sites) {
        assert_eq!(a.dialect, b.dialect, "a site changed dialect\n{out}");
        assert_eq!(a.slots(), b.slots(), "a site moved\n{out}");
    }
    // A fixed point: the same changes again, and a new plan, change nothing.
    let (twice, _) = again
        .apply(&changes)
        .unwrap_or_else(|e| panic!("applying the same changes again failed: {e}\n{out}"));
    assert_eq!(twice, out, "applying the same changes twice moved bytes");
    let again = [again];
    for c in plan::plan(&again, &targets) {
        let was_written = allowed
            .iter()
            .any(|&i| plans[i].site == c.site && plans[i].desired == c.desired);
        if was_written {
            assert!(
                c.changes.is_empty(),
                "planning the same target again changes {:?}\n{out}",
                c.changes
            );
        }
    }
}

/// The reference parser: no panic anywhere in `reference`; a parsed
/// [`Reference`] writes back exactly as given and re-parses to itself; its
/// repository round-trips through its own written form.
///
/// Input: the reference; a second line, if any, is a `familiar_match`
/// pattern and a kustomize `images:` name.
pub fn reference(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (s, pattern) = text.split_once('\n').unwrap_or((&text, "*"));
    if let Ok(r) = Reference::parse(s) {
        let written = r.to_string();
        assert_eq!(written, s, "a reference writes back as written");
        let again = Reference::parse(&written).expect("the written form re-parses");
        assert_eq!(again, r, "the written form re-parses to the same reference");
        let repo = r.repository();
        assert_eq!(
            Repository::parse(&repo.to_string()).as_ref(),
            Ok(&repo),
            "a repository re-parses from its written form"
        );
        // Upstream's FamiliarName is ambiguous in two ways, kept for
        // fidelity: a bare 64-hex name is refused (an image ID to the docker
        // CLI), and `docker.io/` is dropped even when the path then starts
        // with a host (`docker.io/a.io/b` → `a.io/b`).
        let familiar = repo.familiar();
        let host_first = repo.domain() == "docker.io"
            && familiar
                .split_once('/')
                .is_some_and(|(first, _)| first == "localhost" || first.contains(['.', ':']));
        if !reference::is_identifier(&familiar) && !host_first {
            assert_eq!(
                Repository::parse(&familiar).as_ref(),
                Ok(&repo),
                "a repository re-parses from its familiar form"
            );
        }
        if let Some(tag) = r.tag() {
            assert!(reference::is_valid_tag(tag), "{tag:?} is a valid tag");
        }
        if let Some(digest) = r.digest() {
            assert!(reference::is_valid_digest(digest), "{digest:?} is valid");
        }
        let _ = (r.familiar(), r.normalized(), r.domain_as_written());
        let _ = r.named().with_tag("v1");
        let _ = r.named().familiar_string();
    }
    let _ = reference::parse(s);
    let _ = reference::parse_named(s);
    let _ = reference::parse_docker_ref(s);
    let _ = reference::with_name(s);
    let _ = reference::split_reference(s);
    let _ = Repository::parse(s);
    if let Ok(any) = reference::parse_any_reference(s) {
        let _ = any.to_string();
        // Go's path.Match is linear in practice; keep patterns short so a
        // backtracking bug shows as a timeout, not a slow corpus.
        if pattern.len() <= 64 {
            let _ = reference::familiar_match(pattern, &any);
        }
    }
    let (name, tag, digest) = kustomize::split(s);
    assert!(
        name.len() + tag.len() + digest.len() <= s.len(),
        "kustomize::split invents bytes"
    );
    let _ = kustomize::is_image_matched(s, pattern);
}

/// The Masterminds constraint and version parsers: no panic; `check` is
/// total and agrees with `validate`; a version re-parses from its written
/// form with equal precedence; a policy's comparison is antisymmetric.
///
/// Input: a constraint, then (each on its own line, optional) two versions.
pub fn constraint(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let c = lines.next().unwrap_or_default();
    let v1 = lines.next().unwrap_or(c);
    let v2 = lines.next().unwrap_or(v1);
    let mut versions = Vec::new();
    for v in [v1, v2] {
        let loose = Version::parse(v);
        if let Ok(strict) = Version::parse_strict(v) {
            let loose = loose.as_ref().expect("strict versions parse loosely too");
            assert_eq!(strict.compare(loose), Ordering::Equal, "{v:?}");
        }
        let _ = Version::parse_flux(v);
        let _ = Version::parse_no_coerce(v, true);
        let _ = Version::parse_no_coerce(v, false);
        if let Ok(version) = loose {
            let written = version.to_string();
            let again = Version::parse_strict(&written).unwrap_or_else(|e| {
                panic!("{v:?} writes as {written:?}, which is not strict: {e}")
            });
            assert_eq!(again.compare(&version), Ordering::Equal, "{v:?}");
            let _ = (
                version.inc_major(),
                version.inc_minor(),
                version.inc_patch(),
            );
            let _ = version.set_prerelease("rc.1");
            versions.push(version);
        }
    }
    if let Ok(cs) = Constraints::parse(c) {
        let _ = cs.admits_prereleases();
        let written = cs.to_string();
        let rewritten = Constraints::parse(&written).ok();
        for v in &versions {
            let ok = cs.check(v);
            let (valid, reasons) = cs.validate(v);
            assert_eq!(ok, valid, "{c:?} on {v}: check and validate disagree");
            assert!(ok || !reasons.is_empty(), "{c:?} on {v}: no reason given");
            let _ = cs.clone().with_include_prerelease(true).check(v);
            if let Some(r) = &rewritten {
                assert_eq!(
                    r.check(v),
                    ok,
                    "{c:?} writes as {written:?}, which decides {v} differently"
                );
            }
        }
    }
    for spec in [c.to_owned(), format!("semver:{c}")] {
        if let Ok(policy) = Policy::parse(&spec) {
            let ab = policy.compare(v1, v2);
            let ba = policy.compare(v2, v1);
            assert_eq!(
                ab,
                ba.map(Ordering::reverse),
                "{spec:?}: compare({v1:?}, {v2:?}) is not antisymmetric"
            );
        }
    }
}

/// The registry's `Link` header: no panic; the `rel="next"` target is part
/// of the header; a page that [`registry::next_page`] accepts has the first
/// page's origin (compared with `url`'s own [`url::Origin`], not the
/// client's) and path; a relative target without an authority never leaves
/// the origin.
///
/// Input: the header; with a newline, the first line is the first page's
/// URL instead of the default.
pub fn link(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (first, header) = match text.split_once('\n') {
        Some((base, header)) => match Url::parse(base) {
            Ok(u) => (u, header),
            Err(_) => return,
        },
        None => (
            Url::parse("https://registry.example:5000/v2/acme/app/tags/list?n=100")
                .expect("impossible: a valid URL"),
            &*text,
        ),
    };
    if !first.origin().is_tuple() {
        return;
    }
    let target = registry::next_link(header);
    if let Some(t) = &target {
        assert!(header.contains(t.as_str()), "{t:?} is not in the header");
    }
    let mut second = first.clone();
    second.set_query(Some("last=b&n=100"));
    for page in [&first, &second] {
        match registry::next_page(page, &first, header) {
            Ok(Some(next)) => {
                assert!(target.is_some(), "a page without a rel=next target");
                assert_eq!(next.origin(), first.origin(), "{next} left {first}");
                assert_eq!(next.path(), first.path(), "{next} left {first}");
            }
            Ok(None) => assert!(target.is_none(), "a rel=next target ignored"),
            Err(registry::LinkRefusal::Elsewhere(next)) => {
                assert!(
                    next.origin() != first.origin() || next.path() != first.path(),
                    "{next} refused though it is on {first}"
                );
            }
            Err(registry::LinkRefusal::BadUrl { .. }) => {}
        }
        if let Some(t) = &target
            && is_path_relative(t)
            && let Ok(joined) = page.join(t)
        {
            assert_eq!(joined.origin(), first.origin(), "{t:?} left {first}");
        }
    }
}

/// The `INPUT_*` translator: no panic; without `extra-args` every produced
/// argument is a flag the CLI accepts or that flag's value, so the command
/// line parses and carries every input unchanged.
///
/// Input: `name=value` entries separated by NUL; each becomes
/// `INPUT_<NAME>` as the runner spells it.
pub fn inputs(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let env: BTreeMap<String, String> = text
        .split('\0')
        .filter_map(|e| e.split_once('='))
        .map(|(k, v)| {
            (
                format!("INPUT_{}", k.replace(' ', "_").to_uppercase()),
                v.to_owned(),
            )
        })
        .collect();
    let _ = inputs::unknown(&env);
    let args = match inputs::translate(&env) {
        Ok(args) => args,
        Err(e) => {
            assert!(!e.message.is_empty(), "an input error says what is wrong");
            return;
        }
    };
    let parsed = Cli::try_parse_from(std::iter::once("gitops-bump".to_owned()).chain(args.clone()));
    if inputs::read(&env, "extra-args").is_some() {
        // The user's own flags: clap's verdict on them is theirs.
        return;
    }
    let cli = parsed.unwrap_or_else(|e| panic!("translated inputs do not parse: {args:?}\n{e}"));
    let get = |name: &str| inputs::read(&env, name);
    let list = |name: &str| {
        get(name)
            .map(|v| inputs::split_list(&v))
            .unwrap_or_default()
    };
    let flag = |name: &str| inputs::boolean(&env, name).expect("translate checked booleans");
    match cli.command {
        Command::Set(a) => {
            assert_eq!(a.images, list("images"), "{args:?}");
            assert_eq!(a.source.files, list("files"), "{args:?}");
            assert_eq!(a.registry.platforms, list("platforms"), "{args:?}");
            assert_eq!(
                a.registry.insecure_registries,
                list("insecure-registries"),
                "{args:?}"
            );
            assert_eq!(a.guard.policy, get("policy"), "{args:?}");
            assert_eq!(a.guard.allow_downgrade, flag("allow-downgrade"));
            assert_eq!(a.write.dry_run, flag("dry-run"), "{args:?}");
            assert_eq!(a.write.message, get("message"), "{args:?}");
            assert_eq!(a.write.writer_id, get("writer-id"), "{args:?}");
            match get("working-directory") {
                Some(dir) => {
                    assert_eq!(a.source.dir.as_deref(), Some(Path::new(&dir)), "{args:?}")
                }
                None => {
                    assert_eq!(a.source.repo, get("repository"), "{args:?}");
                    assert_eq!(a.source.branch, get("branch"), "{args:?}");
                    assert_eq!(a.write.pull_request, flag("pull-request"));
                    assert_eq!(a.write.skip_ci, flag("skip-ci"), "{args:?}");
                }
            }
        }
        Command::Explain(a) => {
            assert_eq!(
                a.image.into_iter().collect::<Vec<_>>(),
                list("images"),
                "{args:?}"
            );
            assert_eq!(
                a.policy,
                get("policy").unwrap_or_else(|| "semver:*".into()),
                "{args:?}"
            );
            assert_eq!(a.registry.platforms, list("platforms"), "{args:?}");
        }
        Command::Sync(a) => {
            assert_eq!(a.source.files, list("files"), "{args:?}");
            assert_eq!(a.registry.platforms, list("platforms"), "{args:?}");
            assert_eq!(a.config, get("config"), "{args:?}");
            assert_eq!(a.apply, flag("apply"), "{args:?}");
            assert_eq!(a.default_policy, get("default-policy"), "{args:?}");
            assert_eq!(a.allow_downgrade, flag("allow-downgrade"));
            assert_eq!(a.write.dry_run, flag("dry-run"), "{args:?}");
            assert_eq!(a.write.writer_id, get("writer-id"), "{args:?}");
        }
        Command::Action => panic!("translated inputs ran `action` again: {args:?}"),
    }
}

/// The text before the last NUL byte and the control bytes after it (all
/// text and no control when there is no NUL).
fn split_control(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().rposition(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Returns true if and only if `inner` lies within `outer`.
fn contains(outer: &std::ops::Range<usize>, inner: &std::ops::Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Returns true if and only if `t`, read as the WHATWG URL parser reads a
/// link (surrounding C0 controls and spaces trimmed, tabs and newlines
/// dropped), has neither a scheme nor an authority (`//`, or `\\` and their
/// mixes, which special schemes read as `//`).
fn is_path_relative(t: &str) -> bool {
    let cleaned: String = t
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let has_scheme = cleaned.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    let mut chars = cleaned.chars();
    let authority = matches!(
        (chars.next(), chars.next()),
        (Some('/' | '\\'), Some('/' | '\\'))
    );
    !has_scheme && !authority
}

/// A cursor over control bytes; past their end it yields nothing, and
/// each choice falls back to its default.
struct Control<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Control<'a> {
    fn new(bytes: &'a [u8]) -> Control<'a> {
        Control { bytes, at: 0 }
    }

    fn byte(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.at).copied();
        self.at += 1;
        b
    }

    /// A valid tag: a tricky one from the table (by default the `i`-th),
    /// or one built from the next bytes.
    fn tag(&mut self, i: usize) -> String {
        const WORD: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
        const REST: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.-";
        match self.byte() {
            None => TRICKY_TAGS[i % TRICKY_TAGS.len()].to_owned(),
            Some(b) if b < 0xC0 => TRICKY_TAGS[usize::from(b) % TRICKY_TAGS.len()].to_owned(),
            Some(b) => {
                let len = 1 + usize::from(b - 0xC0) * 2;
                let mut tag = String::with_capacity(len);
                for k in 0..len.min(128) {
                    let x = usize::from(self.byte().unwrap_or(0));
                    let set = if k == 0 { WORD } else { REST };
                    tag.push(char::from(set[x % set.len()]));
                }
                tag
            }
        }
    }

    /// A digest the user gives and one the registry resolves, each maybe.
    fn digests(&mut self) -> (Option<String>, Option<String>) {
        let choice = self.byte().unwrap_or(0);
        let digest = |fill: u8| format!("sha256:{}", format!("{fill:02x}").repeat(32));
        let user = (choice & 1 == 1).then(|| digest(choice));
        let resolved = (choice & 2 == 2).then(|| digest(choice.wrapping_add(1)));
        (user, resolved)
    }
}
