//! `explain`: which tag a policy selects from a tag list, and why. The
//! spine's resolve step on its own: inputs → tags → policy → report.

use std::io::Read;

use anyhow::Result;

use crate::cli::{ExplainArgs, SemverParseArg};
use crate::policy::{self, Policy, SemverParse, TagFilter};
use crate::settings::UsageError;

/// The outcome of `explain`.
#[derive(Debug)]
pub struct Explained {
    /// The image as given.
    pub image: String,
    /// The explained selection.
    pub selection: policy::Selection,
}

/// Builds the policy and filter from arguments (no I/O), naming what is wrong.
pub fn compile(args: &ExplainArgs) -> Result<(Policy, TagFilter), UsageError> {
    let mode = match args.semver_parse {
        SemverParseArg::Strict => SemverParse::Strict,
        SemverParseArg::Lenient => SemverParse::Lenient,
    };
    let policy = Policy::parse(&args.policy)
        .map_err(|e| UsageError(format!("--policy: {e}")))?
        .with_semver_parse(mode);
    let mut filter = TagFilter::new(args.filter.as_deref(), args.extract.as_deref())
        .map_err(|e| UsageError(format!("--filter: {e}")))?;
    for pattern in &args.exclude {
        filter = filter
            .exclude_regex(pattern)
            .map_err(|e| UsageError(format!("--exclude: {e}")))?;
    }
    Ok((policy, filter))
}

/// Runs `explain` on the tags from `--tags-from`.
pub fn run(args: &ExplainArgs) -> Result<Explained> {
    let (policy, filter) = compile(args)?;
    let Some(source) = &args.tags_from else {
        return Err(UsageError("explain: --tags-from FILE (or - for stdin) is required: registry access is not available in this build".into()).into());
    };
    if matches!(policy, Policy::NewestBuild) {
        return Err(UsageError("--policy newest-build orders by image build time, which only the registry knows; it cannot work with --tags-from".into()).into());
    }
    let text = if source.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| UsageError(format!("--tags-from -: {e}")))?;
        s
    } else {
        std::fs::read_to_string(source)
            .map_err(|e| UsageError(format!("--tags-from {}: {e}", source.display())))?
    };
    let tags = parse_tag_list(&text).map_err(|(line, tag)| {
        UsageError(format!(
            "--tags-from {}: line {line}: {tag:?} is not a valid tag",
            source.display()
        ))
    })?;
    // Flux's scan order makes the result independent of how tags were listed.
    let selection = policy::select(&policy, &filter, &policy::flux_scan_order(&tags), None);
    Ok(Explained {
        image: args.image.clone(),
        selection,
    })
}

/// One tag per line; blank lines and `#` comments are skipped. Returns the
/// 1-based line and text of the first invalid tag.
pub fn parse_tag_list(text: &str) -> Result<Vec<String>, (usize, String)> {
    let mut tags = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let tag = line.trim();
        if tag.is_empty() || tag.starts_with('#') {
            continue;
        }
        if !crate::reference::is_valid_tag(tag) {
            return Err((i + 1, tag.to_owned()));
        }
        tags.push(tag.to_owned());
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_lists_skip_blanks_and_comments_and_name_bad_lines() {
        assert_eq!(
            parse_tag_list("v1\n\n# old\n v2 \r\n"),
            Ok(vec!["v1".to_owned(), "v2".to_owned()])
        );
        assert_eq!(
            parse_tag_list("v1\nbad tag\n"),
            Err((2, "bad tag".to_owned()))
        );
    }
}
