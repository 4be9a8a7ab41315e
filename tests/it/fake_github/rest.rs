//! The fake's REST endpoints (`/api/v3/repos/acme/gitops/…`): the Git data
//! API (trees, blobs, commits, refs), commits and compare, with GitHub's
//! status codes and error messages, and the streamed answers of
//! `Faults::floods`. Owns request parsing and answer shapes; the storage is
//! `git`, the write faults and signatures are `State`'s.

use axum::body::Bytes;
use axum::http::Method;
use base64::Engine as _;
use serde_json::{Value, json};

use super::git::{Change, CommitInfo, Person};
use super::{Answer, Flood, NAME, OWNER, State, WriteFault, lock, percent_decode};

/// GitHub's compare API lists at most this many commits
/// (docs: "Compare two commits").
const COMPARE_COMMITS: usize = 250;
/// … and at most this many files.
const COMPARE_FILES: usize = 300;

/// Answers one REST request.
/// `raw`: the request asked for a raw media type ([`wants_raw`]).
pub fn handle(
    state: &State,
    method: &Method,
    path: &str,
    query: &str,
    body: &Value,
    raw: bool,
) -> Answer {
    let Some(rest) = path.strip_prefix(&format!("/api/v3/repos/{OWNER}/{NAME}/")) else {
        return not_found();
    };
    let (kind, arg) = rest.split_once('/').map_or((rest, ""), |(k, a)| (k, a));
    let arg = percent_decode(arg);
    match (method.as_str(), kind) {
        ("GET", "git") if arg.starts_with("trees/") => {
            let recursive = query
                .split('&')
                .any(|p| p == "recursive=1" || p == "recursive=true");
            list_tree(state, &arg["trees/".len()..], recursive)
        }
        ("GET", "git") if arg.starts_with("blobs/") => blob(state, &arg["blobs/".len()..], raw),
        ("POST", "git") if arg == "trees" => create_tree(state, body),
        ("POST", "git") if arg == "commits" => create_commit(state, body),
        ("GET", "git") if arg.starts_with("commits/") => {
            let sha = &arg["commits/".len()..];
            match state.repo.info(sha) {
                Some(info) if info.oid == sha => {
                    Answer::Json(200, vec![], git_commit(state, &info))
                }
                _ => not_found(),
            }
        }
        ("GET", "git") if arg.starts_with("ref/heads/") => {
            let branch = &arg["ref/heads/".len()..];
            match state.repo.head(branch) {
                Some(oid) => Answer::Json(200, vec![], ref_json(branch, &oid)),
                None => not_found(),
            }
        }
        ("POST", "git") if arg == "refs" => create_ref(state, body),
        ("PATCH", "git") if arg.starts_with("refs/heads/") => {
            update_ref(state, &arg["refs/heads/".len()..], body)
        }
        ("DELETE", "git") if arg.starts_with("refs/heads/") => {
            delete_ref(state, &arg["refs/heads/".len()..])
        }
        ("GET", "commits") => {
            let Some(oid) = state.repo.peel(&arg, "commit") else {
                return unprocessable(&format!("No commit found for SHA: {arg}"));
            };
            let Some(info) = state.repo.info(&oid) else {
                return not_found();
            };
            let mut v = commit_json(state, &info);
            let parent = info.parents.first().cloned().unwrap_or_else(|| {
                // The empty tree: a root commit's files are all added.
                "4b825dc642cb6eb9a060e54bf8d69288fbee4904".into()
            });
            let files = state.repo.diff(&parent, &oid);
            v["files"] = files_json(&files, &oid);
            v["stats"] = stats_json(&files);
            Answer::Json(200, vec![], v)
        }
        ("GET", "compare") => compare(state, &arg),
        _ => not_found(),
    }
}

fn not_found() -> Answer {
    Answer::Json(
        404,
        vec![],
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
    )
}

fn unprocessable(message: &str) -> Answer {
    Answer::Json(422, vec![], json!({"message": message, "status": "422"}))
}

/// 422 with the documentation link of "Update a reference".
fn ref_error(message: &str, doc: &str) -> Answer {
    Answer::Json(
        422,
        vec![],
        json!({"message": message, "documentation_url": format!("https://docs.github.com/rest/git/refs#{doc}"), "status": "422"}),
    )
}

fn api(path: &str) -> String {
    format!("https://api.github.com/repos/{OWNER}/{NAME}/{path}")
}

fn html(path: &str) -> String {
    format!("https://github.com/{OWNER}/{NAME}/{path}")
}

fn ref_json(branch: &str, oid: &str) -> Value {
    json!({
        "ref": format!("refs/heads/{branch}"),
        "node_id": format!("REF_{branch}"),
        "url": api(&format!("git/refs/heads/{branch}")),
        "object": {"sha": oid, "type": "commit", "url": api(&format!("git/commits/{oid}"))},
    })
}

/// `GET git/trees/{sha}`: docs, "Get a tree" (`truncated` when over the
/// limit; `Faults::truncate_trees_over` / `truncate_flat_trees_over`).
fn list_tree(state: &State, treeish: &str, recursive: bool) -> Answer {
    let Some(tree) = state.repo.peel(treeish, "tree") else {
        return not_found();
    };
    let mut entries = state.repo.ls_tree(&tree, recursive);
    let limit = {
        let f = lock(&state.faults);
        if recursive {
            f.truncate_trees_over
        } else {
            f.truncate_flat_trees_over
        }
    };
    let mut truncated = false;
    if let Some(max) = limit
        && entries.len() > max
    {
        entries.truncate(max);
        truncated = true;
    }
    let tree_json: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut v = json!({"path": e.path, "mode": e.mode, "type": e.kind, "sha": e.sha});
            if let Some(size) = e.size {
                v["size"] = json!(size);
            }
            v
        })
        .collect();
    Answer::Json(
        200,
        vec![],
        json!({"sha": tree, "url": api(&format!("git/trees/{tree}")), "tree": tree_json, "truncated": truncated}),
    )
}

/// Returns true if and only if an `Accept` header asks for a raw media
/// type: `application/vnd.github.raw`, with `+json` or the `v3` version
/// (docs, "Media types": `application/vnd.github[.version].param[+json]`).
pub fn wants_raw(accept: &str) -> bool {
    accept.split(',').any(|t| {
        matches!(
            t.split(';').next().unwrap_or("").trim(),
            "application/vnd.github.raw"
                | "application/vnd.github.raw+json"
                | "application/vnd.github.v3.raw"
                | "application/vnd.github.v3.raw+json"
        )
    })
}

/// `GET git/blobs/{sha}`: base64, wrapped at 60 columns as GitHub sends it;
/// the bytes themselves for a `raw` media type.
fn blob(state: &State, sha: &str, raw: bool) -> Answer {
    if state.repo.kind(sha).as_deref() != Some("blob") {
        return not_found();
    }
    let bytes = state.repo.blob(sha).unwrap_or_default();
    if raw {
        let cut = {
            let mut f = lock(&state.faults);
            let broken = f.broken_raw_blobs > 0;
            if broken {
                f.broken_raw_blobs -= 1;
            }
            broken.then_some(bytes.len() / 2)
        };
        return Answer::Raw(200, vec![], Bytes::from(bytes), cut);
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let wrapped: Vec<&str> = b64
        .as_bytes()
        .chunks(60)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    Answer::Json(
        200,
        vec![],
        json!({"sha": sha, "node_id": format!("B_{sha}"), "size": bytes.len(), "url": api(&format!("git/blobs/{sha}")), "content": wrapped.join("\n") + "\n", "encoding": "base64"}),
    )
}

/// `POST git/trees` with `base_tree` and inline `content`.
fn create_tree(state: &State, body: &Value) -> Answer {
    let base = body.get("base_tree").and_then(Value::as_str).unwrap_or("");
    if state.repo.kind(base).as_deref() != Some("tree") {
        return unprocessable("base_tree is not a valid tree oid");
    }
    let mut files = Vec::new();
    for e in body
        .get("tree")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let path = e
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mode = e.get("mode").and_then(Value::as_str).map(str::to_owned);
        let Some(content) = e.get("content").and_then(Value::as_str) else {
            return unprocessable("only inline content is supported by the fake");
        };
        files.push((path, mode, content.as_bytes().to_vec()));
    }
    match state.repo.tree_with(base, &files, &[]) {
        Ok(sha) => Answer::Json(
            201,
            vec![],
            json!({"sha": sha, "url": api(&format!("git/trees/{sha}")), "truncated": false}),
        ),
        Err(e) => unprocessable(&e),
    }
}

/// `{name, email, date}` from a request body, dated now when `date` is absent.
fn person(v: Option<&Value>) -> Option<Person> {
    let v = v?.as_object()?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(Person {
        name: s("name")?,
        email: s("email")?,
        date: s("date").unwrap_or_else(|| super::iso_utc(super::now())),
    })
}

/// `POST git/commits` (docs: "Create a commit"). Unsigned unless
/// `Faults::sign_rest_commits` and no `author`/`committer`/`signature` is
/// given (DataDog/commit-headless#46; anthropics/claude-code-action#1511).
fn create_commit(state: &State, body: &Value) -> Answer {
    let repo = &state.repo;
    let tree = body.get("tree").and_then(Value::as_str).unwrap_or("");
    let message = body.get("message").and_then(Value::as_str).unwrap_or("");
    let parents: Vec<String> = body
        .get("parents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect();
    // osunyorg/admin#4384: "422 - Tree SHA does not exist".
    if repo.kind(tree).as_deref() != Some("tree") {
        return unprocessable("Tree SHA does not exist");
    }
    if parents
        .iter()
        .any(|p| repo.kind(p).as_deref() != Some("commit"))
    {
        return unprocessable("Parent SHA does not exist or is not a commit object");
    }
    let author = person(body.get("author"));
    let committer = person(body.get("committer")).or_else(|| author.clone());
    let custom = author.is_some() || body.get("signature").is_some();
    match repo.commit_tree_as(tree, &parents, message, author.as_ref(), committer.as_ref()) {
        Ok(sha) => {
            if lock(&state.faults).sign_rest_commits && !custom {
                state.sign(&sha);
            }
            let info = repo.info(&sha).expect("impossible: commit just written");
            let mut v = git_commit(state, &info);
            v["sha"] = json!(state.answer_oid(&sha));
            Answer::Json(201, vec![], v)
        }
        Err(e) => unprocessable(&e),
    }
}

/// `POST git/refs` (docs: "Create a reference").
fn create_ref(state: &State, body: &Value) -> Answer {
    let name = body.get("ref").and_then(Value::as_str).unwrap_or("");
    let sha = body.get("sha").and_then(Value::as_str).unwrap_or("");
    let Some(branch) = name.strip_prefix("refs/heads/") else {
        return ref_error(
            "Reference name must start with refs/heads/ (in the fake)",
            "create-a-reference",
        );
    };
    let _writes = lock(&state.write_lock);
    if state.repo.kind(sha).as_deref() != Some("commit") {
        return ref_error("Object does not exist", "create-a-reference");
    }
    // usk6666/yorishiro-proxy#82: "Reference already exists (HTTP 422)".
    if !state.repo.create_ref(branch, sha) {
        return ref_error("Reference already exists", "create-a-reference");
    }
    Answer::Json(201, vec![], ref_json(branch, sha))
}

/// `PATCH git/refs/heads/{b}` (docs: "Update a reference"), checked in
/// GitHub's order: the ref exists ("Reference does not exist",
/// github/rest-api-description#2746), the object exists, a fast forward
/// unless `force` ("Update is not a fast forward"), then the ref moves or
/// the race is lost ("Reference cannot be updated", octokit/octokit.net#2277).
fn update_ref(state: &State, branch: &str, body: &Value) -> Answer {
    let sha = body.get("sha").and_then(Value::as_str).unwrap_or("");
    let force = body.get("force").and_then(Value::as_bool).unwrap_or(false);
    let mut writes = lock(&state.write_lock);
    state.before_write(branch);
    let Some(current) = state.repo.head(branch) else {
        return ref_error("Reference does not exist", "update-a-reference");
    };
    if state.repo.kind(sha).as_deref() != Some("commit") {
        return ref_error("Object does not exist", "update-a-reference");
    }
    if !force && !state.repo.is_ancestor(&current, sha) {
        return ref_error("Update is not a fast forward", "update-a-reference");
    }
    if state.lose_race(branch) {
        return ref_error("Reference cannot be updated", "update-a-reference");
    }
    match state.write_fault() {
        WriteFault::DropBefore => return Answer::Drop,
        WriteFault::DropCommit => {
            let oid = state.answer_oid(sha);
            return Answer::Json(200, vec![], ref_json(branch, &oid));
        }
        WriteFault::None => {}
    }
    if !state.repo.update_ref(branch, sha, &current) {
        return ref_error("Reference cannot be updated", "update-a-reference");
    }
    *writes += 1;
    drop(writes);
    state.reconcile();
    if state.take_drop_after() {
        return Answer::Drop;
    }
    let oid = state.answer_oid(sha);
    Answer::Json(200, vec![], ref_json(branch, &oid))
}

/// `DELETE git/refs/heads/{b}` (docs: "Delete a reference"): 204, or 422
/// "Reference does not exist". Open pull requests from (or into) it close.
fn delete_ref(state: &State, branch: &str) -> Answer {
    let writes = lock(&state.write_lock);
    let Some(current) = state.repo.head(branch) else {
        return ref_error("Reference does not exist", "delete-a-reference");
    };
    if !state.repo.delete_ref(branch, &current) {
        return ref_error("Reference cannot be updated", "delete-a-reference");
    }
    drop(writes);
    state.reconcile();
    Answer::Empty(204, vec![])
}

/// `GET compare/{base}...{head}` (docs: "Compare two commits"): commits
/// oldest first, files between the merge base and the head.
fn compare(state: &State, basehead: &str) -> Answer {
    let repo = &state.repo;
    let Some((base, head)) = basehead.split_once("...") else {
        return not_found();
    };
    let (Some(base), Some(head)) = (repo.peel(base, "commit"), repo.peel(head, "commit")) else {
        return not_found();
    };
    let ahead = repo.range(&base, &head);
    let behind = repo.range(&head, &base);
    let status = match (ahead.len(), behind.len()) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let Some(merge_base) = repo.merge_base(&base, &head) else {
        return not_found();
    };
    let info = |oid: &str| repo.info(oid).map(|i| commit_json(state, &i));
    let commits: Vec<Value> = ahead
        .iter()
        .rev()
        .take(COMPARE_COMMITS)
        .filter_map(|oid| info(oid))
        .collect();
    let mut files = repo.diff(&merge_base, &head);
    files.truncate(COMPARE_FILES);
    Answer::Json(
        200,
        vec![],
        json!({
            "url": api(&format!("compare/{base}...{head}")),
            "html_url": html(&format!("compare/{base}...{head}")),
            "base_commit": info(&base),
            "merge_base_commit": info(&merge_base),
            "status": status,
            "ahead_by": ahead.len(),
            "behind_by": behind.len(),
            "total_commits": ahead.len(),
            "commits": commits,
            "files": files_json(&files, &head),
        }),
    )
}

/// GitHub's `diff-entry` list. `sha` is the blob on the head side, and for
/// a removed file the blob that was removed.
fn files_json(files: &[Change], head: &str) -> Value {
    Value::Array(
        files
            .iter()
            .map(|c| {
                let status = match c.status {
                    'A' => "added",
                    'D' => "removed",
                    'R' => "renamed",
                    'C' => "copied",
                    'T' => "changed",
                    _ => "modified",
                };
                let sha = if c.status == 'D' {
                    &c.old_sha
                } else {
                    &c.new_sha
                };
                let mut v = json!({
                    "sha": sha,
                    "filename": c.path,
                    "status": status,
                    "additions": c.additions,
                    "deletions": c.deletions,
                    "changes": c.additions + c.deletions,
                    "blob_url": html(&format!("blob/{head}/{}", c.path)),
                    "raw_url": html(&format!("raw/{head}/{}", c.path)),
                    "contents_url": api(&format!("contents/{}?ref={head}", c.path)),
                });
                if let Some(old) = &c.old_path {
                    v["previous_filename"] = json!(old);
                }
                v
            })
            .collect(),
    )
}

fn stats_json(files: &[Change]) -> Value {
    let additions: u64 = files.iter().map(|c| c.additions).sum();
    let deletions: u64 = files.iter().map(|c| c.deletions).sum();
    json!({"total": additions + deletions, "additions": additions, "deletions": deletions})
}

/// The `verification` object (docs: "Get a commit object"): GitHub's
/// signature on commits it signed, `unsigned` otherwise.
pub fn verification(state: &State, info: &CommitInfo) -> Value {
    if state.is_signed(&info.oid) {
        json!({
            "verified": true,
            "reason": "valid",
            "signature": format!("-----BEGIN PGP SIGNATURE-----\n\nfake signature of {}\n-----END PGP SIGNATURE-----\n", info.oid),
            "payload": format!("tree {}\n", info.tree),
            "verified_at": info.committer.date_utc,
        })
    } else {
        json!({"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null})
    }
}

/// A Git-data commit object (`GET`/`POST git/commits`).
fn git_commit(state: &State, info: &CommitInfo) -> Value {
    let side =
        |s: &super::git::Signature| json!({"name": s.name, "email": s.email, "date": s.date_utc});
    json!({
        "sha": info.oid,
        "node_id": format!("C_{}", info.oid),
        "url": api(&format!("git/commits/{}", info.oid)),
        "html_url": html(&format!("commit/{}", info.oid)),
        "author": side(&info.author),
        "committer": side(&info.committer),
        "tree": {"sha": info.tree, "url": api(&format!("git/trees/{}", info.tree))},
        "message": info.message,
        "parents": info.parents.iter().map(|p| json!({"sha": p, "url": api(&format!("git/commits/{p}")), "html_url": html(&format!("commit/{p}"))})).collect::<Vec<_>>(),
        "verification": verification(state, info),
    })
}

/// A commit as `commits/{ref}` and `compare` list it.
fn commit_json(state: &State, info: &CommitInfo) -> Value {
    let side =
        |s: &super::git::Signature| json!({"name": s.name, "email": s.email, "date": s.date_utc});
    let account = |email: &str| state.login_for(email).map(|login| json!({"login": login}));
    json!({
        "sha": info.oid,
        "node_id": format!("C_{}", info.oid),
        "commit": {
            "author": side(&info.author),
            "committer": side(&info.committer),
            "message": info.message,
            "tree": {"sha": info.tree, "url": api(&format!("git/trees/{}", info.tree))},
            "url": api(&format!("git/commits/{}", info.oid)),
            "verification": verification(state, info),
        },
        "url": api(&format!("commits/{}", info.oid)),
        "html_url": html(&format!("commit/{}", info.oid)),
        "author": account(&info.author.email),
        "committer": account(&info.committer.email),
        "parents": info.parents.iter().map(|p| json!({"sha": p, "url": api(&format!("commits/{p}"))})).collect::<Vec<_>>(),
    })
}

/// A streamed answer for `Faults::floods`: a real tree listing or blob shape
/// for those endpoints, GitHub's error envelope elsewhere, produced 64 KiB
/// at a time and never held whole in memory.
pub fn flood(method: &Method, path: &str, graphql: bool, flood: Flood) -> Answer {
    let limit = match flood {
        Flood::Bytes(n) => Some(n),
        Flood::Endless => None,
    };
    let sha = "f100df100df100df100df100df100df100df100d";
    let x = |_: u64| "x".repeat(1024);
    let (prefix, item, sep, suffix): (String, fn(u64) -> String, &str, String) = if graphql {
        ("{\"errors\":[{\"message\":\"".into(), x, "", "\"}]}".into())
    } else if method == Method::GET && path.contains("/git/trees/") {
        (
            format!(
                "{{\"sha\":\"{sha}\",\"url\":\"{}\",\"tree\":[",
                api(&format!("git/trees/{sha}"))
            ),
            |i| {
                format!(
                    "{{\"path\":\"flood/{i:09}.yaml\",\"mode\":\"100644\",\"type\":\"blob\",\"sha\":\"{i:040x}\",\"size\":1}}"
                )
            },
            ",",
            "],\"truncated\":false}".into(),
        )
    } else if method == Method::GET && path.contains("/git/blobs/") {
        (
            format!("{{\"sha\":\"{sha}\",\"encoding\":\"base64\",\"content\":\""),
            // 45 bytes of "AAA…" per 60-column line.
            |_| "QUFB".repeat(15) + "\\n",
            "",
            "\"}".into(),
        )
    } else {
        ("{\"message\":\"".into(), x, "", "\"}".into())
    };
    let mut sent: u64 = 0;
    let mut i: u64 = 0;
    let mut state = 0u8; // 0 prefix, 1 items, 2 done
    let chunks = std::iter::from_fn(move || {
        match state {
            0 => {
                state = 1;
                sent += prefix.len() as u64;
                return Some(Bytes::from(prefix.clone()));
            }
            2 => return None,
            _ => {}
        }
        let mut chunk = String::with_capacity(70 * 1024);
        while chunk.len() < 64 * 1024 {
            if limit.is_some_and(|n| sent + chunk.len() as u64 >= n) {
                chunk.push_str(&suffix);
                state = 2;
                break;
            }
            if i > 0 {
                chunk.push_str(sep);
            }
            chunk.push_str(&item(i));
            i += 1;
        }
        sent += chunk.len() as u64;
        Some(Bytes::from(chunk))
    });
    Answer::Stream(200, vec![], Box::new(chunks))
}
