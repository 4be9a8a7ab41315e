//! Unit tests of `select`: tie-breaking, drop reasons, warnings and policy-spec errors. The
//! upstream conformance cases live in `tests/policy_oracles.rs`.

use std::cmp::Ordering;

use super::*;

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| (*t).to_owned()).collect()
}

fn run(spec: &str, list: &[&str]) -> Selection {
    let policy = Policy::parse(spec).unwrap();
    select(&policy, &TagFilter::default(), &tags(list), None)
}

fn has(sel: &Selection, code: WarningCode) -> Option<&str> {
    sel.warnings
        .iter()
        .find(|w| w.code == code)
        .map(|w| w.message.as_str())
}

fn status_of<'a>(sel: &'a Selection, tag: &str) -> &'a Status {
    &sel.candidates.iter().find(|c| c.tag == tag).unwrap().status
}

// --- Policy specs ------------------------------------------------------------------------------

#[test]
fn policy_specs_parse_and_display() {
    for (spec, shown) in [
        ("semver:>=1.0.0", "semver:>=1.0.0"),
        ("alphabetical", "alphabetical:asc"),
        ("Alphabetical:DESC", "alphabetical:desc"),
        ("numerical:asc", "numerical:asc"),
        ("newest-build", "newest-build"),
        ("digest", "digest"),
        ("digest:latest", "digest:latest"),
    ] {
        assert_eq!(Policy::parse(spec).unwrap().to_string(), shown, "{spec}");
    }
}

#[test]
fn invalid_policy_specs_name_the_offending_text() {
    let e = Policy::parse("semver:1.x.y").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"invalid semver range "1.x.y": improper constraint: "1.x.y""#
    );
    let e = Policy::parse("semver:latest").unwrap_err();
    assert!(
        e.to_string()
            .starts_with(r#"invalid semver range "latest": "#),
        "{e}"
    );
    let e = Policy::parse("alphabetical:random").unwrap_err();
    assert!(e.to_string().contains(r#"invalid order "random""#), "{e}");
    let e = Policy::parse("newest").unwrap_err();
    assert!(
        e.to_string().starts_with(r#"unknown policy "newest""#),
        "{e}"
    );
    let e = Policy::parse("semver").unwrap_err();
    assert!(e.to_string().contains("needs a range"), "{e}");
    assert!(Policy::parse("newest-build:x").is_err());
}

#[test]
fn argocd_strategies() {
    assert_eq!(
        Policy::from_argocd("Latest", None).unwrap().name(),
        "newest-build"
    );
    assert_eq!(
        Policy::from_argocd("name", None).unwrap().name(),
        "alphabetical"
    );
    assert_eq!(
        Policy::from_argocd("whatever", None).unwrap().name(),
        "semver"
    );
    assert_eq!(
        Policy::from_argocd("digest", None).unwrap_err(),
        PolicyError::DigestNeedsTag
    );
}

// --- Policy::compare -------------------------------------------------------------------------

#[test]
fn compare_says_which_way() {
    let semver = Policy::parse("semver:*").unwrap();
    assert_eq!(semver.compare("1.0.0", "2.0.0"), Some(Ordering::Greater));
    assert_eq!(semver.compare("2.0.0", "1.0.0"), Some(Ordering::Less));
    assert_eq!(semver.compare("v1.0.0", "1.0.0"), Some(Ordering::Equal));
    assert_eq!(semver.compare("main", "1.0.0"), None);
    // Masterminds precedence, not bytes; a pre-release precedes its release.
    assert_eq!(semver.compare("1.9.0", "1.10.0"), Some(Ordering::Greater));
    assert_eq!(semver.compare("1.0.0", "1.0.0-rc.1"), Some(Ordering::Less));
    // Only the order counts, never the range.
    let caret = Policy::parse("semver:^1").unwrap();
    assert_eq!(caret.compare("2.0.0", "3.0.0"), Some(Ordering::Greater));
    // Strict (Flux) does not read `1.2`; lenient (Argo CD) does.
    assert_eq!(semver.compare("1.2", "1.3.0"), None);
    let lenient = semver.clone().with_semver_parse(SemverParse::Lenient);
    assert_eq!(lenient.compare("1.2", "1.3.0"), Some(Ordering::Greater));
    assert_eq!(lenient.compare("1.11", "1.11.0"), Some(Ordering::Equal));

    let alpha = Policy::parse("alphabetical").unwrap();
    assert_eq!(alpha.compare("a", "b"), Some(Ordering::Greater));
    assert_eq!(
        alpha.compare("1.10", "1.9"),
        Some(Ordering::Greater),
        "bytes"
    );
    let alpha_desc = Policy::parse("alphabetical:desc").unwrap();
    assert_eq!(alpha_desc.compare("a", "b"), Some(Ordering::Less));

    let num = Policy::parse("numerical").unwrap();
    assert_eq!(num.compare("9", "10"), Some(Ordering::Greater));
    assert_eq!(num.compare("10", "10.0"), Some(Ordering::Equal));
    assert_eq!(num.compare("10", "abc"), None);
    assert_eq!(num.compare("10", "NaN"), None, "NaN orders nothing");
    let num_desc = Policy::parse("numerical:desc").unwrap();
    assert_eq!(num_desc.compare("9", "10"), Some(Ordering::Less));

    assert_eq!(Policy::NewestBuild.compare("sha-a", "sha-b"), None);
    assert_eq!(
        Policy::parse("digest:latest").unwrap().compare("v1", "v2"),
        None
    );
}

#[test]
fn compare_filtered_reads_extracted_values() {
    let num = Policy::parse("numerical").unwrap();
    let filter = TagFilter::new(Some(r"^main-[a-f0-9]+-(?P<ts>\d+)$"), Some("$ts")).unwrap();
    assert_eq!(num.compare("main-abc-100", "main-def-99"), None);
    assert_eq!(
        num.compare_filtered(&filter, "main-abc-100", "main-def-99"),
        Some(Ordering::Less)
    );
    assert_eq!(
        num.compare_filtered(&filter, "main-abc-100", "latest"),
        None
    );
}

/// The winner is never `Less` than a kept candidate under `Policy::compare`, and the ranking
/// is sorted by it: selection and the downgrade guard cannot disagree.
#[test]
fn selection_ranks_by_compare() {
    let pools: &[(&str, &[&str])] = &[
        (
            "semver:*",
            &[
                "1.0.0",
                "v1.10.0",
                "1.9.0",
                "1.10.0",
                "0.1.0+b",
                "2.0.0-rc.1",
            ],
        ),
        (
            "semver:>=0.0.0-0",
            &["1.0.0-rc.10", "1.0.0-rc.9", "1.0.0", "v0.9.9"],
        ),
        ("alphabetical", &["1.0.0-9", "1.0.0-14", "b", "B", "a"]),
        ("alphabetical:desc", &["20240101", "20231231", "2024-01-02"]),
        (
            "numerical",
            &["1", "01", "1.0", "-5", "1e3", "Inf", "0x1p4"],
        ),
        ("numerical:desc", &["3", "2.5", "-Inf", "7"]),
    ];
    for (spec, list) in pools {
        let policy = Policy::parse(spec).unwrap();
        for listed in [tags(list), flux_scan_order(&tags(list))] {
            let sel = select(&policy, &TagFilter::pass_all(), &listed, None);
            let ranked: Vec<&str> = sel
                .ranking
                .iter()
                .map(|&i| sel.candidates[i].tag.as_str())
                .collect();
            for pair in ranked.windows(2) {
                assert_ne!(
                    policy.compare(pair[0], pair[1]),
                    Some(Ordering::Greater),
                    "{spec}: {} ranked before {}",
                    pair[0],
                    pair[1]
                );
            }
            let winner = sel.winner.as_deref().unwrap();
            for other in &ranked {
                assert_ne!(
                    policy.compare(winner, other),
                    Some(Ordering::Greater),
                    "{spec}"
                );
            }
        }
    }
}

// --- Tie-breaking ------------------------------------------------------------------------------

#[test]
fn semver_tie_first_in_list_wins_and_scan_order_makes_it_bytewise_greatest() {
    let sel = run("semver:*", &["1.2.3", "v1.2.3"]);
    assert_eq!(sel.winner.as_deref(), Some("1.2.3"));
    let listed = flux_scan_order(&tags(&["1.2.3", "v1.2.3", "1.2.3+b", "1.0.0"]));
    assert_eq!(listed, tags(&["v1.2.3", "1.2.3+b", "1.2.3", "1.0.0"]));
    let sel = select(
        &Policy::parse("semver:*").unwrap(),
        &TagFilter::default(),
        &listed,
        None,
    );
    assert_eq!(sel.winner.as_deref(), Some("v1.2.3"));
}

#[test]
fn numerical_tie_last_in_list_wins() {
    let sel = run("numerical", &["1", "01", "1.0"]);
    assert_eq!(sel.winner.as_deref(), Some("1.0"));
    let sel = run("numerical:desc", &["1", "01", "1.0", "5"]);
    assert_eq!(sel.winner.as_deref(), Some("1.0"));
}

#[test]
fn extract_collisions_keep_the_later_tag() {
    let filter = TagFilter::new(Some(r"^.*-(\d+)$"), Some("$1")).unwrap();
    let list = tags(&["main-a-100", "feature-b-100", "main-c-99"]);
    let sel = select(&Policy::parse("numerical").unwrap(), &filter, &list, None);
    assert_eq!(sel.winner.as_deref(), Some("feature-b-100"));
    assert_eq!(
        status_of(&sel, "main-a-100"),
        &Status::Dropped(DropReason::Superseded {
            by: "feature-b-100".into()
        })
    );
    let c = &sel.candidates[1];
    assert_eq!(c.extracted.as_deref(), Some("100"));
}

#[test]
fn newest_build_tie_goes_to_greatest_tag_with_warning() {
    let times = |t: &str| match t {
        "sha-aaa" | "sha-bbb" => Some(1_700_000_000),
        "sha-old" => Some(1_600_000_000),
        _ => None,
    };
    let sel = select(
        &Policy::NewestBuild,
        &TagFilter::default(),
        &tags(&["sha-aaa", "sha-old", "sha-bbb", "sha-none"]),
        Some(&times),
    );
    assert_eq!(sel.winner.as_deref(), Some("sha-bbb"));
    assert_eq!(
        status_of(&sel, "sha-none"),
        &Status::Dropped(DropReason::NoBuildTime)
    );
    assert_eq!(
        sel.candidates[0].key.as_deref(),
        Some("2023-11-14T22:13:20Z")
    );
    let w = has(&sel, WarningCode::BuildTimeTie).unwrap();
    assert!(
        w.contains("\"sha-bbb\"") && w.contains("\"sha-aaa\""),
        "{w}"
    );
}

// --- Drop reasons and explanation --------------------------------------------------------------

#[test]
fn every_tag_is_explained() {
    let sel = run(
        "semver:>=1.0.0 <2.0.0",
        &[
            "1.5.0",
            "2.0.0",
            "1.6.0-rc.1",
            "1.2",
            "latest",
            "sha256-x.sig",
            "0.9.0",
        ],
    );
    assert_eq!(sel.winner.as_deref(), Some("1.5.0"));
    assert_eq!(sel.candidates.len(), 7);
    assert!(
        matches!(status_of(&sel, "2.0.0"), Status::Dropped(DropReason::OutsideRange { detail }) if detail == r#""2.0.0" is greater than or equal to "2.0.0""#)
    );
    assert_eq!(
        status_of(&sel, "1.6.0-rc.1"),
        &Status::Dropped(DropReason::PreRelease)
    );
    assert!(
        matches!(status_of(&sel, "1.2"), Status::Dropped(DropReason::Unparseable { detail }) if detail.contains("strict"))
    );
    assert!(
        matches!(status_of(&sel, "sha256-x.sig"), Status::Dropped(DropReason::Excluded { pattern }) if pattern == r"^.*\.sig$")
    );
    assert!(matches!(
        status_of(&sel, "0.9.0"),
        Status::Dropped(DropReason::OutsideRange { .. })
    ));
    assert_eq!(sel.ranking.len(), 1);
    assert_eq!(sel.candidates[0].key.as_deref(), Some("1.5.0"));
    let json = serde_json::to_value(&sel).unwrap();
    assert_eq!(json["candidates"][1]["status"]["status"], "dropped");
}

#[test]
fn lenient_parsing_reads_short_versions() {
    let policy = Policy::parse("semver:*")
        .unwrap()
        .with_semver_parse(SemverParse::Lenient);
    let sel = select(
        &policy,
        &TagFilter::default(),
        &tags(&["1.2", "1.1.9"]),
        None,
    );
    assert_eq!(sel.winner.as_deref(), Some("1.2"));
    assert_eq!(sel.candidates[0].key.as_deref(), Some("1.2.0"));
}

#[test]
fn filter_mismatch_and_empty_result() {
    let filter = TagFilter::new(Some("^v"), None).unwrap();
    let sel = select(
        &Policy::parse("semver:*").unwrap(),
        &filter,
        &tags(&["a", "b"]),
        None,
    );
    assert_eq!(sel.winner, None);
    assert_eq!(sel.failure, Some(PolicyError::NoCandidates { listed: 2 }));
    assert!(
        matches!(status_of(&sel, "a"), Status::Dropped(DropReason::FilterMismatch { pattern }) if pattern == "^v")
    );
}

#[test]
fn digest_follows_one_tag() {
    let sel = run("digest:latest", &["1.0.0", "latest"]);
    assert_eq!(sel.winner.as_deref(), Some("latest"));
    assert!(matches!(
        status_of(&sel, "1.0.0"),
        Status::Dropped(DropReason::NotTracked { .. })
    ));
    let sel = run("digest", &["latest"]);
    assert_eq!(sel.failure, Some(PolicyError::DigestNeedsTag));
    let sel = run("digest:main", &["latest"]);
    assert!(matches!(sel.failure, Some(PolicyError::TagNotFound { .. })));
}

#[test]
fn drop_tag_moves_the_win_to_the_next_candidate() {
    let mut sel = run("semver:*", &["1.0.0", "1.1.0"]);
    sel.drop_tag("1.1.0", DropReason::PlatformMissing("linux/arm64".into()));
    assert_eq!(sel.winner.as_deref(), Some("1.0.0"));
    sel.drop_tag("1.0.0", DropReason::PlatformMissing("linux/arm64".into()));
    assert_eq!(sel.winner, None);
    assert!(matches!(sel.failure, Some(PolicyError::NoMatch { .. })));
}

// --- Warnings ----------------------------------------------------------------------------------

#[test]
fn warns_desc_over_timestamps_selects_oldest() {
    let sel = run(
        "alphabetical:desc",
        &[
            "2024-01-02T10-00-00Z",
            "2023-12-31T23-59-59Z",
            "2024-01-03T00-00-00Z",
        ],
    );
    assert_eq!(sel.winner.as_deref(), Some("2023-12-31T23-59-59Z"));
    let w = has(&sel, WarningCode::DescSelectsOldest).unwrap();
    assert!(w.contains("oldest"), "{w}");
    let sel = run("numerical:desc", &["1700000000", "1700000100"]);
    assert!(has(&sel, WarningCode::DescSelectsOldest).is_some());
    let sel = run("alphabetical:desc", &["xenial", "bionic"]);
    assert!(has(&sel, WarningCode::DescSelectsOldest).is_none());
    let sel = run("alphabetical", &["20240101", "20240102"]);
    assert!(has(&sel, WarningCode::DescSelectsOldest).is_none());
}

#[test]
fn numerical_with_non_numbers_fails_and_still_explains() {
    let sel = run("numerical", &["1", "latest", "2", "main"]);
    assert_eq!(sel.winner, None);
    assert_eq!(
        sel.failure.as_ref().map(ToString::to_string).as_deref(),
        Some("failed to parse invalid numeric value 'latest' (and 1 more)")
    );
    assert_eq!(sel.candidates.len(), 4);
    assert!(matches!(
        status_of(&sel, "main"),
        Status::Dropped(DropReason::Unparseable { .. })
    ));
    assert_eq!(sel.ranking.len(), 2);
    let w = has(&sel, WarningCode::NotNumbers).unwrap();
    assert!(
        w.contains("\"latest\", \"main\"") && w.contains("--filter"),
        "{w}"
    );
}

#[test]
fn warns_range_matches_nothing_and_names_newest() {
    let sel = run("semver:>=3.0.0", &["1.0.0", "2.4.1", "2.0.0"]);
    assert!(matches!(sel.failure, Some(PolicyError::NoMatch { .. })));
    let w = has(&sel, WarningCode::RangeMatchesNothing).unwrap();
    assert!(w.contains("\"2.4.1\"") && w.contains(">=3.0.0"), "{w}");
}

#[test]
fn prerelease_rule_versus_outside_range() {
    let sel = run(
        "semver:>=1.0.0 <1.5.0 || >=2.0.0-0",
        &["1.2.0-rc.1", "1.6.0-rc.1", "2.1.0-rc.1"],
    );
    assert_eq!(sel.winner.as_deref(), Some("2.1.0-rc.1"));
    assert_eq!(
        status_of(&sel, "1.2.0-rc.1"),
        &Status::Dropped(DropReason::PreRelease)
    );
    assert!(
        matches!(status_of(&sel, "1.6.0-rc.1"), Status::Dropped(DropReason::OutsideRange { detail }) if detail.contains("greater than or equal"))
    );
    let sel = run("semver:>=1.0.0", &["1.1.0-rc.1"]);
    let w = has(&sel, WarningCode::RangeMatchesNothing).unwrap();
    assert!(w.contains("add -0"), "{w}");
}

#[test]
fn warns_equal_precedence() {
    let sel = run("semver:*", &["v1.2.3", "1.2.3", "1.0.0"]);
    let w = has(&sel, WarningCode::EqualPrecedence).unwrap();
    assert!(
        w.contains("\"v1.2.3\", \"1.2.3\"") && w.contains("flip-flop"),
        "{w}"
    );
    let lenient = Policy::parse("semver:*")
        .unwrap()
        .with_semver_parse(SemverParse::Lenient);
    let sel = select(
        &lenient,
        &TagFilter::default(),
        &tags(&["1.11.0", "1.11"]),
        None,
    );
    assert!(has(&sel, WarningCode::EqualPrecedence).is_some());
    // Strict parsing ignores `1.11`, so there is nothing to flip between.
    let sel = run("semver:*", &["1.11.0", "1.11"]);
    assert!(has(&sel, WarningCode::EqualPrecedence).is_none());
}

#[test]
fn notes_mutable_tag_ignored_by_semver() {
    let sel = run("semver:*", &["1.0.0", "latest"]);
    let w = has(&sel, WarningCode::MutableTagIgnored).unwrap();
    assert!(
        w.contains("\"latest\"") && w.contains("digest:latest"),
        "{w}"
    );
    let sel = run("semver:*", &["1.0.0"]);
    assert!(sel.warnings.is_empty());
}

#[test]
fn warns_about_nan() {
    let sel = run("numerical", &["5", "NaN", "3"]);
    assert_eq!(sel.winner.as_deref(), Some("3"));
    assert_eq!(sel.ranking.first(), Some(&2));
    assert!(has(&sel, WarningCode::NotANumberValue).is_some());
}

// --- Robustness --------------------------------------------------------------------------------

#[test]
fn odd_inputs_do_not_panic() {
    let odd = [
        "",
        " ",
        "||",
        "-",
        "--",
        "v",
        "1.",
        ".1",
        "1..2",
        "*",
        "x.x.x",
        "1 - ",
        " - 1",
        "^",
        "~>",
        "1.2.3-",
        "1.2.3+",
        "18446744073709551616",
        "1.18446744073709551616",
        "é",
        "1.2.3-é",
        "0x",
        "0x1p",
        "+",
        "1e",
        "[",
        "\\",
        "${",
        "$",
        "1 || || 2",
        ">=1,,<2",
        "1.0.0 - 2.0.0 - 3",
    ];
    for s in odd {
        let _ = Policy::parse(&format!("semver:{s}"));
        let _ = Policy::parse(s);
        let _ = Version::parse(s);
        let _ = Version::parse_strict(s);
        let _ = Version::parse_no_coerce(s, true);
        let _ = order::go_parse_float(s);
        let _ = semver::Comparator::parse(s);
        let _ = TagFilter::pass_all().exclude_glob(s);
        if let Ok(f) = TagFilter::new(Some("(.*)"), Some(s)) {
            let _ = f.classify(s);
        }
    }
    let list = tags(&odd);
    for spec in [
        "semver:*",
        "numerical",
        "alphabetical:desc",
        "newest-build",
        "digest:*",
    ] {
        let sel = select(
            &Policy::parse(spec).unwrap(),
            &TagFilter::default(),
            &list,
            None,
        );
        assert!(sel.winner.is_some() != sel.failure.is_some(), "{spec}");
    }
}

// --- Warnings: each fires on a minimal case and stays silent on a correct one ---------------

fn run_with(spec: &str, filter: &TagFilter, list: &[&str]) -> Selection {
    select(&Policy::parse(spec).unwrap(), filter, &tags(list), None)
}

fn lenient(spec: &str, list: &[&str]) -> Selection {
    let policy = Policy::parse(spec)
        .unwrap()
        .with_semver_parse(SemverParse::Lenient);
    select(&policy, &TagFilter::default(), &tags(list), None)
}

#[test]
fn warns_numbers_compared_as_text() {
    let list: Vec<String> = (1..=14).map(|n| format!("1.0.0-{n}")).collect();
    let list: Vec<&str> = list.iter().map(String::as_str).collect();
    let sel = run("alphabetical", &list);
    // Flux's selection is kept: byte-wise, "1.0.0-9" is the greatest.
    assert_eq!(sel.winner.as_deref(), Some("1.0.0-9"));
    let w = has(&sel, WarningCode::NumbersComparedAsText).unwrap();
    assert!(
        w.contains(r#"selects "1.0.0-9" over "1.0.0-14""#)
            && w.contains("semver:>=0.0.0-0")
            && w.contains(r"--filter '^1\.0\.0-(?P<n>[0-9]+)$' --extract '$n'"),
        "{w}"
    );
    // The suggested numerical fix selects the intended tag.
    let fix = TagFilter::new(Some(r"^1\.0\.0-(?P<n>[0-9]+)$"), Some("$n")).unwrap();
    let sel = run_with("numerical", &fix, &list);
    assert_eq!(sel.winner.as_deref(), Some("1.0.0-14"));
    // desc: "10" is the byte-wise smallest, "9" the smallest number.
    let sel = run("alphabetical:desc", &["9", "10"]);
    assert!(has(&sel, WarningCode::NumbersComparedAsText).is_some());
    // Silent: equal widths, or no digits.
    for list in [
        &["20240101", "20240102", "20231231"][..],
        &["xenial", "bionic", "zesty"],
        &["1.0.0-1", "1.0.0-14"],
    ] {
        let sel = run("alphabetical", list);
        assert!(
            has(&sel, WarningCode::NumbersComparedAsText).is_none(),
            "{list:?}"
        );
    }
}

#[test]
fn warns_concatenated_numbers() {
    let filter =
        TagFilter::new(Some(r"^(?P<date>[0-9]{8})-(?P<n>[0-9]+)$"), Some("$date$n")).unwrap();
    let sel = run_with("numerical", &filter, &["20220209-22", "20220210-1"]);
    assert_eq!(
        sel.winner.as_deref(),
        Some("20220209-22"),
        "Flux's selection"
    );
    let w = has(&sel, WarningCode::ConcatenatedNumbers).unwrap();
    assert!(
        w.contains(r#""20220209-22" as 2022020922"#)
            && w.contains(r#""20220210-1" as 202202101"#)
            && w.contains("--extract '${date}.${n}.0'"),
        "{w}"
    );
    // The suggested semver fix selects the newer build.
    let fix = TagFilter::new(filter.pattern(), Some("${date}.${n}.0")).unwrap();
    let sel = run_with("semver:*", &fix, &["20220209-22", "20220210-1"]);
    assert_eq!(sel.winner.as_deref(), Some("20220210-1"));
    // Silent: the widths happen not to change the winner, or one group only.
    let sel = run_with("numerical", &filter, &["20220209-2", "20220210-1"]);
    assert!(has(&sel, WarningCode::ConcatenatedNumbers).is_none());
    let one = TagFilter::new(Some(r"^[0-9]{8}-(?P<n>[0-9]+)$"), Some("$n")).unwrap();
    let sel = run_with("numerical", &one, &["20220209-22", "20220210-1"]);
    assert!(has(&sel, WarningCode::ConcatenatedNumbers).is_none());
}

#[test]
fn warns_bare_number_wins_under_lenient_semver() {
    let sel = lenient("semver:*", &["1.25.3", "917005", "1.24.0"]);
    assert_eq!(sel.winner.as_deref(), Some("917005"), "Argo CD's selection");
    let w = has(&sel, WarningCode::BareNumberWins).unwrap();
    assert!(
        w.contains(r#""917005""#) && w.contains("917005.0.0") && w.contains(r#""1.25.3""#),
        "{w}"
    );
    assert!(w.contains("--filter"), "{w}");
    // Silent: strict parsing ignores it; no bare number; only bare numbers.
    let sel = run("semver:*", &["1.25.3", "917005"]);
    assert!(has(&sel, WarningCode::BareNumberWins).is_none());
    let sel = lenient("semver:*", &["1.25.3", "1.24"]);
    assert!(has(&sel, WarningCode::BareNumberWins).is_none());
    let sel = lenient("semver:*", &["3", "2"]);
    assert!(has(&sel, WarningCode::BareNumberWins).is_none());
}

#[test]
fn desc_over_timestamps_names_oldest_and_newest() {
    let sel = run("alphabetical:desc", &["main-20240101", "main-20240301"]);
    let w = has(&sel, WarningCode::DescSelectsOldest).unwrap();
    assert!(
        w.contains(r#"the oldest, "main-20240101""#) && w.contains(r#"newest is "main-20240301""#),
        "{w}"
    );
    // Silent: asc, or a winner that is not a time (half the values are).
    let sel = run("alphabetical", &["main-20240101", "main-20240301"]);
    assert!(has(&sel, WarningCode::DescSelectsOldest).is_none());
    let sel = run("alphabetical:desc", &["a-stable", "main-20240301"]);
    assert!(has(&sel, WarningCode::DescSelectsOldest).is_none());
}

#[test]
fn warns_filter_matches_nothing() {
    let filter = TagFilter::new(Some("^v[0-9]"), None).unwrap();
    let sel = run_with("semver:*", &filter, &["1.0.0", "1.1.0", "x.sig"]);
    assert_eq!(sel.failure, Some(PolicyError::NoCandidates { listed: 3 }));
    let w = has(&sel, WarningCode::FilterMatchesNothing).unwrap();
    assert!(
        w.contains(r#"filter "^v[0-9]" matches none of the 2 tags"#)
            && w.contains(r#""1.0.0", "1.1.0""#),
        "{w}"
    );
    let sel = run_with("semver:*", &filter, &["1.0.0", "v1.1.0"]);
    assert!(has(&sel, WarningCode::FilterMatchesNothing).is_none());
}

#[test]
fn range_matches_nothing_names_the_closest_versions() {
    let sel = run("semver:<1.0.0", &["1.0.0", "2.0.0"]);
    let w = has(&sel, WarningCode::RangeMatchesNothing).unwrap();
    assert!(w.contains(r#"closest is "1.0.0" (1.0.0, above it)"#), "{w}");
    let sel = run("semver:~1.5", &["1.4.9", "1.6.0", "0.1.0", "2.0.0"]);
    let w = has(&sel, WarningCode::RangeMatchesNothing).unwrap();
    assert!(
        w.contains(r#""1.4.9" (1.4.9, below it) and "1.6.0" (1.6.0, above it)"#),
        "{w}"
    );
    let sel = run("semver:~1.5", &["1.5.2"]);
    assert!(has(&sel, WarningCode::RangeMatchesNothing).is_none());
}

#[test]
fn warns_about_extract_groups() {
    let f = TagFilter::new(Some(r"^v(\d)$"), Some("$1suffix")).unwrap();
    let sel = run_with("alphabetical", &f, &["v1", "v2"]);
    let w = has(&sel, WarningCode::ExtractGroupUndefined).unwrap();
    assert!(
        w.contains(r#"group "1suffix""#) && w.contains("${1}suffix"),
        "{w}"
    );
    let f = TagFilter::new(Some(r"^v(\d)$"), Some("${1}suffix")).unwrap();
    let sel = run_with("alphabetical", &f, &["v1", "v2"]);
    assert!(has(&sel, WarningCode::ExtractGroupUndefined).is_none());
    assert!(has(&sel, WarningCode::EmptyExtract).is_none());

    let f = TagFilter::new(Some(r"^build-(?P<n>[0-9]*)"), Some("$n")).unwrap();
    let sel = run_with("alphabetical", &f, &["build-12", "build-", "build-x"]);
    let w = has(&sel, WarningCode::EmptyExtract).unwrap();
    assert!(
        w.contains(r#"group "n" in 2 tags ("build-", "build-x")"#) && w.contains("+ instead of *"),
        "{w}"
    );
    let f = TagFilter::new(Some(r"^build-(?P<n>[0-9]+)"), Some("$n")).unwrap();
    let sel = run_with("alphabetical", &f, &["build-12", "build-", "build-x"]);
    assert!(has(&sel, WarningCode::EmptyExtract).is_none());
}

#[test]
fn warns_when_no_tag_reads_as_a_version() {
    let sel = run("semver:*", &["1.2", "1.3"]);
    let w = has(&sel, WarningCode::NoVersions).unwrap();
    assert!(
        w.contains("--semver-parse lenient") && w.contains(r#""1.2", "1.3""#),
        "{w}"
    );
    let sel = lenient("semver:*", &["1.2", "1.3"]);
    assert!(has(&sel, WarningCode::NoVersions).is_none());
    let sel = run("semver:*", &["sha-abc1234", "sha-def5678"]);
    let w = has(&sel, WarningCode::NoVersions).unwrap();
    assert!(w.contains("newest-build"), "{w}");
}

#[test]
fn warnings_show_their_code() {
    let sel = run("alphabetical:desc", &["20240101", "20240102"]);
    let w = sel.warnings.first().unwrap().to_string();
    assert!(w.ends_with(" [desc-selects-oldest]"), "{w}");
    let json = serde_json::to_value(&sel.warnings[0]).unwrap();
    assert_eq!(json["code"], "desc-selects-oldest");
}
