//! Warnings about policies that probably do not do what their author meant: each looks at a
//! finished ranking (and the filter that fed it) and adds a [`Warning`](super::Warning) with a stable
//! [`WarningCode`], naming the tags involved and the fix. None of them changes a selection:
//! Flux and Argo CD would select the same tag, and the warning says why that is surprising.
//!
//! This module does not rank or drop tags (`mod.rs`) and does no I/O.

use std::cmp::Ordering;

use super::order::{self, cmp_digits, is_digits, natural_cmp};
use super::{
    Constraints, DropReason, Order, Selection, SemverParse, Status, TagFilter, Version,
    WarningCode, quoted_list, value, warn,
};

/// `numbers-compared-as-text`: alphabetical order over values whose digit runs have different
/// widths (`1.0.0-9` outranks `1.0.0-14`). Fires only when reading the digit runs as numbers
/// would select another tag.
pub(super) fn numbers_compared_as_text(sel: &mut Selection, filter: &TagFilter, order: Order) {
    let Some(&w) = sel.ranking.first() else {
        return;
    };
    let natural = sel.ranking.iter().copied().min_by(|&a, &b| {
        order
            .directed(natural_cmp(value(sel, a), value(sel, b)))
            .reverse()
    });
    let Some(n) = natural.filter(|&n| n != w) else {
        return;
    };
    let (wt, nt) = (&sel.candidates[w].tag, &sel.candidates[n].tag);
    let (wv, nv) = (value(sel, w), value(sel, n));
    let shown = |tag: &str, v: &str| {
        if tag == v {
            format!("{tag:?}")
        } else {
            format!("{tag:?} (value {v:?})")
        }
    };
    let fix = match order::text_number_divergence(wv, nv) {
        Some(run) if filter.extract().is_none() => format!(
            "numerical over that number (--policy numerical --filter '^{}(?P<n>[0-9]+){}$' --extract '$n')",
            escape(&nt[..run.start]),
            escape(&nt[run.end..])
        ),
        _ => "numerical over that number (--filter with a named group and --extract)".to_owned(),
    };
    let msg = format!(
        "alphabetical order compares digits as text, so it selects {} over {}; read as numbers, {nt:?} would win. If it is the newer, use semver (semver:>=0.0.0-0 when the numbers are pre-release counters) or {fix}",
        shown(wt, wv),
        shown(nt, nv),
    );
    warn(sel, WarningCode::NumbersComparedAsText, msg);
}

/// `concatenated-numbers`: a numerical policy over an extract template that joins two or more
/// groups (`$date$n`) whose widths vary, so `20220209-22` → `2022020922` outranks
/// `20220210-1` → `202202101`. Fires only when comparing the groups one by one, as numbers,
/// would select another tag.
pub(super) fn concatenated_numbers(sel: &mut Selection, filter: &TagFilter, order: Order) {
    let groups = filter.template_groups();
    if groups.len() < 2 {
        return;
    }
    let Some(&w) = sel.ranking.first() else {
        return;
    };
    let mut parts: Vec<(usize, Vec<String>)> = Vec::new();
    for &i in &sel.ranking {
        let Some(caps) = filter.template_captures(&sel.candidates[i].tag) else {
            return;
        };
        let Some(digits) = caps
            .into_iter()
            .collect::<Option<Vec<String>>>()
            .filter(|d| d.iter().all(|s| is_digits(s)))
        else {
            return;
        };
        parts.push((i, digits));
    }
    let by_parts = |a: &[String], b: &[String]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| cmp_digits(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    };
    let Some((t, _)) = parts
        .iter()
        .min_by(|(_, a), (_, b)| order.directed(by_parts(a, b)).reverse())
    else {
        return;
    };
    let t = *t;
    let w_parts = &parts
        .iter()
        .find(|(i, _)| *i == w)
        .expect("impossible: w is ranked")
        .1;
    let t_parts = &parts
        .iter()
        .find(|(i, _)| *i == t)
        .expect("impossible: t is ranked")
        .1;
    if by_parts(w_parts, t_parts) == Ordering::Equal {
        return;
    }
    let template = filter.extract().unwrap_or_default();
    let dotted = match groups.as_slice() {
        [a, b] => Some(format!("${{{a}}}.${{{b}}}.0")),
        [a, b, c] => Some(format!("${{{a}}}.${{{b}}}.${{{c}}}")),
        _ => None,
    };
    let semver_fix = dotted.map_or(String::new(), |d| {
        format!(", or compare the parts in order with semver over a dotted extract (--policy 'semver:*' --extract '{d}')")
    });
    let msg = format!(
        "numerical reads {:?} as {} and {:?} as {}: the extract template {template:?} joins numbers of different widths, so the longer value wins and {:?} is selected; compared part by part, {:?} would win. Give the parts a fixed width when tagging (zero-padded counters){semver_fix}",
        sel.candidates[w].tag,
        value(sel, w),
        sel.candidates[t].tag,
        value(sel, t),
        sel.candidates[w].tag,
        sel.candidates[t].tag,
    );
    warn(sel, WarningCode::ConcatenatedNumbers, msg);
}

/// `bare-number-wins`: lenient semver (Argo CD's reading) reads a tag without dots (`917005`,
/// a short commit SHA or build number, or a floating major tag like `2`) as `N.0.0`, and it
/// outranks every dotted version.
pub(super) fn bare_number_wins(sel: &mut Selection, mode: SemverParse) {
    if mode != SemverParse::Lenient {
        return;
    }
    let Some(&w) = sel.ranking.first() else {
        return;
    };
    let wv = value(sel, w);
    if !is_digits(wv.strip_prefix('v').unwrap_or(wv)) {
        return;
    }
    let Some(&dotted) = sel.ranking.iter().find(|&&i| value(sel, i).contains('.')) else {
        return;
    };
    let msg = format!(
        "tag {:?} has no dots, so lenient semver reads it as {} and it outranks every dotted version (the greatest is {:?}); it is probably a commit SHA, a build number or a floating major tag. Keep dotted versions only (--filter '^v?[0-9]+\\.[0-9]+') or parse strictly (--semver-parse strict, as Flux)",
        sel.candidates[w].tag,
        sel.candidates[w].key.as_deref().unwrap_or(wv),
        sel.candidates[dotted].tag,
    );
    warn(sel, WarningCode::BareNumberWins, msg);
}

/// `desc-selects-oldest`: `order: desc` selects the smallest value; over date- or
/// time-stamp-like values that is the oldest build, and the policy stays on it. Fires when the
/// selected value and at least half of the ranked ones look like times.
pub(super) fn desc_selects_oldest(sel: &mut Selection, order: Order) {
    if order != Order::Desc || sel.ranking.len() < 2 {
        return;
    }
    let (Some(&oldest), Some(&newest)) = (sel.ranking.first(), sel.ranking.last()) else {
        return;
    };
    let timelike = sel
        .ranking
        .iter()
        .filter(|&&i| order::looks_like_time(value(sel, i)))
        .count();
    if !order::looks_like_time(value(sel, oldest)) || timelike * 2 < sel.ranking.len() {
        return;
    }
    let msg = format!(
        "order desc selects the smallest value, and these tags look like dates or time stamps, so it selects the oldest, {:?}, and stays there as newer tags arrive (the newest is {:?}); use order asc (the default) to follow the newest",
        sel.candidates[oldest].tag, sel.candidates[newest].tag
    );
    warn(sel, WarningCode::DescSelectsOldest, msg);
}

/// `filter-matches-nothing`: the filter pattern matched none of the tags that reached it.
pub(super) fn filter_matches_nothing(sel: &mut Selection, filter: &TagFilter) {
    let Some(pattern) = filter.pattern() else {
        return;
    };
    let mismatched: Vec<&str> = sel
        .candidates
        .iter()
        .filter(|c| matches!(c.status, Status::Dropped(DropReason::FilterMismatch { .. })))
        .map(|c| c.tag.as_str())
        .collect();
    let passed = sel.candidates.iter().any(|c| passed_filters(&c.status));
    if mismatched.is_empty() || passed {
        return;
    }
    let msg = format!(
        "filter {pattern:?} matches none of the {} tags it was tried on ({}); it is an unanchored RE2 regex tried against each whole tag: check it against these tags",
        mismatched.len(),
        quoted_list(mismatched.iter().copied())
    );
    warn(sel, WarningCode::FilterMatchesNothing, msg);
}

/// `extract-group-undefined` and `empty-extract`: the extract template names a group the
/// pattern lacks (`$1suffix` is the group `1suffix`), or a group captured nothing in some
/// tags, whose values then collapse onto one.
pub(super) fn extract_problems(sel: &mut Selection, filter: &TagFilter) {
    let Some(template) = filter.extract() else {
        return;
    };
    let undefined = filter.undefined_groups();
    for name in &undefined {
        let hint = match name.find(|c: char| !c.is_ascii_digit()) {
            Some(at) if at > 0 => format!(
                "; Go reads ${name} as one name: write ${{{}}}{} for group {} followed by {:?}",
                &name[..at],
                &name[at..],
                &name[..at],
                &name[at..]
            ),
            _ => String::new(),
        };
        let msg = format!(
            "the extract template {template:?} refers to group {name:?}, which the filter pattern does not define, so it expands to nothing{hint}"
        );
        warn(sel, WarningCode::ExtractGroupUndefined, msg);
    }
    let mut empty: Vec<(&str, &str)> = Vec::new();
    for c in &sel.candidates {
        if !passed_filters(&c.status) {
            continue;
        }
        let Some(caps) = filter.template_captures(&c.tag) else {
            continue;
        };
        let groups = filter.template_groups();
        if let Some((name, _)) = groups.iter().zip(&caps).find(|(name, cap)| {
            !undefined.contains(name) && cap.as_deref().is_none_or(str::is_empty)
        }) {
            empty.push((c.tag.as_str(), name));
        }
    }
    if empty.is_empty() {
        return;
    }
    let msg = format!(
        "the extract template {template:?} gets nothing from group {:?} in {} ({}), so those values are incomplete and equal ones collapse onto one tag; make the group required in the pattern (+ instead of *, no ? after it) or anchor the pattern",
        empty[0].1,
        if empty.len() == 1 {
            "one tag".to_owned()
        } else {
            format!("{} tags", empty.len())
        },
        quoted_list(empty.iter().map(|(t, _)| *t))
    );
    warn(sel, WarningCode::EmptyExtract, msg);
}

/// `range-matches-nothing`: versions exist but the range admits none. Names the closest
/// versions below and above the range's bounds, or the pre-releases it would admit with `-0`.
pub(super) fn range_matches_nothing(
    sel: &mut Selection,
    range: &Constraints,
    parsed: &[(usize, Version)],
) {
    if parsed.is_empty() {
        return;
    }
    let pre: Vec<usize> = parsed
        .iter()
        .map(|(i, _)| *i)
        .filter(|&i| sel.candidates[i].status == Status::Dropped(DropReason::PreRelease))
        .collect();
    let mut msg = format!(
        "semver range {:?} matches none of the {} versions found",
        range.source(),
        parsed.len()
    );
    let newest_pre = parsed
        .iter()
        .filter(|(i, _)| pre.contains(i))
        .max_by(|(_, a), (_, b)| a.compare(b));
    if let Some((newest, _)) = newest_pre {
        msg.push_str(&format!(
            "; it would match {} pre-release{} (the newest is {:?}) but admits pre-releases only when a comparator of the same AND-group has one: add -0 to the range to admit pre-releases (e.g. >=1.0.0-0)",
            pre.len(),
            if pre.len() == 1 { "" } else { "s" },
            sel.candidates[*newest].tag
        ));
    } else {
        let bounds: Vec<&Version> = range
            .groups()
            .iter()
            .flatten()
            .map(|c| c.version())
            .collect();
        let lo = bounds.iter().copied().min_by(|a, b| a.compare(b));
        let hi = bounds.iter().copied().max_by(|a, b| a.compare(b));
        let below = lo.and_then(|lo| {
            parsed
                .iter()
                .filter(|(_, v)| v.compare(lo) == Ordering::Less)
                .max_by(|(_, a), (_, b)| a.compare(b))
        });
        let above = hi.and_then(|hi| {
            parsed
                .iter()
                .filter(|(_, v)| v.compare(hi) != Ordering::Less)
                .min_by(|(_, a), (_, b)| a.compare(b))
        });
        let mut closest = Vec::new();
        if let Some((i, v)) = below {
            closest.push(format!("{:?} ({v}, below it)", sel.candidates[*i].tag));
        }
        if let Some((i, v)) = above {
            closest.push(format!("{:?} ({v}, above it)", sel.candidates[*i].tag));
        }
        if closest.is_empty()
            && let Some((i, v)) = parsed.iter().max_by(|(_, a), (_, b)| a.compare(b))
        {
            closest.push(format!("{:?} ({v})", sel.candidates[*i].tag));
        }
        msg.push_str(&format!(
            "; the closest {} {}: widen the range or check it is the one you meant",
            if closest.len() == 1 { "is" } else { "are" },
            closest.join(" and ")
        ));
    }
    warn(sel, WarningCode::RangeMatchesNothing, msg);
}

/// `no-versions`: no tag that passed the filters reads as a version at all.
pub(super) fn no_versions(sel: &mut Selection, survivors: &[usize], mode: SemverParse) {
    if survivors.is_empty() {
        return;
    }
    let short: Vec<&str> = survivors
        .iter()
        .filter(|&&i| mode == SemverParse::Strict && Version::parse(value(sel, i)).is_ok())
        .map(|&i| sel.candidates[i].tag.as_str())
        .collect();
    let msg = if short.is_empty() {
        format!(
            "none of the {} tags that passed the filters reads as a version ({}); the semver policy cannot order them: use alphabetical, numerical with --extract, newest-build or digest:TAG",
            survivors.len(),
            quoted_list(survivors.iter().map(|&i| sel.candidates[i].tag.as_str()))
        )
    } else {
        format!(
            "none of the {} tags that passed the filters is a full MAJOR.MINOR.PATCH version, which strict parsing (Flux's) requires; {} would read as versions with --semver-parse lenient (Argo CD's reading)",
            survivors.len(),
            quoted_list(short.iter().copied())
        )
    };
    warn(sel, WarningCode::NoVersions, msg);
}

/// Returns true if and only if a tag with this status passed the exclusions and the pattern.
fn passed_filters(status: &Status) -> bool {
    !matches!(
        status,
        Status::Dropped(
            DropReason::Excluded { .. }
                | DropReason::FilterMismatch { .. }
                | DropReason::OtherTrack { .. }
        )
    )
}

/// Escapes regex metacharacters for a suggestion people read (`-` and `_` stay as they are:
/// outside a class they mean themselves).
fn escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
