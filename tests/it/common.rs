//! Shared test helpers: a scrubbed command builder, fixture copies, and the
//! path to `../shared` (skipped with a message when absent).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Path to a file under the project's sibling `shared/` folder, or None
/// (after printing "skipped: no oracles") when absent.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: no oracles ({rel} not found)");
        record_skip(rel);
        None
    }
}

/// Appends `TEST<TAB>REL` to the file `$GITOPS_BUMP_SKIP_LOG` names, so
/// `scripts/test` can say at the end how many tests checked nothing (the
/// harness hides a passing test's stderr).
fn record_skip(rel: &str) {
    use std::io::Write as _;
    let Some(log) = std::env::var_os("GITOPS_BUMP_SKIP_LOG") else {
        return;
    };
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = writeln!(f, "{test}\t{rel}");
    }
}

/// The result of one run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A `gitops-bump` invocation with CI and Actions variables scrubbed.
pub struct GitopsBump {
    cmd: Command,
}

/// Starts a `gitops-bump` command.
pub fn gitops_bump() -> GitopsBump {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitops-bump"));
    for (k, _) in std::env::vars() {
        if k == "CI"
            || k == "NO_COLOR"
            || ["GITHUB_", "INPUT_", "RUNNER_", "ACTIONS_"]
                .iter()
                .any(|p| k.starts_with(p))
        {
            cmd.env_remove(k);
        }
    }
    GitopsBump { cmd }
}

impl GitopsBump {
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Self {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn run(mut self) -> Run {
        let out = self.cmd.output().expect("binary runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }
}

/// A temporary copy of `examples/gitops`.
pub fn example() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops"),
        tmp.path(),
    );
    tmp
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Every file under `dir` (path relative to `dir`) with its bytes, for before/after comparisons.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in ignore::WalkBuilder::new(dir)
        .hidden(false)
        .build()
        .flatten()
    {
        if entry.file_type().is_some_and(|t| t.is_file())
            && !entry.path().components().any(|c| c.as_os_str() == ".git")
        {
            out.push((
                entry
                    .path()
                    .strip_prefix(dir)
                    .expect("under dir")
                    .to_path_buf(),
                std::fs::read(entry.path()).expect("read"),
            ));
        }
    }
    out.sort();
    out
}

/// Runs git in `dir`, returning trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Turns `dir` into a Git repository with one commit of everything.
pub fn git_init(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "initial"]);
}

/// The [`gitops_bump::backend::Backend`] methods a test's wrapping backend
/// passes unchanged to its field `$inner`: all but `describe`, `read` and
/// `write`, which the wrapper writes itself. Use it inside the `impl`.
macro_rules! delegate_backend {
    ($inner:ident) => {
        fn landed(
            &mut self,
            write: &gitops_bump::backend::Write,
        ) -> Result<gitops_bump::backend::Landed, gitops_bump::backend::BackendError> {
            self.$inner.landed(write)
        }

        fn publish(
            &mut self,
            write: &gitops_bump::backend::Write,
        ) -> Result<Option<gitops_bump::backend::PullRequest>, gitops_bump::backend::BackendError> {
            self.$inner.publish(write)
        }

        fn retire(
            &mut self,
            retire: &gitops_bump::backend::Retire,
        ) -> Result<Option<gitops_bump::backend::PullRequest>, gitops_bump::backend::BackendError> {
            self.$inner.retire(retire)
        }

        fn verify(
            &mut self,
            write: &gitops_bump::backend::Write,
            commit: Option<&str>,
        ) -> Result<Vec<String>, gitops_bump::backend::BackendError> {
            self.$inner.verify(write, commit)
        }

        fn verify_plan(&self, write: &gitops_bump::backend::Write) -> (String, Vec<String>) {
            self.$inner.verify_plan(write)
        }

        fn history(
            &mut self,
            paths: &[String],
            since: i64,
            depth: usize,
        ) -> Result<
            Option<Vec<gitops_bump::backend::FileHistory>>,
            gitops_bump::backend::BackendError,
        > {
            self.$inner.history(paths, since, depth)
        }

        fn api_requests(&self) -> Option<u64> {
            self.$inner.api_requests()
        }
    };
}
pub(crate) use delegate_backend;

/// `gitops-bump sync --output json --dir DIR ARGS…` through the library
/// (`cmd::sync::check`) on `backend`, never reading the machine's Docker
/// credentials (the loopback registries of the tests are open).
pub fn sync_check(
    dir: &Path,
    args: &[&str],
    backend: &mut dyn gitops_bump::backend::Backend,
) -> gitops_bump::report::sync::SyncReport {
    let argv = ["gitops-bump", "sync", "--output", "json", "--dir"]
        .into_iter()
        .map(str::to_owned)
        .chain([dir.display().to_string()])
        .chain(args.iter().map(|a| (*a).to_owned()));
    let cli =
        <gitops_bump::cli::Cli as clap::Parser>::try_parse_from(argv).expect("valid arguments");
    let gitops_bump::cli::Command::Sync(args) = cli.command else {
        panic!("not sync")
    };
    let env = gitops_bump::settings::Env::from_pairs([]);
    let mut settings = gitops_bump::settings::SyncSettings::resolve(&args, &env).expect("settings");
    settings.registry.use_docker_config = false;
    let cx = gitops_bump::cmd::Context::new(env).expect("context");
    gitops_bump::cmd::sync::check(&settings, &cx, backend).expect("sync runs")
}
