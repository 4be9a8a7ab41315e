//! Action inputs: translates the `INPUT_*` variables a composite action
//! passes (uppercased names, spaces as `_`, hyphens kept) into the same
//! command line a person would type. Pure: it takes the environment as a map.
//!
//! Rules, as @actions/core reads inputs: values are trimmed, an empty value
//! is unset, booleans are `true|True|TRUE|false|False|FALSE`, lists are split
//! on newlines or commas.

use std::collections::BTreeMap;

/// An invalid input: which one, and what is wrong (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("input {input}: {message}")]
pub struct InputError {
    /// The input's name as in action.yml.
    pub input: String,
    /// What is wrong.
    pub message: String,
}

/// Every input action.yml declares, in its order; anything else named
/// `INPUT_*` is a mistake worth reporting (a typo in `with:`).
pub const INPUTS: &[&str] = &[
    "command",
    "images",
    "files",
    "repository",
    "branch",
    "token",
    "dry-run",
    "platforms",
    "policy",
    "allow-downgrade",
    "allow-absent",
    "allow-revert",
    "message",
    "pull-request",
    "writer-id",
    "skip-ci",
    "insecure-registries",
    "working-directory",
    "config",
    "apply",
    "fail-on",
    "default-policy",
    "extra-args",
];

/// Commands the action can run.
const COMMANDS: &[&str] = &["set", "explain", "sync"];

/// The trimmed value of input `name`, or `None` when unset or empty
/// (@actions/core `getInput`: `INPUT_` + name uppercased, spaces as `_`).
pub fn read(env: &BTreeMap<String, String>, name: &str) -> Option<String> {
    let key = format!("INPUT_{}", name.replace(' ', "_").to_uppercase());
    env.get(&key).and_then(|v| normalized(v))
}

/// The one rule for values read from the environment, inputs or not:
/// trimmed, and an empty value counts as unset (@actions/core `getInput`;
/// a workflow's `env:` with an unset secret expands to `""`).
pub fn normalized(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A boolean input (@actions/core `getBooleanInput`: YAML 1.2 core
/// booleans only); unset is `false`.
pub fn boolean(env: &BTreeMap<String, String>, name: &str) -> Result<bool, InputError> {
    match read(env, name).as_deref() {
        None => Ok(false),
        Some("true" | "True" | "TRUE") => Ok(true),
        Some("false" | "False" | "FALSE") => Ok(false),
        Some(other) => Err(InputError {
            input: name.to_owned(),
            message: format!("{other:?} is not a boolean (use true or false)"),
        }),
    }
}

/// Reads inputs from `env` and builds the argument list (without the program name).
pub fn translate(env: &BTreeMap<String, String>) -> Result<Vec<String>, InputError> {
    let get = |name: &str| read(env, name);
    let err = |input: &str, message: String| InputError {
        input: input.to_owned(),
        message,
    };
    let flag = |name: &str| boolean(env, name);
    let list =
        |name: &str| -> Vec<String> { get(name).map(|v| split_list(&v)).unwrap_or_default() };

    let command = get("command").unwrap_or_else(|| "set".to_owned());
    if !COMMANDS.contains(&command.as_str()) {
        return Err(err(
            "command",
            format!("{command:?} is not one of {}", COMMANDS.join(", ")),
        ));
    }
    // An input the command does not read is a mistake worth stopping for:
    // ignoring `apply: true` on `set` would report success for nothing.
    let only = |input: &str, commands: &[&str], given: bool| -> Result<(), InputError> {
        if given && !commands.contains(&command.as_str()) {
            return Err(err(
                input,
                format!(
                    "is not read by {command} (only by {})",
                    commands.join(" and ")
                ),
            ));
        }
        Ok(())
    };
    only("images", &["set", "explain"], get("images").is_some())?;
    only("policy", &["set", "explain"], get("policy").is_some())?;
    only("config", &["sync"], get("config").is_some())?;
    // explain reads no manifests and writes nothing.
    for input in [
        "files",
        "repository",
        "branch",
        "working-directory",
        "message",
        "writer-id",
    ] {
        only(input, &["set", "sync"], get(input).is_some())?;
    }
    for input in ["allow-downgrade", "skip-ci"] {
        only(input, &["set", "sync"], flag(input)?)?;
    }
    only("apply", &["sync"], flag("apply")?)?;
    only("default-policy", &["sync"], get("default-policy").is_some())?;
    let fail_on = get("fail-on");
    only(
        "fail-on",
        &["sync"],
        fail_on.as_deref().is_some_and(|f| f != "error"),
    )?;
    only("allow-absent", &["set"], flag("allow-absent")?)?;
    only("allow-revert", &["set", "sync"], flag("allow-revert")?)?;
    only("pull-request", &["set", "sync"], flag("pull-request")?)?;
    only("dry-run", &["set", "sync"], flag("dry-run")?)?;

    let mut args = vec![command.clone()];
    let images = list("images");
    if images.is_empty() && command != "sync" {
        return Err(err(
            "images",
            "is required: one or more IMAGE_REFs, one per line or comma-separated".into(),
        ));
    }
    if command == "explain" && images.len() != 1 {
        return Err(err(
            "images",
            format!("explain takes exactly one image, got {}", images.len()),
        ));
    }
    for pattern in list("files") {
        args.push(valued("--files", &pattern));
    }
    if command == "set" || command == "sync" {
        match get("working-directory") {
            Some(dir) => args.push(valued("--dir", &dir)),
            None => {
                let repo = get("repository").ok_or_else(|| {
                    err(
                        "repository",
                        "is required when working-directory is not set".into(),
                    )
                })?;
                if repo.split('/').count() != 2 || repo.split('/').any(str::is_empty) {
                    return Err(err("repository", format!("{repo:?} is not OWNER/NAME")));
                }
                args.push(valued("--repo", &repo));
                if let Some(branch) = get("branch") {
                    args.push(valued("--branch", &branch));
                }
                if flag("pull-request")? {
                    args.push("--pull-request".into());
                }
                if flag("skip-ci")? {
                    args.push("--skip-ci".into());
                }
            }
        }
        if command == "sync" {
            if let Some(config) = get("config") {
                args.push(valued("--config", &config));
            }
            if flag("apply")? {
                args.push("--apply".into());
            }
            if let Some(level) = fail_on {
                args.push(valued("--fail-on", &level));
            }
            if let Some(policy) = get("default-policy") {
                args.push(valued("--default-policy", &policy));
            }
        }
        if flag("dry-run")? {
            args.push("--dry-run".into());
        }
        if flag("allow-downgrade")? {
            args.push("--allow-downgrade".into());
        }
        if flag("allow-absent")? {
            args.push("--allow-absent".into());
        }
        if flag("allow-revert")? {
            args.push("--allow-revert".into());
        }
        if let Some(message) = get("message") {
            args.push(valued("--message", &message));
        }
        if let Some(writer) = get("writer-id") {
            args.push(valued("--writer-id", &writer));
        }
    }
    // Every command checks platforms: set verifies the new tag, explain
    // and sync try ranked tags until one provides them.
    for platform in list("platforms") {
        args.push(valued("--platform", &platform));
    }
    if let Some(policy) = get("policy") {
        args.push(valued("--policy", &policy));
    }
    for host in list("insecure-registries") {
        args.push(valued("--insecure-registry", &host));
    }
    if let Some(extra) = get("extra-args") {
        args.extend(split_words(&extra).map_err(|m| err("extra-args", m))?);
    }
    if command != "sync" {
        args.push("--".into());
        args.extend(images);
    }
    Ok(args)
}

/// One `--flag=value` word: clap reads a separate word that starts with
/// `-` as a flag, so a value like `-- hotfix` would not reach its flag
/// (or, worse, could act as one). Joined, any value stays a value.
fn valued(flag: &str, value: &str) -> String {
    format!("{flag}={value}")
}

/// Names of `INPUT_*` variables that match no declared input.
pub fn unknown(env: &BTreeMap<String, String>) -> Vec<String> {
    let known: Vec<String> = INPUTS
        .iter()
        .map(|i| format!("INPUT_{}", i.replace(' ', "_").to_uppercase()))
        .collect();
    env.keys()
        .filter(|k| k.starts_with("INPUT_") && !known.contains(k))
        .cloned()
        .collect()
}

/// Splits a list input on newlines or commas, trimming and dropping empties.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(['\n', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Splits `extra-args` into words: whitespace separates, single and double
/// quotes group. No shell is involved, so nothing is expanded or executed.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let (mut words, mut cur, mut quote, mut in_word) =
        (Vec::new(), String::new(), None::<char>, false);
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unclosed {q} quote"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn set_with_a_directory() {
        let e = env(&[
            ("INPUT_IMAGES", " ghcr.io/a/b:v1,\n ghcr.io/a/c:v2 \n"),
            ("INPUT_WORKING-DIRECTORY", "gitops"),
            ("INPUT_DRY-RUN", "True"),
            ("INPUT_FILES", "a/*.yaml\nb/*.yaml"),
        ]);
        assert_eq!(
            translate(&e).expect("valid").join(" "),
            "set --files=a/*.yaml --files=b/*.yaml --dir=gitops --dry-run -- ghcr.io/a/b:v1 ghcr.io/a/c:v2"
        );
    }

    #[test]
    fn set_on_a_repository_with_flags() {
        let e = env(&[
            ("INPUT_IMAGES", "x:1"),
            ("INPUT_REPOSITORY", "acme/gitops"),
            ("INPUT_BRANCH", "main"),
            ("INPUT_PULL-REQUEST", "TRUE"),
            ("INPUT_SKIP-CI", "false"),
            ("INPUT_PLATFORMS", "linux/amd64,linux/arm64"),
            ("INPUT_EXTRA-ARGS", "--writer-id 'ci dev' --no-verify"),
        ]);
        assert_eq!(
            translate(&e).expect("valid"),
            [
                "set",
                "--repo=acme/gitops",
                "--branch=main",
                "--pull-request",
                "--platform=linux/amd64",
                "--platform=linux/arm64",
                "--writer-id",
                "ci dev",
                "--no-verify",
                "--",
                "x:1"
            ]
        );
    }

    #[test]
    fn empty_values_are_unset_and_bad_values_name_the_input() {
        let e = env(&[
            ("INPUT_IMAGES", "x:1"),
            ("INPUT_WORKING-DIRECTORY", "d"),
            ("INPUT_DRY-RUN", "  "),
        ]);
        assert!(
            !translate(&e)
                .expect("valid")
                .contains(&"--dry-run".to_owned())
        );
        let e = env(&[
            ("INPUT_IMAGES", "x:1"),
            ("INPUT_WORKING-DIRECTORY", "d"),
            ("INPUT_DRY-RUN", "yes"),
        ]);
        assert_eq!(
            translate(&e).expect_err("bad").to_string(),
            "input dry-run: \"yes\" is not a boolean (use true or false)"
        );
        assert_eq!(translate(&env(&[])).expect_err("missing").input, "images");
        let e = env(&[("INPUT_IMAGES", "x:1"), ("INPUT_REPOSITORY", "nope")]);
        assert_eq!(translate(&e).expect_err("bad").input, "repository");
        let e = env(&[("INPUT_IMAGES", "x:1"), ("INPUT_COMMAND", "deploy")]);
        assert_eq!(translate(&e).expect_err("bad").input, "command");
    }

    #[test]
    fn sync_reads_its_inputs_and_no_images() {
        let e = env(&[
            ("INPUT_COMMAND", "sync"),
            ("INPUT_REPOSITORY", "acme/gitops"),
            ("INPUT_CONFIG", "deploy/.gitops-bump.yaml"),
            ("INPUT_APPLY", "true"),
            ("INPUT_DRY-RUN", "true"),
            ("INPUT_FAIL-ON", "warning"),
            ("INPUT_DEFAULT-POLICY", "none"),
            ("INPUT_PLATFORMS", "linux/arm64"),
        ]);
        assert_eq!(
            translate(&e).expect("valid").join(" "),
            "sync --repo=acme/gitops --config=deploy/.gitops-bump.yaml --apply --fail-on=warning \
             --default-policy=none --dry-run --platform=linux/arm64"
        );
        // The action's default `fail-on: error` reaches every command unasked.
        let e = env(&[
            ("INPUT_IMAGES", "x:1"),
            ("INPUT_WORKING-DIRECTORY", "d"),
            ("INPUT_FAIL-ON", "error"),
        ]);
        assert_eq!(
            translate(&e).expect("valid").join(" "),
            "set --dir=d -- x:1"
        );
    }

    #[test]
    fn an_input_the_command_does_not_read_names_itself() {
        for (command, input, value, message) in [
            (
                "sync",
                "INPUT_IMAGES",
                "x:1",
                "input images: is not read by sync (only by set and explain)",
            ),
            (
                "sync",
                "INPUT_POLICY",
                "numerical",
                "input policy: is not read by sync (only by set and explain)",
            ),
            (
                "set",
                "INPUT_APPLY",
                "true",
                "input apply: is not read by set (only by sync)",
            ),
            (
                "set",
                "INPUT_CONFIG",
                "c.yaml",
                "input config: is not read by set (only by sync)",
            ),
            (
                "explain",
                "INPUT_DEFAULT-POLICY",
                "none",
                "input default-policy: is not read by explain (only by sync)",
            ),
            (
                "set",
                "INPUT_FAIL-ON",
                "never",
                "input fail-on: is not read by set (only by sync)",
            ),
            (
                "sync",
                "INPUT_ALLOW-ABSENT",
                "true",
                "input allow-absent: is not read by sync (only by set)",
            ),
            (
                "explain",
                "INPUT_DRY-RUN",
                "true",
                "input dry-run: is not read by explain (only by set and sync)",
            ),
        ] {
            let mut e = env(&[("INPUT_COMMAND", command), (input, value)]);
            if command != "explain" {
                e.insert("INPUT_WORKING-DIRECTORY".into(), "d".into());
            }
            if command != "sync" && input != "INPUT_IMAGES" {
                e.insert("INPUT_IMAGES".into(), "x:1".into());
            }
            assert_eq!(translate(&e).expect_err(input).to_string(), message);
        }
    }

    #[test]
    fn explain_takes_platforms_too() {
        let e = env(&[
            ("INPUT_COMMAND", "explain"),
            ("INPUT_IMAGES", "ghcr.io/a/b"),
            ("INPUT_PLATFORMS", "linux/arm64"),
            ("INPUT_POLICY", "semver:^1"),
        ]);
        assert_eq!(
            translate(&e).expect("valid").join(" "),
            "explain --platform=linux/arm64 --policy=semver:^1 -- ghcr.io/a/b"
        );
    }

    #[test]
    fn images_can_never_become_flags() {
        // `--` ends options, so an image input of `--commit` is an IMAGE_REF (and rejected as one).
        let e = env(&[
            ("INPUT_IMAGES", "--commit"),
            ("INPUT_WORKING-DIRECTORY", "d"),
        ]);
        assert_eq!(
            translate(&e)
                .expect("translates")
                .last()
                .map(String::as_str),
            Some("--commit")
        );
        assert_eq!(
            translate(&e)
                .expect("translates")
                .iter()
                .rev()
                .nth(1)
                .map(String::as_str),
            Some("--")
        );
    }

    #[test]
    fn words_and_unknown_inputs() {
        assert_eq!(
            split_words(r#"a "b c" 'd "e"'"#),
            Ok(vec!["a".to_owned(), "b c".to_owned(), "d \"e\"".to_owned()])
        );
        assert!(split_words("'open").is_err());
        assert_eq!(
            unknown(&env(&[("INPUT_IMAGE", "x"), ("INPUT_IMAGES", "y")])),
            vec!["INPUT_IMAGE".to_owned()]
        );
    }

    #[test]
    fn allow_downgrade_and_policy_reach_set() {
        let e = env(&[
            ("INPUT_IMAGES", "x:1"),
            ("INPUT_WORKING-DIRECTORY", "d"),
            ("INPUT_ALLOW-DOWNGRADE", "true"),
            ("INPUT_POLICY", "numerical"),
        ]);
        assert_eq!(
            translate(&e).expect("valid").join(" "),
            "set --dir=d --allow-downgrade --policy=numerical -- x:1"
        );
    }

    // See: issue #12 §3 (an opt-out for repositories where the image may be absent).
    #[test]
    fn issue_12_allow_absent_reaches_set() {
        let e = env(&[
            ("INPUT_IMAGES", "x:1"),
            ("INPUT_WORKING-DIRECTORY", "d"),
            ("INPUT_ALLOW-ABSENT", "true"),
        ]);
        assert_eq!(
            translate(&e).expect("valid").join(" "),
            "set --dir=d --allow-absent -- x:1"
        );
        let e = env(&[("INPUT_IMAGES", "x:1"), ("INPUT_ALLOW-ABSENT", "maybe")]);
        assert!(translate(&e).is_err());
    }

    #[test]
    fn allow_revert_and_writer_id_reach_set() {
        let e = env(&[
            ("INPUT_IMAGES", "x:1"),
            ("INPUT_WORKING-DIRECTORY", "d"),
            ("INPUT_ALLOW-REVERT", "True"),
            ("INPUT_WRITER-ID", "arm64 cluster"),
        ]);
        assert_eq!(
            translate(&e).expect("valid"),
            [
                "set",
                "--dir=d",
                "--allow-revert",
                "--writer-id=arm64 cluster",
                "--",
                "x:1"
            ]
        );
        let bad = env(&[
            ("INPUT_IMAGES", "x:1"),
            ("INPUT_WORKING-DIRECTORY", "d"),
            ("INPUT_ALLOW-REVERT", "yes"),
        ]);
        assert_eq!(
            translate(&bad).expect_err("not a boolean").input,
            "allow-revert"
        );
    }
}
