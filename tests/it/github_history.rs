//! `Backend::history` on GitHub, for the writer guards: the commits that
//! changed each file within a window, newest first, with committer time,
//! author, full message (trailers included) and the file before and after,
//! all in one GraphQL query pinned to the head the read saw. Against the
//! fake GitHub with gitops-bump's own commits (trailers, bot author, signed)
//! and a person's edits.
//! See: issue #11 (writer guards).

use std::time::{SystemTime, UNIX_EPOCH};

use gitops_bump::backend::files::FileSelection;
use gitops_bump::backend::github::ApiKind;
use gitops_bump::backend::{Backend, FileHistory};

use crate::fake_github::{self, By, FakeGitHub, Person, bump_message, iso_utc};
use crate::github::start;
use crate::github_logs::backend;

const DEPLOYMENT: &str = "base/deployment.yaml";
const CRONJOB: &str = "jobs/cronjob.yaml";
const NEW: &str = "apps/new.yaml";
const UNTOUCHED: &str = "overlays/dev/kustomization.yaml";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the fake holds after [`seed`], for the assertions.
struct Seeded {
    /// The time the commits are dated from (all after the initial commit).
    t0: u64,
    texts: [String; 3],
    bot: String,
    person: String,
    created: String,
    deleted: String,
}

/// An hour after `t0` times `k`, as Git takes it.
fn at(t0: u64, k: u64) -> String {
    iso_utc(t0 + k * 3600)
}

/// gitops-bump's bump of the backend (1 h), a person's hand edit of the
/// same file (2 h), a new file (3 h), the cronjob deleted (4 h), an
/// unrelated file (5 h).
fn seed(fake: &FakeGitHub) -> Seeded {
    let t0 = now() + 60;
    let text0 = fake.repo().read("main", DEPLOYMENT);
    let text1 = text0.replace("backend:v1.3.0", "backend:v1.3.1");
    let text2 = text1.replace("envoy:v1.31.2", "envoy:v1.31.3");
    assert!(text0 != text1 && text1 != text2);
    let bot = fake.bot_commit(
        "main",
        &[(DEPLOYMENT, text1.as_bytes())],
        &bump_message(
            "chore(gitops): bump ghcr.io/acme/backend to v1.3.1",
            "ghcr.io/acme/backend",
            "v1.3.0",
            "v1.3.1",
            "ci-dev",
            "11111111-1111-4111-8111-111111111111",
        ),
        &at(t0, 1),
    );
    let alice = Person::new(
        "Alice Doe",
        "12345+alice@users.noreply.github.com",
        &at(t0, 2),
    );
    let person = fake.person_commit(
        "main",
        &[(DEPLOYMENT, text2.as_bytes())],
        "bump envoy by hand",
        &alice,
    );
    let created = fake.bot_commit(
        "main",
        &[(NEW, b"image: ghcr.io/acme/new:v1\n")],
        "add new app",
        &at(t0, 3),
    );
    let bob = Person::new("Bob", "bob@example.com", &at(t0, 4));
    let deleted = fake.commit(
        "main",
        &[],
        &[CRONJOB],
        "drop the cronjob",
        &By {
            author: bob.clone(),
            committer: bob,
            signed: false,
        },
    );
    fake.bot_commit("main", &[("README.md", b"hello\n")], "readme", &at(t0, 5));
    Seeded {
        t0,
        texts: [text0, text1, text2],
        bot,
        person,
        created,
        deleted,
    }
}

fn selection(paths: &[&str]) -> FileSelection {
    let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    FileSelection::new(&paths, 5 * 1024 * 1024).expect("valid")
}

fn by_path<'a>(found: &'a [FileHistory], path: &str) -> &'a FileHistory {
    found
        .iter()
        .find(|h| h.path == path)
        .unwrap_or_else(|| panic!("no history for {path}: {found:?}"))
}

#[test]
fn issue_11_history_of_every_path_in_one_pinned_query() {
    let fake = start();
    let s = seed(&fake);
    let cronjob = fake
        .repo()
        .git(&["show", &format!("{}^:{CRONJOB}", s.deleted)])
        .map(|b| String::from_utf8(b).expect("utf-8"))
        .expect("cronjob before");
    let mut gh = backend(&fake, ApiKind::Graphql);
    let paths = [DEPLOYMENT, CRONJOB, NEW, UNTOUCHED];
    gh.read(&selection(&paths)).expect("read");
    // Lands after the read: the history is pinned to what was read.
    let later = fake.bot_commit(
        "main",
        &[(DEPLOYMENT, b"changed after the read\n")],
        "later",
        &at(s.t0, 6),
    );
    let before = gh.api_requests().expect("counted");
    let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    let found = gh
        .history(&paths, (s.t0 + 1800) as i64, 20)
        .expect("history")
        .expect("GitHub has history");
    assert_eq!(gh.api_requests(), Some(before + 1), "one request");
    assert_eq!(fake.operations().get("query FileHistory"), Some(&1));
    assert_eq!(
        fake.fields().get("Commit.history"),
        Some(&4),
        "one alias per path"
    );
    assert_eq!(
        found.iter().map(|h| h.path.as_str()).collect::<Vec<_>>(),
        paths,
        "in the order asked"
    );

    let deployment = by_path(&found, DEPLOYMENT);
    assert!(!deployment.truncated);
    let oids: Vec<&str> = deployment.commits.iter().map(|c| c.oid.as_str()).collect();
    assert_eq!(
        oids,
        [s.person.as_str(), s.bot.as_str()],
        "newest first, not {later}"
    );
    let [hand, ours] = [&deployment.commits[0], &deployment.commits[1]];
    assert_eq!(hand.author, "alice", "the account's login");
    assert_eq!(hand.time, (s.t0 + 2 * 3600) as i64);
    assert_eq!(hand.message, "bump envoy by hand");
    assert_eq!(hand.before.as_deref(), Some(s.texts[1].as_str()));
    assert_eq!(hand.after.as_deref(), Some(s.texts[2].as_str()));
    assert_eq!(
        ours.author,
        fake_github::BOT_NAME,
        "a bot has no user: its name"
    );
    assert_eq!(ours.time, (s.t0 + 3600) as i64);
    assert!(
        ours.message
            .starts_with("chore(gitops): bump ghcr.io/acme/backend to v1.3.1\n\n")
            && ours
                .message
                .contains("Gitops-Bump-To: v1.3.1\nGitops-Bump-Writer: ci-dev\nGitops-Bump-Id: 11111111-1111-4111-8111-111111111111"),
        "{:?}",
        ours.message
    );
    assert_eq!(ours.before.as_deref(), Some(s.texts[0].as_str()));
    assert_eq!(ours.after.as_deref(), Some(s.texts[1].as_str()));

    let new = by_path(&found, NEW);
    assert_eq!(new.commits.len(), 1);
    assert_eq!(new.commits[0].oid, s.created);
    assert_eq!(new.commits[0].before, None, "created");
    assert_eq!(
        new.commits[0].after.as_deref(),
        Some("image: ghcr.io/acme/new:v1\n")
    );

    let gone = by_path(&found, CRONJOB);
    assert_eq!(gone.commits.len(), 1);
    assert_eq!(gone.commits[0].oid, s.deleted);
    assert_eq!(gone.commits[0].author, "Bob", "no account: the name");
    assert_eq!(gone.commits[0].before.as_deref(), Some(cronjob.as_str()));
    assert_eq!(gone.commits[0].after, None, "deleted");

    let untouched = by_path(&found, UNTOUCHED);
    assert!(untouched.commits.is_empty() && !untouched.truncated);
}

#[test]
fn issue_11_history_window_depth_and_unread_branch() {
    let fake = start();
    let s = seed(&fake);
    // No read yet: the branch head, by name.
    let mut gh = backend(&fake, ApiKind::Graphql);
    let one = vec![DEPLOYMENT.to_owned()];
    let found = gh
        .history(&one, (s.t0 + 1800) as i64, 1)
        .expect("history")
        .expect("some");
    assert_eq!(found[0].commits.len(), 1);
    assert_eq!(found[0].commits[0].oid, s.person);
    assert!(found[0].truncated, "depth 1 cut the window");
    // A window that starts after the bot's bump keeps only the hand edit.
    let found = gh
        .history(&one, (s.t0 + 3600 + 1) as i64, 10)
        .expect("history")
        .expect("some");
    let oids: Vec<&str> = found[0].commits.iter().map(|c| c.oid.as_str()).collect();
    assert_eq!(oids, [s.person.as_str()]);
    assert!(!found[0].truncated);
    // Depth 0 asks nothing.
    let before = fake.total();
    let found = gh.history(&one, 0, 0).expect("history").expect("some");
    assert!(found[0].commits.is_empty());
    assert_eq!(fake.total(), before);
    assert_eq!(gh.api_requests(), Some(2));
}

#[test]
fn issue_11_history_reads_withheld_texts_through_the_blob_api_once() {
    let fake = start();
    let s = seed(&fake);
    fake.faults().text_limit = Some(64);
    let mut gh = backend(&fake, ApiKind::Graphql);
    gh.read(&selection(&[DEPLOYMENT])).expect("read");
    let blobs = |fake: &FakeGitHub| {
        fake.counts()
            .get("GET /git/blobs/{sha}")
            .copied()
            .unwrap_or(0)
    };
    let before = blobs(&fake);
    let found = gh
        .history(&[DEPLOYMENT.to_owned()], (s.t0 + 1800) as i64, 20)
        .expect("history")
        .expect("some");
    let commits = &found[0].commits;
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[0].after.as_deref(), Some(s.texts[2].as_str()));
    assert_eq!(commits[0].before.as_deref(), Some(s.texts[1].as_str()));
    assert_eq!(commits[1].before.as_deref(), Some(s.texts[0].as_str()));
    // Three distinct texts, each read once (text 1 is both an after and a before).
    assert_eq!(blobs(&fake) - before, 3, "{:?}", fake.counts());
}
