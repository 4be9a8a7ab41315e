//! The fuzz targets of `fuzz/src/targets.rs` inside `cargo test`: every
//! committed seed and every saved crash (`fuzz/corpus/<target>/`,
//! `fuzz/regressions/<target>/`) replays, and a bounded proptest run mutates
//! the seeds (fixed RNG seed, so CI is repeatable). The long, coverage-guided
//! runs are AFL++'s: `scripts/fuzz [target] [seconds]`.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

#[path = "../../fuzz/src/targets.rs"]
mod targets;

/// Cases per target in the smoke run.
const CASES: u32 = 256;

fn files(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    files("corpus", target)
        .iter()
        .map(|p| std::fs::read(p).expect("read a seed"))
        .collect()
}

/// One edit to a seed: at a position (a fraction of its length), delete
/// some bytes, then insert some.
#[derive(Clone, Debug)]
struct Mutation {
    at: f64,
    delete: usize,
    insert: Vec<u8>,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to the grammars: YAML indicators, reference and
    // header punctuation, whitespace, NUL (the control separator), UTF-8.
    let token = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        prop::sample::select(vec![
            "\n", "\r\n", " ", "\t", ":", ": ", "- ", "#", "&a ", "*a", "'", "\"", "|", ">", "{",
            "}", "[", "]", ",", "---\n", "...\n", "@", "/", "<", ">", ";", "rel=next", "=", "\0",
            "\u{feff}", "é", "||", " - ", "^", "~", "x", "*", "v", "1.", "-rc", "sha256:", "?",
            "%", "\\",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ];
    (0.0..=1.0f64, 0usize..8, prop::collection::vec(token, 0..4)).prop_map(
        |(at, delete, insert)| Mutation {
            at,
            delete,
            insert: insert.concat(),
        },
    )
}

fn mutate(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for m in mutations {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let at = ((out.len() as f64) * m.at) as usize;
        let at = at.min(out.len());
        let end = (at + m.delete).min(out.len());
        out.splice(at..end, m.insert.iter().copied());
    }
    out
}

fn smoke(name: &str) {
    let target = targets::target(name).expect("a known target");
    let seeds = seeds(name);
    assert!(!seeds.is_empty(), "fuzz/corpus/{name}/ holds no seed");
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x6769_746f_7073),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = (0..seeds.len(), prop::collection::vec(mutation(), 1..6));
    let result = runner.run(&strategy, |(i, mutations)| {
        let input = mutate(&seeds[i], &mutations);
        target(&input);
        Ok(())
    });
    if let Err(e) = result {
        panic!("fuzz target {name}: {e}");
    }
}

#[test]
fn every_seed_and_saved_crash_replays() {
    for (name, target) in targets::TARGETS {
        for kind in ["corpus", "regressions"] {
            for path in files(kind, name) {
                let data = std::fs::read(&path).expect("read an input");
                let result = std::panic::catch_unwind(|| target(&data));
                assert!(result.is_ok(), "{name}: {} fails", path.display());
            }
        }
    }
}

#[test]
fn manifest_survives_mutated_seeds() {
    smoke("manifest");
}

#[test]
fn reference_survives_mutated_seeds() {
    smoke("reference");
}

#[test]
fn constraint_survives_mutated_seeds() {
    smoke("constraint");
}

#[test]
fn link_survives_mutated_seeds() {
    smoke("link");
}

#[test]
fn inputs_survives_mutated_seeds() {
    smoke("inputs");
}

// Regressions: each crash the fuzz targets found, with the right behaviour.

fn translated(pairs: &[(&str, &str)]) -> gitops_bump::cli::Cli {
    use clap::Parser as _;
    let env: std::collections::BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let args = gitops_bump::gha::inputs::translate(&env).expect("valid inputs");
    gitops_bump::cli::Cli::try_parse_from(std::iter::once("gitops-bump".to_owned()).chain(args))
        .expect("every value reaches its flag")
}

#[test]
fn issue_13_input_values_starting_with_a_dash_stay_values() {
    // See: issue #13 (the `inputs` target). clap reads a separate word
    // starting with `-` as a flag, so a message like `-- hotfix` made the
    // whole command line invalid, and a value could never look like a flag.
    let cli = translated(&[
        ("INPUT_IMAGES", "x:1"),
        ("INPUT_REPOSITORY", "acme/gitops"),
        ("INPUT_BRANCH", "-b"),
        ("INPUT_MESSAGE", "-- hotfix {to}"),
        ("INPUT_WRITER-ID", "--dry-run"),
        ("INPUT_FILES", "-x.yaml"),
        ("INPUT_PLATFORMS", "-p"),
        ("INPUT_POLICY", "-numerical"),
        ("INPUT_INSECURE-REGISTRIES", "-h:5000"),
    ]);
    let gitops_bump::cli::Command::Set(set) = cli.command else {
        panic!("set");
    };
    assert_eq!(set.source.branch.as_deref(), Some("-b"));
    assert_eq!(set.write.message.as_deref(), Some("-- hotfix {to}"));
    assert_eq!(set.write.writer_id.as_deref(), Some("--dry-run"));
    assert!(!set.write.dry_run, "a value never becomes a flag");
    assert_eq!(set.source.files, ["-x.yaml"]);
    assert_eq!(set.registry.platforms, ["-p"]);
    assert_eq!(set.guard.policy.as_deref(), Some("-numerical"));
    assert_eq!(set.registry.insecure_registries, ["-h:5000"]);

    let cli = translated(&[
        ("INPUT_COMMAND", "explain"),
        ("INPUT_IMAGES", "x"),
        ("INPUT_POLICY", "-x"),
    ]);
    let gitops_bump::cli::Command::Explain(explain) = cli.command else {
        panic!("explain");
    };
    assert_eq!(explain.policy, "-x");

    let cli = translated(&[("INPUT_IMAGES", "x:1"), ("INPUT_WORKING-DIRECTORY", "-d")]);
    let gitops_bump::cli::Command::Set(set) = cli.command else {
        panic!("set");
    };
    assert_eq!(set.source.dir.as_deref(), Some(Path::new("-d")));
}

#[test]
fn issue_13_a_repository_on_a_dotless_host_writes_back_as_itself() {
    // See: issue #13 (the `reference` target). Only its capitals mark
    // `LOCALDOMAIN` as a registry host; lowercased in the written form it
    // named the Docker Hub repository `docker.io/localdomain/debian`.
    use gitops_bump::reference::{Reference, Repository};
    let repo = Reference::parse("LOCALDOMAIN/debian:12")
        .expect("valid")
        .repository();
    assert_eq!((repo.domain(), repo.path()), ("localdomain", "debian"));
    assert_eq!(repo.to_string(), "LOCALDOMAIN/debian");
    assert_eq!(repo.familiar(), "LOCALDOMAIN/debian");
    assert_eq!(Repository::parse(&repo.to_string()), Ok(repo.clone()));
    assert_eq!(Repository::parse("LocalDomain/debian"), Ok(repo));
    // Hosts that read as hosts anyway stay lowercase.
    for (name, written) in [
        ("Registry.Example/a", "registry.example/a"),
        ("LOCALHOST/a", "localhost/a"),
        ("Host:5000/a", "host:5000/a"),
        ("localdomain/debian", "docker.io/localdomain/debian"),
    ] {
        let repo = Repository::parse(name).expect("valid");
        assert_eq!(repo.to_string(), written, "{name}");
        assert_eq!(Repository::parse(written), Ok(repo), "{name}");
    }
}

#[test]
fn issue_13_an_alias_inside_its_own_anchor_is_invalid_yaml_not_a_stack_overflow() {
    // See: issue #13 (the `manifest` target). An alias inside the node its
    // anchor names makes a cyclic graph; the site walker followed it until
    // the stack overflowed and the process aborted. Kubernetes' go-yaml
    // rejects such a file ("anchor 'x' value contains itself"), so the
    // engine reports it as invalid YAML at the alias, and `set` skips it.
    use gitops_bump::manifest::{Manifest, ManifestError};
    for (text, line, column) in [
        ("a: &x\n  b: *x\n", 2, 6),
        ("- &x [*x]\n", 1, 7),
        ("a: &x {b: [c, *x]}\n", 1, 15),
        ("x: &img\n  - name: a\n    image: *img\n", 3, 12),
    ] {
        match Manifest::parse("a.yaml", text.to_owned()) {
            Err(ManifestError::Syntax {
                line: l,
                column: c,
                message,
            }) => {
                assert_eq!((l, c), (line, column), "{text:?}");
                assert!(message.contains("*"), "{text:?}: {message}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    // An alias to a node that has ended is fine, even inside a sibling.
    let m = Manifest::parse(
        "a.yaml",
        "x: &img ghcr.io/a/b:v1\ny: &m {image: *img}\nz: [*m, *img]\n".to_owned(),
    )
    .expect("acyclic aliases parse");
    assert_eq!(m.sites.len(), 1);
}

#[test]
fn issue_13_a_hex_name_with_a_tag_parses_but_its_familiar_name_does_not() {
    // See: issue #13 (the `reference` target). Upstream
    // ParseNormalizedNamed refuses a bare 64-hex string (an image ID to the
    // docker CLI) but not the same name with a tag, so the familiar form of
    // such a repository does not re-parse; its full form does.
    use gitops_bump::reference::{Reference, ReferenceError, Repository};
    let hex = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c235759c38df4256";
    let repo = Reference::parse(&format!("{hex}:v1"))
        .expect("a tag makes it a name")
        .repository();
    assert_eq!(repo.familiar(), hex);
    assert_eq!(
        Repository::parse(hex),
        Err(ReferenceError::HexIdentifierName(hex.to_owned()))
    );
    assert_eq!(Repository::parse(&repo.to_string()), Ok(repo));
}

#[test]
fn issue_13_every_input_translates_to_flags_its_command_accepts() {
    // See: issue #13 (the `inputs` target). `files` was passed to
    // `explain`, which has no `--files`, so any explain step with `files:`
    // set failed as a usage error. Every declared input, set alone on top of
    // the required ones, must give a command line its command accepts, or
    // (an input that command does not read) one error naming the input.
    use gitops_bump::gha::inputs::INPUTS;
    use gitops_bump::gha::inputs::translate;
    let value = |input: &str| match input {
        "dry-run" | "allow-downgrade" | "allow-absent" | "allow-revert" | "apply"
        | "pull-request" | "skip-ci" => "true",
        "repository" => "acme/gitops",
        "platforms" => "linux/arm64",
        "fail-on" => "warning",
        _ => "x",
    };
    let env = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    for command in ["set", "explain", "sync"] {
        let mut required = vec![("INPUT_COMMAND", command)];
        if command != "sync" {
            required.push(("INPUT_IMAGES", "ghcr.io/a/b:v1"));
        }
        if command != "explain" {
            required.push(("INPUT_REPOSITORY", "acme/gitops"));
        }
        let base = translate(&env(&required)).expect("the required inputs translate");
        for &input in INPUTS {
            // The token is read from the environment, not passed as a flag.
            if matches!(input, "command" | "images" | "extra-args" | "token") {
                continue;
            }
            let key = format!("INPUT_{}", input.to_uppercase());
            let mut pairs = required.clone();
            pairs.retain(|(k, _)| *k != key);
            pairs.push((&key, value(input)));
            let args = match translate(&env(&pairs)) {
                Ok(args) => args,
                Err(e) => {
                    assert_eq!(e.input, input, "{command}: {e:?}");
                    assert!(
                        e.message.contains(&format!("is not read by {command}")),
                        "{command} {input}: {e:?}"
                    );
                    continue;
                }
            };
            // Accepted means read: an input that changes nothing would be
            // a green step that ignored what it was told.
            if input != "repository" || command == "explain" {
                assert_ne!(args, base, "{command} ignores input {input}");
            }
            let cli = translated(&pairs);
            let parsed_command = match cli.command {
                gitops_bump::cli::Command::Set(_) => "set",
                gitops_bump::cli::Command::Explain(_) => "explain",
                gitops_bump::cli::Command::Sync(_) => "sync",
                gitops_bump::cli::Command::Action => "action",
            };
            assert_eq!(parsed_command, command, "{input}");
        }
    }
}

#[test]
fn issue_13_a_docker_hub_path_starting_with_a_host_keeps_upstreams_familiar_name() {
    // See: issue #13 (the `reference` target). Upstream FamiliarName drops
    // `docker.io/` even when the path then starts with a host, so the
    // familiar name of `docker.io/debi.io/debian` reads as another registry.
    // Kept for fidelity (Docker Hub namespaces hold no dots); the full
    // written form is the unambiguous one.
    use gitops_bump::reference::{Reference, Repository};
    for (name, path) in [
        ("docker.io/debi.io/debian", "debi.io/debian"),
        ("docker.io/index.docker.io/debian", "index.docker.io/debian"),
        ("docker.io/localhost/x", "localhost/x"),
    ] {
        let repo = Reference::parse(name).expect("valid").repository();
        assert_eq!((repo.domain(), repo.path()), ("docker.io", path));
        assert_eq!(repo.familiar(), path);
        assert_ne!(Repository::parse(path).as_ref(), Ok(&repo), "{name}");
        assert_eq!(repo.to_string(), name);
        assert_eq!(Repository::parse(&repo.to_string()), Ok(repo));
    }
}
