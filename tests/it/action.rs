//! Runs `action.yml`'s composite steps the way the GitHub runner does: inputs
//! with defaults, `${{ }}` expressions, `env:` per step, `bash -e` scripts,
//! a fresh `$GITHUB_OUTPUT` per step parsed with the runner's rules,
//! `$GITHUB_STEP_SUMMARY`, and `GITHUB_ACTION_PATH` pointing at a copy of
//! the action whose `dist/` holds this build's binary and its checksum.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{copy_dir, example};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The target name `scripts/action-binary` picks on this machine.
fn target() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "aarch64-unknown-linux-musl",
        _ => "x86_64-unknown-linux-musl",
    }
}

struct ActionRun {
    code: i32,
    stdout: String,
    stderr: String,
    outputs: BTreeMap<String, String>,
    summary: String,
    /// The file the `report` output names, read before the runner's
    /// temporary directory goes.
    report: Option<String>,
}

/// A copy of the action with `dist/` filled; `tamper` corrupts the binary after checksumming.
fn action_dir(tamper: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        Path::new(ROOT).join("action.yml"),
        dir.path().join("action.yml"),
    )
    .expect("copy");
    copy_dir(
        &Path::new(ROOT).join("scripts"),
        &dir.path().join("scripts"),
    );
    let bin_dir = dir.path().join("dist").join(target());
    std::fs::create_dir_all(&bin_dir).expect("mkdir");
    let bin = bin_dir.join("gitops-bump");
    std::fs::copy(env!("CARGO_BIN_EXE_gitops-bump"), &bin).expect("copy binary");
    let sum = Command::new("sha256sum")
        .arg(&bin)
        .output()
        .expect("sha256sum");
    let hash = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .expect("hash")
        .to_owned();
    std::fs::write(
        dir.path().join("dist/SHA256SUMS"),
        format!("{hash}  {}/gitops-bump\n", target()),
    )
    .expect("sums");
    if tamper {
        let mut bytes = std::fs::read(&bin).expect("read");
        bytes.push(0);
        std::fs::write(&bin, bytes).expect("write");
    }
    dir
}

/// Replaces `${{ inputs.x }}`, `${{ github.x }}` and `${{ steps.id.outputs.x }}`.
fn eval(
    text: &str,
    inputs: &BTreeMap<String, String>,
    github: &BTreeMap<&str, String>,
    steps: &BTreeMap<String, BTreeMap<String, String>>,
) -> String {
    let re = regex::Regex::new(r"\$\{\{\s*([^}]*?)\s*\}\}").expect("regex");
    re.replace_all(text, |c: &regex::Captures<'_>| {
        let expr = &c[1];
        let parts: Vec<&str> = expr.split('.').collect();
        match parts.as_slice() {
            ["inputs", name] => inputs.get(*name).cloned().unwrap_or_default(),
            ["github", name] => github
                .get(name)
                .cloned()
                .unwrap_or_else(|| panic!("unknown github context {expr}")),
            ["steps", id, "outputs", name] => steps
                .get(*id)
                .and_then(|o| o.get(*name))
                .cloned()
                .unwrap_or_default(),
            _ => panic!("expression the harness does not know: {expr}"),
        }
    })
    .into_owned()
}

/// The runner's `$GITHUB_OUTPUT` parser: `NAME=VALUE` or `NAME<<DELIM` heredocs.
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let heredoc = line
            .find("<<")
            .filter(|&i| line.find('=').is_none_or(|e| e > i));
        if let Some(i) = heredoc {
            let (name, delim) = (&line[..i], &line[i + 2..]);
            let mut value = Vec::new();
            let mut closed = false;
            for l in lines.by_ref() {
                if l == delim {
                    closed = true;
                    break;
                }
                value.push(l);
            }
            assert!(closed, "Matching delimiter not found '{delim}'");
            out.insert(name.to_owned(), value.join("\n"));
        } else if let Some((k, v)) = line.split_once('=') {
            out.insert(k.to_owned(), v.to_owned());
        }
    }
    out
}

fn run_action(given: &[(&str, &str)], workspace: &Path, action: &Path) -> ActionRun {
    run_action_with(given, workspace, action, &[])
}

/// [`run_action`] with more environment for every step (the runner's own,
/// such as `DOCKER_CONFIG` set by a login action).
fn run_action_with(
    given: &[(&str, &str)],
    workspace: &Path,
    action: &Path,
    env: &[(&str, &str)],
) -> ActionRun {
    let spec: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(action.join("action.yml")).expect("read"))
            .expect("action.yml parses");
    let github: BTreeMap<&str, String> = [
        ("repository", "acme/gitops".to_owned()),
        ("token", "ghs_harnesstoken123".to_owned()),
        ("action_path", action.display().to_string()),
    ]
    .into_iter()
    .collect();
    let no_steps = BTreeMap::new();
    let mut inputs = BTreeMap::new();
    for (name, decl) in spec["inputs"].as_object().expect("inputs") {
        let default = decl["default"].as_str().unwrap_or_default();
        inputs.insert(
            name.clone(),
            eval(default, &BTreeMap::new(), &github, &no_steps),
        );
    }
    for (k, v) in given {
        assert!(inputs.contains_key(*k), "undeclared input {k}");
        inputs.insert((*k).to_owned(), (*v).to_owned());
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let summary = tmp.path().join("summary.md");
    std::fs::write(&summary, "").expect("summary");
    let mut steps: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let (mut stdout, mut stderr, mut code) = (String::new(), String::new(), 0);
    for (i, step) in spec["runs"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .enumerate()
    {
        assert_eq!(step["shell"], "bash", "every step uses bash");
        let id = step["id"]
            .as_str()
            .map_or_else(|| format!("step{i}"), str::to_owned);
        let script = tmp.path().join(format!("{id}.sh"));
        std::fs::write(&script, step["run"].as_str().expect("run")).expect("script");
        let output_file = tmp.path().join(format!("{id}.out"));
        std::fs::write(&output_file, "").expect("output file");
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-e", "-o", "pipefail"])
            .arg(&script)
            .current_dir(workspace);
        for (k, _) in std::env::vars() {
            if k == "CI"
                || ["GITHUB_", "INPUT_", "RUNNER_", "ACTIONS_"]
                    .iter()
                    .any(|p| k.starts_with(p))
            {
                cmd.env_remove(k);
            }
        }
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", action)
            .env("GITHUB_WORKSPACE", workspace)
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("RUNNER_TEMP", tmp.path())
            .envs(env.iter().copied());
        for (k, v) in step["env"].as_object().into_iter().flatten() {
            cmd.env(
                k,
                eval(v.as_str().unwrap_or_default(), &inputs, &github, &steps),
            );
        }
        let out = cmd.output().expect("bash runs");
        stdout.push_str(&String::from_utf8_lossy(&out.stdout));
        stderr.push_str(&String::from_utf8_lossy(&out.stderr));
        steps.insert(
            id,
            parse_outputs(&std::fs::read_to_string(&output_file).expect("outputs")),
        );
        code = out.status.code().unwrap_or(-1);
        if code != 0 {
            break;
        }
    }
    let outputs = spec["outputs"]
        .as_object()
        .expect("outputs")
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                eval(
                    v["value"].as_str().unwrap_or_default(),
                    &inputs,
                    &github,
                    &steps,
                ),
            )
        })
        .collect::<BTreeMap<String, String>>();
    let report = outputs
        .get("report")
        .filter(|p| !p.is_empty())
        .map(|p| std::fs::read_to_string(p).expect("the report output names a file"));
    ActionRun {
        code,
        stdout,
        stderr,
        outputs,
        summary: std::fs::read_to_string(&summary).expect("summary"),
        report,
    }
}

/// Every line that starts a workflow command must be one gitops-bump emits on purpose.
fn assert_only_known_commands(stdout: &str) {
    for line in stdout.lines().filter(|l| l.starts_with("::")) {
        let name = line[2..].split([' ', ':']).next().unwrap_or_default();
        assert!(
            [
                "add-mask", "error", "warning", "notice", "group", "endgroup", "debug"
            ]
            .contains(&name),
            "unexpected command line {line:?}"
        );
    }
}

#[test]
fn dry_run_on_the_example_sets_outputs_summary_and_annotations() {
    let ws = example();
    let action = action_dir(false);
    let r = run_action(
        &[
            ("images", "ghcr.io/acme/backend:v1.4.0"),
            ("working-directory", "."),
            ("extra-args", "--no-verify"),
            ("dry-run", "true"),
        ],
        ws.path(),
        action.path(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("using prebuilt dist/{}/gitops-bump", target())),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.starts_with("using prebuilt")
            && r.stdout
                .lines()
                .nth(1)
                .is_some_and(|l| l == "::add-mask::ghs_harnesstoken123")
            && r.stdout.matches("::add-mask::").count() == 1,
        "mask first: {}",
        r.stdout
    );
    assert_eq!(r.outputs["changed"], "true");
    assert_eq!(r.outputs["commit-sha"], "");
    assert_eq!(
        r.outputs["summary"],
        "dry run: 5 value(s) in 4 file(s) would change"
    );
    // A dry run writes nothing: its values are `planned` (issue #12 §4).
    assert_eq!(r.outputs["updates"], "[]");
    let planned: Value = serde_json::from_str(&r.outputs["planned"]).expect("planned is JSON");
    assert_eq!(planned.as_array().map(Vec::len), Some(5));
    assert!(r.summary.contains("| `ghcr.io/acme/backend` | `overlays/dev/kustomization.yaml:8` | `v1.3.0` → `v1.4.0` | dry run |"), "{}", r.summary);
    assert!(
        r.summary.contains("<details><summary>Diff</summary>"),
        "{}",
        r.summary
    );
    assert!(r.stdout.contains("::notice title=gitops-bump%3A image,file=overlays/dev/kustomization.yaml,line=8,col=13::would update"), "{}", r.stdout);
    assert_only_known_commands(&r.stdout);
    assert_eq!(
        crate::common::snapshot(ws.path()),
        crate::common::snapshot(example().path()),
        "dry run writes nothing"
    );
}

#[test]
fn writes_when_not_a_dry_run() {
    let ws = example();
    let action = action_dir(false);
    let r = run_action(
        &[
            (
                "images",
                "ghcr.io/acme/backend:v1.4.0, ghcr.io/acme/worker:2.10",
            ),
            ("working-directory", "."),
            ("extra-args", "--no-verify"),
        ],
        ws.path(),
        action.path(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.outputs["changed"], "true");
    let values =
        std::fs::read_to_string(ws.path().join("charts/backend/values.yaml")).expect("read");
    assert!(
        values.contains("tag: \"v1.4.0\"") && values.contains("tag: \"2.10\""),
        "{values}"
    );
}

#[test]
fn hostile_inputs_cannot_start_workflow_commands() {
    let ws = example();
    let action = action_dir(false);
    let hostile = "ghcr.io/acme/backend:v1.4.0\nbad%0A::error::pwned,x:y::z";
    let r = run_action(
        &[
            ("images", hostile),
            ("working-directory", "."),
            ("extra-args", "--no-verify"),
            ("message", "100% done\n::warning::fake"),
            ("dry-run", "true"),
        ],
        ws.path(),
        action.path(),
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert_only_known_commands(&r.stdout);
    assert!(
        !r.stdout
            .lines()
            .any(|l| l.starts_with("::error::pwned") || l.starts_with("::warning::fake")),
        "{}",
        r.stdout
    );
    let error = r
        .stdout
        .lines()
        .find(|l| l.starts_with("::error "))
        .expect("an error annotation");
    assert!(
        error.starts_with("::error title=gitops-bump::IMAGE_REF \"bad%250A::error::pwned\""),
        "{error}"
    );
}

#[test]
fn invalid_inputs_name_the_input_and_exit_2() {
    let ws = example();
    let action = action_dir(false);
    let r = run_action(
        &[
            ("images", "ghcr.io/acme/backend:v1.4.0"),
            ("working-directory", "."),
            ("extra-args", "--no-verify"),
            ("dry-run", "maybe"),
        ],
        ws.path(),
        action.path(),
    );
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("::error title=gitops-bump::input dry-run: \"maybe\" is not a boolean (use true or false)"), "{}", r.stdout);
    let r = run_action(
        &[
            ("images", "ghcr.io/acme/backend:v1.4.0"),
            ("working-directory", "."),
            ("extra-args", "--no-verify"),
            ("command", "deploy"),
        ],
        ws.path(),
        action.path(),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stdout
            .contains("::error title=gitops-bump::input command:"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_tampered_binary_fails_before_it_runs() {
    let ws = example();
    let action = action_dir(true);
    let r = run_action(
        &[
            ("images", "ghcr.io/acme/backend:v1.4.0"),
            ("working-directory", "."),
            ("extra-args", "--no-verify"),
        ],
        ws.path(),
        action.path(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("::error title=gitops-bump::checksum mismatch for dist/"),
        "{}",
        r.stdout
    );
    assert!(r.outputs["changed"].is_empty(), "the run step never ran");
    assert_eq!(
        crate::common::snapshot(ws.path()),
        crate::common::snapshot(example().path())
    );
}

/// `command: sync` on a checkout: drift is counted, annotated at
/// file:line, tabled in the job summary and written as the JSON report;
/// `apply` with `dry-run` shows the diff and writes nothing; `apply` fixes
/// it. See: issue #9 ("The GitHub Action and the example workflow").
#[test]
fn issue_9_sync_through_the_action() {
    use crate::registry_support::{Registry, block_on, empty_docker_config, write};
    let reg = Registry::start();
    let host = reg.host();
    let pusher = reg.pusher();
    block_on(async {
        for tag in ["v1.0.0", "v1.1.0"] {
            pusher
                .index("acme/app", tag, &["linux/amd64"], "2024-01-01T00:00:00Z")
                .await;
        }
    });
    let ws = tempfile::tempdir().expect("tempdir");
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: c\n    image: {host}/acme/app:v1.0.0\n"
    );
    write(ws.path(), "apps/app.yaml", &manifest);
    write(
        ws.path(),
        ".gitops-bump.yaml",
        &format!("images:\n  - name: {host}/acme/app\n    policy: semver:^1\n"),
    );
    let action = action_dir(false);
    let docker = empty_docker_config();
    let env = [("DOCKER_CONFIG", docker.path().to_str().expect("utf-8"))];
    let insecure = host.as_str();
    let check = [
        ("command", "sync"),
        ("working-directory", "."),
        ("insecure-registries", insecure),
    ];

    let r = run_action_with(&check, ws.path(), action.path(), &env);
    assert_eq!(
        r.code, 1,
        "a configured image behind is an error: {}",
        r.stderr
    );
    assert_only_known_commands(&r.stdout);
    assert_eq!(r.outputs["drift"], "1");
    assert_eq!(r.outputs["changed"], "false");
    assert_eq!(r.outputs["commit"], "");
    assert!(
        r.stdout
            .contains("::error title=gitops-bump%3A drift,file=apps/app.yaml,line=6,"),
        "{}",
        r.stdout
    );
    assert!(r.summary.contains("### gitops-bump sync:"), "{}", r.summary);
    assert!(r.summary.contains("| behind |"), "{}", r.summary);
    let doc: Value = serde_json::from_str(r.report.as_deref().expect("report")).expect("json");
    assert_eq!(doc["references"][0]["verdict"], "behind");
    assert_eq!(doc["references"][0]["selected"], "v1.1.0");

    let mut dry = check.to_vec();
    dry.extend([("apply", "true"), ("dry-run", "true")]);
    let r = run_action_with(&dry, ws.path(), action.path(), &env);
    assert!(r.summary.contains("<details>"), "the diff: {}", r.summary);
    assert!(r.summary.contains("+    image: "), "{}", r.summary);
    assert_eq!(
        std::fs::read_to_string(ws.path().join("apps/app.yaml")).expect("read"),
        manifest,
        "a dry run writes nothing"
    );

    let mut apply = check.to_vec();
    apply.push(("apply", "true"));
    let r = run_action_with(&apply, ws.path(), action.path(), &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.outputs["changed"], "true");
    assert!(
        r.summary.contains("<details>") && r.summary.contains("+    image: "),
        "the diff written, collapsed: {}",
        r.summary
    );
    assert_eq!(
        std::fs::read_to_string(ws.path().join("apps/app.yaml")).expect("read"),
        manifest.replace("v1.0.0", "v1.1.0")
    );
}

/// Every `with:` of this action in the example workflows names a declared
/// input, every `steps.<id>.outputs.<name>` of it a declared output, and
/// each step passes what its command reads: a typo there is a silent no-op
/// on GitHub, which ignores undeclared inputs with only a warning.
#[test]
fn example_workflows_use_only_declared_inputs_and_outputs() {
    let spec: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("action.yml")).expect("read"),
    )
    .expect("parses");
    let inputs = spec["inputs"].as_object().expect("inputs");
    let outputs = spec["outputs"].as_object().expect("outputs");
    let dir = Path::new(ROOT).join("examples/workflows");
    let outputs_used =
        regex::Regex::new(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)").expect("regex");
    let mut steps_seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/workflows") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let workflow: Value = serde_saphyr::from_str(&text).expect("workflow parses");
        let mut ours = Vec::new();
        for job in workflow["jobs"].as_object().expect("jobs").values() {
            for step in job["steps"].as_array().into_iter().flatten() {
                if !step["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("gitops-bump/gitops-bump@"))
                {
                    continue;
                }
                steps_seen += 1;
                for name in step["with"].as_object().expect("with").keys() {
                    assert!(
                        inputs.contains_key(name),
                        "{}: input {name}",
                        path.display()
                    );
                }
                if let Some(id) = step["id"].as_str() {
                    ours.push(id.to_owned());
                }
                let command = step["with"]["command"].as_str().unwrap_or("set");
                let has_images = step["with"].get("images").is_some();
                assert_eq!(has_images, command != "sync", "{}: images", path.display());
            }
        }
        for c in outputs_used.captures_iter(&text) {
            if ours.contains(&c[1].to_owned()) {
                assert!(
                    outputs.contains_key(&c[2]),
                    "{}: output {}",
                    path.display(),
                    &c[2]
                );
            }
        }
    }
    assert!(steps_seen >= 3, "the examples use the action");
}

/// The README's inputs/outputs tables are generated from action.yml and must not drift.
#[test]
fn readme_tables_match_action_yml() {
    let spec: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("action.yml")).expect("read"),
    )
    .expect("parses");
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).expect("readme");
    let table = action_tables(&spec);
    assert!(
        readme.contains(&table),
        "README is out of date; replace its inputs/outputs tables with:\n{table}"
    );
}

/// Markdown tables for action.yml's inputs and outputs.
pub fn action_tables(spec: &Value) -> String {
    let mut md = String::from("| input | default | description |\n|---|---|---|\n");
    for (name, d) in spec["inputs"].as_object().expect("inputs") {
        let default = d["default"].as_str().unwrap_or_default();
        let default = if default.is_empty() {
            String::new()
        } else {
            format!("`{default}`")
        };
        md.push_str(&format!(
            "| `{name}` | {default} | {} |\n",
            d["description"]
                .as_str()
                .unwrap_or_default()
                .replace('|', "\\|")
        ));
    }
    md.push_str("\n| output | description |\n|---|---|\n");
    for (name, d) in spec["outputs"].as_object().expect("outputs") {
        md.push_str(&format!(
            "| `{name}` | {} |\n",
            d["description"]
                .as_str()
                .unwrap_or_default()
                .replace('|', "\\|")
        ));
    }
    md
}
