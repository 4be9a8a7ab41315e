//! Conformance of `policy` against the shared oracles (`../shared/oracles`, see its README):
//! every `upstream_test` case of `masterminds_constraints.json`, `flux_policies.json` and
//! `argocd_image_updater.json`, one `#[test]` per (file, kind), and every
//! `derived_from_upstream_code` case, one `#[test]` per file.
//!
//! Cases that differ on purpose are listed in `KNOWN_DIFFERENCES` (with the reason); kinds that
//! exercise something outside tag selection are listed in `NOT_APPLICABLE`. This file does not
//! own the oracle data: it reads it at run time and prints "skipped: no oracles" without it.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use gitops_bump::policy as pol;

use pol::semver::{Comparator, Constraints, Version, is_wildcard, rewrite_range};
use pol::{DropReason, Policy, PolicyError, Selection, Status, TagFilter, flux};

use crate::common::shared;

/// Cases whose upstream result we do not reproduce, by case identity (see `identity`), with the
/// reason. Keep it minimal; every entry must still fail (stale entries fail the test).
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

/// (file, kind) pairs that are not about tag selection.
const NOT_APPLICABLE: &[(&str, &str, &str)] = &[(
    "argocd_image_updater.json",
    "parse_identifier",
    "image-spec parsing ([alias=]image[:tag][@digest], distribution/reference) belongs to the image-reference module, not to tag selection",
)];

type Check = fn(&Value) -> Result<(), String>;

// ---------------------------------------------------------------------------------------------
// masterminds_constraints.json

macro_rules! upstream {
    ($($name:ident: $file:literal, $kind:literal, $check:path;)*) => {$(
        #[test]
        fn $name() {
            run($file, $kind, "upstream_test", $check);
        }
    )*};
}

upstream! {
    masterminds_constraint_check: "masterminds_constraints.json", "constraint_check", mm_constraint_check;
    masterminds_constraint_validate_message: "masterminds_constraints.json", "constraint_validate_message", mm_validate_message;
    masterminds_constraint_parse: "masterminds_constraints.json", "constraint_parse", mm_constraint_parse;
    masterminds_constraint_string: "masterminds_constraints.json", "constraint_string", mm_constraint_string;
    masterminds_single_constraint_parse: "masterminds_constraints.json", "single_constraint_parse", mm_single_parse;
    masterminds_single_constraint_check_internal: "masterminds_constraints.json", "single_constraint_check_internal", mm_single_check;
    masterminds_rewrite_range_internal: "masterminds_constraints.json", "rewrite_range_internal", mm_rewrite_range;
    masterminds_is_wildcard_internal: "masterminds_constraints.json", "is_wildcard_internal", mm_is_wildcard;
    masterminds_prerelease_validate_internal: "masterminds_constraints.json", "prerelease_validate_internal", mm_validate_pre;
    masterminds_metadata_validate_internal: "masterminds_constraints.json", "metadata_validate_internal", mm_validate_meta;
    masterminds_version_parse: "masterminds_constraints.json", "version_parse", mm_version_parse;
    masterminds_version_compare: "masterminds_constraints.json", "version_compare", mm_version_compare;
    masterminds_version_equal_nil: "masterminds_constraints.json", "version_equal_nil", mm_equal_nil;
    masterminds_version_sort: "masterminds_constraints.json", "version_sort", mm_version_sort;
    masterminds_version_inc: "masterminds_constraints.json", "version_inc", mm_version_inc;
    masterminds_version_set_prerelease: "masterminds_constraints.json", "version_set_prerelease", mm_set_prerelease;
    masterminds_version_set_metadata: "masterminds_constraints.json", "version_set_metadata", mm_set_metadata;

    flux_new_policy: "flux_policies.json", "new_policy", flux_new_policy_check;
    flux_latest: "flux_policies.json", "latest", flux_apply_policy;
    flux_apply_policy_upstream: "flux_policies.json", "apply_policy", flux_apply_policy;
    flux_filter: "flux_policies.json", "filter", flux_filter_check;
    flux_parse_version: "flux_policies.json", "parse_version", flux_parse_version_check;
    flux_version_sort: "flux_policies.json", "version_sort", flux_version_sort_check;
    flux_repository_exclusion: "flux_policies.json", "repository_exclusion", flux_repository_exclusion_check;
    flux_filter_out_tags: "flux_policies.json", "filter_out_tags", flux_filter_out_tags_check;
    flux_sort_latest_tags: "flux_policies.json", "sort_latest_tags", flux_sort_latest_tags_check;

    argocd_get_newest_version_from_tags: "argocd_image_updater.json", "get_newest_version_from_tags", argo_select;
    argocd_sort: "argocd_image_updater.json", "sort", argo_sort;
    argocd_allow_tags_match: "argocd_image_updater.json", "allow_tags_match", argo_allow_tags;
    argocd_ignore_tags_match: "argocd_image_updater.json", "ignore_tags_match", argo_ignore_tags;
    argocd_parse_update_strategy: "argocd_image_updater.json", "parse_update_strategy", argo_strategy;
}

#[test]
fn masterminds_derived() {
    run_derived(
        "masterminds_constraints.json",
        &[("constraint_check", mm_constraint_check)],
    );
}

#[test]
fn flux_derived() {
    run_derived(
        "flux_policies.json",
        &[
            ("apply_policy", flux_apply_policy),
            ("parse_version", flux_parse_version_check),
            ("repository_exclusion", flux_repository_exclusion_check),
        ],
    );
}

#[test]
fn argocd_derived() {
    run_derived(
        "argocd_image_updater.json",
        &[
            ("select", argo_select),
            ("allow_tags_match", argo_allow_tags),
            ("ignore_tags_match", argo_ignore_tags),
            ("parse_update_strategy", argo_strategy),
        ],
    );
}

#[test]
fn every_kind_is_covered_or_not_applicable() {
    let covered: &[(&str, &[&str])] = &[
        (
            "masterminds_constraints.json",
            &[
                "constraint_check",
                "constraint_validate_message",
                "constraint_parse",
                "constraint_string",
                "single_constraint_parse",
                "single_constraint_check_internal",
                "rewrite_range_internal",
                "is_wildcard_internal",
                "prerelease_validate_internal",
                "metadata_validate_internal",
                "version_parse",
                "version_compare",
                "version_equal_nil",
                "version_sort",
                "version_inc",
                "version_set_prerelease",
                "version_set_metadata",
            ],
        ),
        (
            "flux_policies.json",
            &[
                "new_policy",
                "latest",
                "apply_policy",
                "filter",
                "parse_version",
                "version_sort",
                "repository_exclusion",
                "filter_out_tags",
                "sort_latest_tags",
            ],
        ),
        (
            "argocd_image_updater.json",
            &[
                "get_newest_version_from_tags",
                "sort",
                "allow_tags_match",
                "ignore_tags_match",
                "parse_update_strategy",
                "select",
            ],
        ),
    ];
    for (file, kinds) in covered {
        let Some(all) = load(file) else { return };
        for case in all {
            let kind = case["kind"].as_str().unwrap_or_default();
            let na = NOT_APPLICABLE
                .iter()
                .any(|(f, k, _)| f == file && *k == kind);
            assert!(
                kinds.contains(&kind) || na,
                "{file}: kind {kind} is neither tested nor NOT_APPLICABLE"
            );
        }
    }
    for (file, kind, reason) in NOT_APPLICABLE {
        eprintln!("not applicable: {file} {kind}: {reason}");
    }
}

// ---------------------------------------------------------------------------------------------
// Harness.

fn load(file: &str) -> Option<&'static [Value]> {
    static CACHE: OnceLock<std::sync::Mutex<HashMap<String, &'static [Value]>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap();
    if let Some(v) = map.get(file) {
        return Some(v);
    }
    let path = shared(&format!("oracles/{file}"))?;
    let text = std::fs::read_to_string(&path).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    let leaked: &'static [Value] = Box::leak(cases.into_boxed_slice());
    map.insert(file.to_owned(), leaked);
    Some(leaked)
}

/// `file:kind:test[/subtest][#case_index]`, unique enough to name a case in KNOWN_DIFFERENCES.
fn identity(file: &str, case: &Value) -> String {
    let s = &case["source"];
    let mut id = format!(
        "{file}:{}:{}",
        case["kind"].as_str().unwrap_or(""),
        s["test"].as_str().unwrap_or("")
    );
    if let Some(sub) = s["subtest"].as_str() {
        id.push('/');
        id.push_str(sub);
    }
    if let Some(i) = s["case_index"].as_u64() {
        id.push_str(&format!("#{i}"));
    }
    id
}

fn inputs(case: &Value) -> String {
    let mut c = case.clone();
    if let Some(o) = c.as_object_mut() {
        for k in ["source", "origin", "computed", "note"] {
            o.remove(k);
        }
    }
    c.to_string()
}

fn run(file: &str, kind: &str, origin: &str, check: Check) {
    let Some(all) = load(file) else { return };
    let mut ran = 0;
    let mut failures = Vec::new();
    let mut known_hit = Vec::new();
    for case in all
        .iter()
        .filter(|c| c["kind"] == kind && c["origin"] == origin)
    {
        ran += 1;
        let id = identity(file, case);
        let known = KNOWN_DIFFERENCES.iter().find(|(k, _)| *k == id);
        match (check(case), known) {
            (Ok(()), None) => {}
            (Ok(()), Some(_)) => {
                failures.push(format!("{id}: listed in KNOWN_DIFFERENCES but passes now"))
            }
            (Err(e), None) => failures.push(format!("{id}\n    inputs: {}\n    {e}", inputs(case))),
            (Err(_), Some((_, why))) => known_hit.push(format!("{id}: {why}")),
        }
    }
    eprintln!(
        "{file} {kind} ({origin}): ran {ran}, passed {}, known differences {}, failed {}",
        ran - failures.len() - known_hit.len(),
        known_hit.len(),
        failures.len()
    );
    for k in &known_hit {
        eprintln!("  known difference: {k}");
    }
    assert!(ran > 0, "{file}: no {origin} cases of kind {kind}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn run_derived(file: &str, kinds: &[(&str, Check)]) {
    let Some(all) = load(file) else { return };
    let derived: Vec<&Value> = all
        .iter()
        .filter(|c| c["origin"] == "derived_from_upstream_code")
        .collect();
    let mut seen: Vec<&str> = derived.iter().filter_map(|c| c["kind"].as_str()).collect();
    seen.sort_unstable();
    seen.dedup();
    for kind in seen {
        if NOT_APPLICABLE
            .iter()
            .any(|(f, k, _)| *f == file && *k == kind)
        {
            continue;
        }
        let check = kinds
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, c)| *c)
            .unwrap_or_else(|| panic!("{file}: derived kind {kind} has no checker"));
        run(file, kind, "derived_from_upstream_code", check);
    }
}

fn s<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key].as_str().unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

fn parse_version(s: &str, parser: &str) -> Result<Version, pol::VersionError> {
    match parser {
        "strict" => Version::parse_strict(s),
        "loose_no_coerce" => Version::parse_no_coerce(s, true),
        "loose_no_coerce_no_detail" => Version::parse_no_coerce(s, false),
        _ => Version::parse(s),
    }
}

// ---------------------------------------------------------------------------------------------
// Masterminds checks.

fn mm_constraint_check(case: &Value) -> Result<(), String> {
    let want = case["expected"]["match"].as_bool();
    let got = Constraints::parse(s(case, "constraint"))
        .ok()
        .and_then(|c| {
            let c = c.with_include_prerelease(case["include_prerelease"] == true);
            let v = parse_version(s(case, "version"), s(case, "version_parser")).ok()?;
            Some(c.check(&v))
        });
    expect_eq("match", got.unwrap_or(false), want.unwrap_or(false))
}

fn mm_single_check(case: &Value) -> Result<(), String> {
    let c = Comparator::parse(s(case, "constraint")).map_err(|e| e.to_string())?;
    let v = Version::parse(s(case, "version")).map_err(|e| e.to_string())?;
    let got = c.check(&v, case["include_prerelease"] == true);
    expect_eq("match", Some(got), case["expected"]["match"].as_bool())
}

fn mm_validate_message(case: &Value) -> Result<(), String> {
    let c = Constraints::parse(s(case, "constraint")).map_err(|e| e.to_string())?;
    let c = c.with_include_prerelease(case["include_prerelease"] == true);
    let v =
        parse_version(s(case, "version"), s(case, "version_parser")).map_err(|e| e.to_string())?;
    let (ok, errors) = c.validate(&v);
    let e = &case["expected"];
    expect_eq("match", Some(ok), e["match"].as_bool())?;
    if let Some(first) = e["first_error"].as_str() {
        expect_eq(
            "first_error",
            errors.first().map(String::as_str),
            Some(first),
        )?;
    }
    if e["errors"].is_array() {
        expect_eq("errors", errors, strings(&e["errors"]))?;
    }
    Ok(())
}

fn mm_constraint_parse(case: &Value) -> Result<(), String> {
    let e = &case["expected"];
    match Constraints::parse(s(case, "constraint")) {
        Err(err) => expect_eq("ok", true, e["ok"] == false).map_err(|m| format!("{m} ({err})")),
        Ok(c) => {
            expect_eq("ok", true, e["ok"] == true)?;
            expect_eq(
                "or_groups",
                c.groups().len() as u64,
                e["or_groups"].as_u64().unwrap_or(0),
            )?;
            let first = c.groups().first().map_or(0, Vec::len) as u64;
            expect_eq(
                "first_group_and_count",
                first,
                e["first_group_and_count"].as_u64().unwrap_or(0),
            )
        }
    }
}

fn mm_constraint_string(case: &Value) -> Result<(), String> {
    let c = Constraints::parse(s(case, "constraint")).map_err(|e| e.to_string())?;
    expect_eq(
        "string",
        c.to_string().as_str(),
        s(&case["expected"], "string"),
    )
}

fn mm_single_parse(case: &Value) -> Result<(), String> {
    let e = &case["expected"];
    match Comparator::parse(s(case, "constraint")) {
        Err(err) => expect_eq("ok", true, e["ok"] == false).map_err(|m| format!("{m} ({err})")),
        Ok(c) => {
            expect_eq("ok", true, e["ok"] == true)?;
            expect_eq(
                "operator_func",
                c.operator().go_name(),
                s(e, "operator_func"),
            )?;
            expect_eq("version", c.version().to_string().as_str(), s(e, "version"))
        }
    }
}

fn mm_rewrite_range(case: &Value) -> Result<(), String> {
    expect_eq(
        "rewritten",
        rewrite_range(s(case, "constraint")).as_str(),
        s(&case["expected"], "rewritten"),
    )
}

fn mm_is_wildcard(case: &Value) -> Result<(), String> {
    expect_eq(
        "is_wildcard",
        Some(is_wildcard(s(case, "token"))),
        case["expected"]["is_wildcard"].as_bool(),
    )
}

fn expect_error(got: Result<(), pol::VersionError>, want: &Value) -> Result<(), String> {
    let got = got.err().map(|e| e.to_string());
    expect_eq("error", got.as_deref(), want.as_str())
}

fn mm_validate_pre(case: &Value) -> Result<(), String> {
    expect_error(
        pol::semver::validate_prerelease(s(case, "arg")),
        &case["expected"]["error"],
    )
}

fn mm_validate_meta(case: &Value) -> Result<(), String> {
    expect_error(
        pol::semver::validate_metadata(s(case, "arg")),
        &case["expected"]["error"],
    )
}

fn mm_version_parse(case: &Value) -> Result<(), String> {
    let e = &case["expected"];
    match parse_version(s(case, "version"), s(case, "parser")) {
        Err(err) => {
            expect_eq("ok", false, e["ok"] == true).map_err(|m| format!("{m} ({err})"))?;
            if let Some(want) = e["error"].as_str() {
                expect_eq("error", err.to_string().as_str(), want)?;
            }
            Ok(())
        }
        Ok(v) => {
            expect_eq("ok", true, e["ok"] == true)?;
            let fields: [(&str, Value); 7] = [
                ("string", v.to_string().into()),
                ("original", v.original().into()),
                ("major", v.major().into()),
                ("minor", v.minor().into()),
                ("patch", v.patch().into()),
                ("prerelease", v.prerelease().into()),
                ("metadata", v.metadata().into()),
            ];
            for (k, got) in fields {
                if !e[k].is_null() {
                    expect_eq(k, &got, &e[k])?;
                }
            }
            Ok(())
        }
    }
}

fn mm_version_compare(case: &Value) -> Result<(), String> {
    let a = Version::parse(s(case, "version")).map_err(|e| e.to_string())?;
    let b = Version::parse(s(case, "version2")).map_err(|e| e.to_string())?;
    let o = a.compare(&b);
    let e = &case["expected"];
    let (k, got): (&str, Value) = if !e["compare"].is_null() {
        ("compare", (o as i64).into())
    } else if !e["less_than"].is_null() {
        ("less_than", o.is_lt().into())
    } else if !e["less_than_equal"].is_null() {
        ("less_than_equal", o.is_le().into())
    } else if !e["greater_than"].is_null() {
        ("greater_than", o.is_gt().into())
    } else if !e["greater_than_equal"].is_null() {
        ("greater_than_equal", o.is_ge().into())
    } else {
        ("equal", o.is_eq().into())
    };
    expect_eq(k, &got, &e[k])
}

fn mm_equal_nil(case: &Value) -> Result<(), String> {
    let parse = |k: &str| case[k].as_str().map(|v| Version::parse(v).unwrap());
    let got = match (parse("version"), parse("version2")) {
        (None, None) => true,
        (Some(a), Some(b)) => a.compare(&b).is_eq(),
        _ => false,
    };
    expect_eq("equal", Some(got), case["expected"]["equal"].as_bool())
}

fn mm_version_sort(case: &Value) -> Result<(), String> {
    let mut vs: Vec<Version> = strings(&case["versions"])
        .iter()
        .map(|v| Version::parse(v).unwrap())
        .collect();
    vs.sort_by(Version::compare);
    let got: Vec<String> = vs.iter().map(ToString::to_string).collect();
    expect_eq(
        "sorted_strings",
        got,
        strings(&case["expected"]["sorted_strings"]),
    )
}

fn mm_version_inc(case: &Value) -> Result<(), String> {
    let v = Version::parse(s(case, "version")).map_err(|e| e.to_string())?;
    let next = match s(case, "how") {
        "patch" => v.inc_patch(),
        "minor" => v.inc_minor(),
        _ => v.inc_major(),
    }
    .map_err(|e| e.to_string())?;
    expect_eq(
        "string",
        next.to_string().as_str(),
        s(&case["expected"], "string"),
    )?;
    expect_eq(
        "original",
        next.original(),
        s(&case["expected"], "original"),
    )
}

fn mm_set(case: &Value, field: &str) -> Result<(), String> {
    let v = Version::parse(s(case, "version")).map_err(|e| e.to_string())?;
    let arg = s(case, "arg");
    let result = if field == "prerelease" {
        v.set_prerelease(arg)
    } else {
        v.set_metadata(arg)
    };
    let e = &case["expected"];
    // On error Go returns an unchanged copy.
    let (next, err) = match result {
        Ok(n) => (n, None),
        Err(err) => (v.clone(), Some(err.to_string())),
    };
    expect_eq("error", err.as_deref(), e["error"].as_str())?;
    expect_eq("string", next.to_string().as_str(), s(e, "string"))?;
    expect_eq("original", next.original(), s(e, "original"))?;
    let got = if field == "prerelease" {
        next.prerelease()
    } else {
        next.metadata()
    };
    expect_eq(field, got, s(e, field))
}

fn mm_set_prerelease(case: &Value) -> Result<(), String> {
    mm_set(case, "prerelease")
}

fn mm_set_metadata(case: &Value) -> Result<(), String> {
    mm_set(case, "metadata")
}

// ---------------------------------------------------------------------------------------------
// Flux checks.

/// The `ImagePolicy` spec for a Flux oracle case: its `policy` object (`{"type": "semver",
/// "range": R}`, `{"type": "alphabetical"|"numerical", "order": O}` or `{"type": null}`) and
/// its `filter` (`{pattern, extract}` or null).
fn flux_spec(case: &Value) -> flux::ImagePolicySpec {
    let p = &case["policy"];
    let order = || {
        Some(flux::OrderPolicy {
            order: s(p, "order").to_owned(),
        })
    };
    let mut choice = flux::PolicyChoice::default();
    match p["type"].as_str() {
        Some("semver") => {
            choice.semver = Some(flux::SemVerPolicy {
                range: s(p, "range").to_owned(),
            })
        }
        Some("alphabetical") => choice.alphabetical = order(),
        Some("numerical") => choice.numerical = order(),
        _ => {}
    }
    let f = &case["filter"];
    flux::ImagePolicySpec {
        policy: choice,
        filter_tags: f.is_object().then(|| flux::FilterTags {
            pattern: s(f, "pattern").to_owned(),
            extract: s(f, "extract").to_owned(),
        }),
    }
}

fn flux_new_policy_check(case: &Value) -> Result<(), String> {
    let got = Policy::from_flux(&flux_spec(case), &[]);
    expect_eq("ok", got.is_ok(), case["expected"]["ok"] == true)
        .map_err(|m| format!("{m} ({got:?})"))
}

/// Runs Flux's `applyPolicy` through `Policy::from_flux` and `select`, and renders the outcome
/// as Flux would: `ok:TAG` or `err:MESSAGE` (our message where Flux's wording is not
/// reproduced). The ImageRepository's exclusion list is Flux's default (`^.*\.sig$`); no
/// `apply_policy` or `latest` case lists a `.sig` tag, so it changes nothing here.
fn flux_outcome(case: &Value) -> String {
    let (policy, filter) = match Policy::from_flux(&flux_spec(case), &[]) {
        Ok(pf) => pf,
        Err(PolicyError::InField { field, source }) => {
            return match (field.as_str(), *source) {
                ("spec.filterTags.pattern", e) => format!(
                    "err:failed to filter tags: invalid regular expression pattern '{}': {e}",
                    s(&case["filter"], "pattern")
                ),
                (_, PolicyError::InvalidRange { source, .. }) => {
                    format!("err:invalid policy: {source}")
                }
                (_, e) => format!("err:invalid policy: {e}"),
            };
        }
        Err(e) => return format!("err:invalid policy: {e}"),
    };
    let sel = pol::select(&policy, &filter, &strings(&case["tags"]), None);
    render(&sel)
}

fn render(sel: &Selection) -> String {
    match (&sel.winner, &sel.failure) {
        (Some(w), _) => format!("ok:{w}"),
        (None, Some(PolicyError::NoCandidates { .. })) => {
            "err:version list argument cannot be empty".into()
        }
        (None, Some(PolicyError::NoMatch { .. })) => {
            "err:unable to determine latest version from provided list".into()
        }
        (None, Some(PolicyError::NotANumber { values })) => {
            format!("err:failed to parse invalid numeric value '{}'", values[0])
        }
        (None, Some(e)) => format!("err:{e}"),
        (None, None) => "err:no winner and no failure".into(),
    }
}

fn flux_apply_policy(case: &Value) -> Result<(), String> {
    let got = flux_outcome(case);
    let e = &case["expected"];
    if let Some(outcomes) = e.get("nondeterministic_outcomes") {
        let ok = strings(outcomes).contains(&got);
        return expect_eq("outcome is one of the observed ones", ok, true)
            .map_err(|m| format!("{m}: {got}"));
    }
    if e["ok"] == true {
        return match e["result"].as_str() {
            Some(r) => expect_eq("outcome", got.as_str(), format!("ok:{r}").as_str()),
            None => expect_eq("ok", got.starts_with("ok:"), true),
        };
    }
    let Some(msg) = got.strip_prefix("err:") else {
        return Err(format!("want an error, got {got}"));
    };
    if let Some(want) = e["error_contains"].as_str() {
        return expect_eq(
            &format!("error contains {want:?}"),
            msg.contains(want),
            true,
        )
        .map_err(|m| format!("{m}: {msg}"));
    }
    let Some(want) = e["error"].as_str() else {
        return Ok(());
    };
    // Our wording differs from Flux's inside these two envelopes; the envelope must match.
    let envelope = if want.starts_with("failed to filter tags:") {
        want.split_once("': ").map(|(p, _)| format!("{p}'"))
    } else if want.starts_with("invalid policy: invalid order") {
        Some("invalid policy: invalid order".to_owned())
    } else {
        None
    };
    match envelope {
        Some(prefix) => expect_eq(
            &format!("error starts with {prefix:?}"),
            msg.starts_with(&prefix),
            true,
        )
        .map_err(|m| format!("{m}: {msg}")),
        None => expect_eq("error", msg, want),
    }
}

fn flux_filter_check(case: &Value) -> Result<(), String> {
    let f = &case["filter"];
    let filter = TagFilter::new(Some(s(f, "pattern")), Some(s(f, "extract")))
        .and_then(|t| t.with_exclusions(&[]))
        .map_err(|e| e.to_string())?;
    let mut items: Vec<String> = strings(&case["tags"])
        .iter()
        .filter_map(|t| match filter.classify(t) {
            pol::FilterVerdict::Kept(v) => Some(v),
            _ => None,
        })
        .collect();
    items.sort();
    items.dedup();
    expect_eq(
        "items_sorted",
        items,
        strings(&case["expected"]["items_sorted"]),
    )
}

fn flux_parse_version_check(case: &Value) -> Result<(), String> {
    let e = &case["expected"];
    match Version::parse_flux(s(case, "version")) {
        Ok(v) => {
            expect_eq("ok", true, e["ok"] == true)?;
            match e["string"].as_str() {
                Some(want) => expect_eq("string", v.to_string().as_str(), want),
                None => Ok(()),
            }
        }
        Err(err) => {
            expect_eq("ok", false, e["ok"] == true).map_err(|m| format!("{m} ({err})"))?;
            match e["error"].as_str() {
                Some(want) => expect_eq("error", err.to_string().as_str(), want),
                None => Ok(()),
            }
        }
    }
}

fn flux_version_sort_check(case: &Value) -> Result<(), String> {
    // fluxcd/pkg version.Sort: matching tags, descending. Go's sort.Sort is not stable and keeps
    // duplicate tags, while `select` collapses duplicates and orders equals by its tie rule, so
    // compare the descending version sequence and the set of tags.
    let policy =
        Policy::parse(&format!("semver:{}", s(case, "constraint"))).map_err(|e| e.to_string())?;
    let sel = pol::select(
        &policy,
        &TagFilter::pass_all(),
        &strings(&case["tags"]),
        None,
    );
    let ranked: Vec<&str> = sel
        .ranking
        .iter()
        .map(|&i| sel.candidates[i].tag.as_str())
        .collect();
    let mut want = strings(&case["expected"]["sorted_desc"]);
    let versions = |tags: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = tags
            .iter()
            .map(|t| Version::parse(t).unwrap().to_string())
            .collect();
        v.dedup();
        v
    };
    let want_refs: Vec<&str> = want.iter().map(String::as_str).collect();
    expect_eq("version sequence", versions(&ranked), versions(&want_refs))?;
    want.sort();
    want.dedup();
    let mut got: Vec<String> = ranked.iter().map(|t| (*t).to_owned()).collect();
    got.sort();
    expect_eq("tag set", got, want)
}

fn flux_exclusion_filter(case: &Value) -> Result<TagFilter, PolicyError> {
    // An empty list means Flux's default (^.*\.sig$); a non-empty one replaces it.
    flux::flux_exclusions(TagFilter::pass_all(), &strings(&case["exclusion_list"]))
}

fn kept_tags(filter: &TagFilter, tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter(|t| matches!(filter.classify(t), pol::FilterVerdict::Kept(_)))
        .cloned()
        .collect()
}

fn flux_repository_exclusion_check(case: &Value) -> Result<(), String> {
    let e = &case["expected"];
    let filter = match flux_exclusion_filter(case) {
        Ok(f) => f,
        Err(err) => {
            return expect_eq("ok", false, e["ok"] == true).map_err(|m| format!("{m} ({err})"));
        }
    };
    expect_eq("ok", true, e["ok"] == true)?;
    let stored = pol::flux_scan_order(&kept_tags(&filter, &strings(&case["tags"])));
    expect_eq("stored_tags", &stored, &strings(&e["stored_tags"]))?;
    if e["latest_tags"].is_array() {
        let latest: Vec<String> = stored.iter().take(10).cloned().collect();
        expect_eq("latest_tags", latest, strings(&e["latest_tags"]))?;
    }
    Ok(())
}

fn flux_filter_out_tags_check(case: &Value) -> Result<(), String> {
    let pats: Vec<&str> = case["exclusion_list"]
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let filter = match TagFilter::pass_all().with_exclusions(&pats) {
        Ok(f) => f,
        Err(err) => {
            return expect_eq("ok", false, case["expected"]["ok"] == true)
                .map_err(|m| format!("{m} ({err})"));
        }
    };
    let got = kept_tags(&filter, &strings(&case["tags"]));
    expect_eq("tags", got, strings(&case["expected"]["tags"]))
}

fn flux_sort_latest_tags_check(case: &Value) -> Result<(), String> {
    let stored = pol::flux_scan_order(&strings(&case["tags"]));
    let latest: Vec<String> = stored.into_iter().take(10).collect();
    expect_eq(
        "latest_tags",
        latest,
        strings(&case["expected"]["latest_tags"]),
    )
}

// ---------------------------------------------------------------------------------------------
// Argo CD checks.

fn argo_tags(case: &Value) -> (Vec<String>, HashMap<String, (i64, String)>) {
    let mut names = Vec::new();
    let mut info = HashMap::new();
    for t in case["tags"].as_array().into_iter().flatten() {
        let name = s(t, "name").to_owned();
        info.insert(
            name.clone(),
            (
                t["date_unix"].as_i64().unwrap_or(0),
                s(t, "digest").to_owned(),
            ),
        );
        names.push(name);
    }
    (names, info)
}

/// Argo CD's filters: an unusable allow-tags matches nothing, an invalid glob ignores nothing.
fn argo_filter(case: &Value) -> Option<TagFilter> {
    let mut f = TagFilter::from_argocd(s(case, "allow_tags"), &[]).ok()?;
    for g in strings(&case["ignore_tags"]) {
        if let Ok(next) = f.clone().exclude_glob(&g) {
            f = next;
        }
    }
    Some(f)
}

fn argo_select(case: &Value) -> Result<(), String> {
    let e = &case["expected"];
    let (names, info) = argo_tags(case);
    let constraint = case["constraint"].as_str();
    let policy = match Policy::from_argocd(s(case, "strategy"), constraint) {
        Ok(p) => p,
        Err(err) => {
            return expect_eq("ok", false, e["ok"] == true).map_err(|m| format!("{m} ({err})"));
        }
    };
    expect_eq("ok", true, e["ok"] == true)?;
    if let Some(want) = e["strategy"].as_str() {
        expect_eq("strategy", policy.name(), want)?;
    }
    let times = |t: &str| info.get(t).map(|(d, _)| *d);
    // gitops-bump lists tags in Flux's scan order; Argo CD's result does not depend on order.
    let (winner, after_filters) = match argo_filter(case) {
        None => (None, Vec::new()),
        Some(filter) => {
            let sel = pol::select(
                &policy,
                &filter,
                &pol::flux_scan_order(&names),
                Some(&times),
            );
            let passed = |tag: &str| {
                sel.candidates.iter().any(|c| {
                    c.tag == tag
                        && !matches!(
                            c.status,
                            Status::Dropped(
                                DropReason::Excluded { .. }
                                    | DropReason::FilterMismatch { .. }
                                    | DropReason::NotTracked { .. }
                            )
                        )
                })
            };
            let after: Vec<String> = names.iter().filter(|t| passed(t)).cloned().collect();
            (sel.winner.clone(), after)
        }
    };
    if e["candidate_tags_after_filters"].is_array() {
        expect_eq(
            "candidate_tags_after_filters",
            after_filters,
            strings(&e["candidate_tags_after_filters"]),
        )?;
    }
    expect_eq("result", winner.as_deref(), e["result"].as_str())?;
    if let Some(want) = e["result_digest"].as_str() {
        let got = winner
            .as_ref()
            .and_then(|w| info.get(w))
            .map(|(_, d)| d.as_str());
        expect_eq("result_digest", got, Some(want))?;
    }
    Ok(())
}

fn argo_sort(case: &Value) -> Result<(), String> {
    let (names, info) = argo_tags(case);
    let policy = match s(case, "sort") {
        "alphabetical" => Policy::from_argocd("alphabetical", None),
        "semver" => Policy::from_argocd("semver", None),
        _ => Policy::from_argocd("newest-build", None),
    }
    .map_err(|e| e.to_string())?;
    let times = |t: &str| info.get(t).map(|(d, _)| *d);
    let sel = pol::select(
        &policy,
        &TagFilter::pass_all(),
        &pol::flux_scan_order(&names),
        Some(&times),
    );
    let ascending: Vec<String> = sel
        .ranking
        .iter()
        .rev()
        .map(|&i| sel.candidates[i].tag.clone())
        .collect();
    expect_eq("sorted", ascending, strings(&case["expected"]["sorted"]))
}

fn argo_allow_tags(case: &Value) -> Result<(), String> {
    let got = TagFilter::from_argocd(s(case, "allow_tags"), &[])
        .is_ok_and(|f| matches!(f.classify(s(case, "tag")), pol::FilterVerdict::Kept(_)));
    expect_eq("match", Some(got), case["expected"]["match"].as_bool())
}

fn argo_ignore_tags(case: &Value) -> Result<(), String> {
    let tag = s(case, "tag");
    let got = strings(&case["ignore_tags"]).iter().any(|g| {
        TagFilter::pass_all()
            .exclude_glob(g)
            .is_ok_and(|f| matches!(f.classify(tag), pol::FilterVerdict::Excluded(_)))
    });
    expect_eq("ignored", Some(got), case["expected"]["ignored"].as_bool())
}

fn argo_strategy(case: &Value) -> Result<(), String> {
    let p = Policy::from_argocd(s(case, "strategy"), Some("1.0.0")).map_err(|e| e.to_string())?;
    expect_eq("strategy", p.name(), s(&case["expected"], "strategy"))
}

/// Where Flux's behaviour is a quirk rather than a rule, the selection still matches (the
/// cases pass above) and the explanation warns. Each entry: oracle case identity, warning.
const FLUX_QUIRKS: &[(&str, pol::WarningCode)] = &[
    (
        "flux_policies.json:apply_policy:derived: filter+semver: tie among extracted keys is nondeterministic (Go map iteration)",
        pol::WarningCode::EqualPrecedence,
    ),
    (
        "flux_policies.json:apply_policy:derived: numerical NaN",
        pol::WarningCode::NotANumberValue,
    ),
];

#[test]
fn flux_quirks_are_warned_about() {
    let Some(all) = load("flux_policies.json") else {
        return;
    };
    for (id, code) in FLUX_QUIRKS {
        let case = all
            .iter()
            .find(|c| identity("flux_policies.json", c) == *id)
            .unwrap_or_else(|| panic!("no oracle case {id}"));
        let (policy, filter) = Policy::from_flux(&flux_spec(case), &[]).unwrap();
        let sel = pol::select(&policy, &filter, &strings(&case["tags"]), None);
        assert!(
            sel.warnings.iter().any(|w| w.code == *code),
            "{id}: no {code} warning in {:?}",
            sel.warnings
        );
    }
}
