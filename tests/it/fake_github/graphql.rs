//! The fake's GraphQL endpoint: parses each document with apollo-compiler,
//! validates it against GitHub's public schema when `../shared` has it (so a
//! document GitHub would reject fails here too), then executes it over the
//! real repository. Implements the fields the backend uses; any other field
//! is an error, never a silent null.

use std::collections::HashMap;
use std::sync::OnceLock;

use apollo_compiler::ast::{self, Definition, OperationType, Selection};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::git::Entry;
use super::{Answer, BRANCH, NAME, OWNER, State, lock};

/// GitHub's schema, parsed once per test process (`None` when absent).
pub fn schema() -> Option<&'static Valid<Schema>> {
    static SCHEMA: OnceLock<Option<Valid<Schema>>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let path = crate::common::shared("github/schema.graphql")?;
            let text = std::fs::read_to_string(&path).expect("read schema");
            let schema = match Schema::parse(text, "schema.graphql") {
                Ok(s) => s,
                // HACK: GitHub's published schema defines a few fields of
                // `EnterpriseOwnerInfo` twice; apollo-compiler (rightly)
                // reports that. Keep the first definitions and accept the
                // schema, but only when duplicates are all that is wrong.
                Err(e) => {
                    for d in e.errors.iter() {
                        let text = d.to_string();
                        assert!(text.contains("duplicate definitions"), "schema: {text}");
                    }
                    e.partial
                }
            };
            Some(Valid::assume_valid(schema))
        })
        .as_ref()
}

/// Runs one GraphQL request.
pub fn execute(state: &State, body: &Value) -> Answer {
    let query = body.get("query").and_then(Value::as_str).unwrap_or("");
    let vars = body
        .get("variables")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let error =
        |message: String| Answer::Json(200, vec![], json!({"errors": [{"message": message}]}));
    if let Some(schema) = schema()
        && let Err(e) = ExecutableDocument::parse_and_validate(schema, query, "request.graphql")
    {
        return error(format!("{}", e.errors));
    }
    let doc = match ast::Document::parse(query, "request.graphql") {
        Ok(d) => d,
        Err(e) => return error(format!("{}", e.errors)),
    };
    let mut fragments = HashMap::new();
    let mut op = None;
    for def in &doc.definitions {
        match def {
            Definition::FragmentDefinition(f) => {
                fragments.insert(f.name.to_string(), f.clone());
            }
            Definition::OperationDefinition(o) if op.is_none() => op = Some(o.clone()),
            _ => {}
        }
    }
    let Some(op) = op else {
        return error("no operation in the document".into());
    };
    let mut ctx = Ctx {
        state,
        vars,
        fragments,
        errors: Vec::new(),
        dropped: false,
        status: None,
    };
    let root = match op.operation_type {
        OperationType::Mutation => Obj::Mutation,
        _ => Obj::Query,
    };
    let data = ctx.select(&root, &op.selection_set, &[]);
    if ctx.dropped {
        return Answer::Drop;
    }
    if let Some(status) = ctx.status {
        return Answer::Json(
            status,
            vec![],
            json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/graphql", "status": status.to_string()}),
        );
    }
    let mut out = json!({"data": data});
    if !ctx.errors.is_empty() {
        out["errors"] = Value::Array(ctx.errors);
    }
    Answer::Json(200, vec![], out)
}

#[derive(Clone, Debug)]
enum Obj {
    Query,
    Mutation,
    Repository,
    Ref {
        name: String,
        oid: String,
    },
    Commit(String),
    Tree(String),
    Entry(Entry),
    Blob {
        sha: String,
        size: u64,
    },
    History(Vec<String>),
    Payload(String),
    /// `Ref.compare`: base and head commits.
    Comparison {
        base: String,
        head: String,
    },
    Pulls(Vec<u64>),
    Pull(u64),
    /// `CreateRefPayload`: the new ref's name and target.
    RefPayload {
        name: String,
        oid: String,
    },
    /// `CreatePullRequestPayload` / `UpdatePullRequestPayload`.
    PullPayload(u64),
    /// `UpdateRefsPayload` (nothing but `clientMutationId`).
    Empty,
}

impl Obj {
    fn type_name(&self) -> &'static str {
        match self {
            Obj::Query => "Query",
            Obj::Mutation => "Mutation",
            Obj::Repository => "Repository",
            Obj::Ref { .. } => "Ref",
            Obj::Commit(_) => "Commit",
            Obj::Tree(_) => "Tree",
            Obj::Entry(_) => "TreeEntry",
            Obj::Blob { .. } => "Blob",
            Obj::History(_) => "CommitHistoryConnection",
            Obj::Payload(_) => "CreateCommitOnBranchPayload",
            Obj::Comparison { .. } => "Comparison",
            Obj::Pulls(_) => "PullRequestConnection",
            Obj::Pull(_) => "PullRequest",
            Obj::RefPayload { .. } => "CreateRefPayload",
            Obj::PullPayload(_) => "CreatePullRequestPayload",
            Obj::Empty => "UpdateRefsPayload",
        }
    }

    /// Returns true if and only if a fragment on `cond` applies to this object.
    fn is(&self, cond: &str) -> bool {
        cond == self.type_name()
            || (cond == "GitObject"
                && matches!(self, Obj::Commit(_) | Obj::Tree(_) | Obj::Blob { .. }))
    }
}

enum Res {
    Val(Value),
    Obj(Obj),
    List(Vec<Obj>),
}

struct Ctx<'a> {
    state: &'a State,
    vars: Map<String, Value>,
    fragments: HashMap<String, apollo_compiler::Node<ast::FragmentDefinition>>,
    errors: Vec<Value>,
    dropped: bool,
    /// Answer the whole request with this HTTP status instead (403).
    status: Option<u16>,
}

impl Ctx<'_> {
    fn select(&mut self, obj: &Obj, selections: &[Selection], path: &[String]) -> Value {
        let mut out = Map::new();
        self.select_into(obj, selections, path, &mut out);
        Value::Object(out)
    }

    fn select_into(
        &mut self,
        obj: &Obj,
        selections: &[Selection],
        path: &[String],
        out: &mut Map<String, Value>,
    ) {
        for sel in selections {
            match sel {
                Selection::Field(f) => {
                    let key = f.alias.as_ref().unwrap_or(&f.name).to_string();
                    let mut here = path.to_vec();
                    here.push(key.clone());
                    let args: Map<String, Value> = f
                        .arguments
                        .iter()
                        .map(|a| (a.name.to_string(), self.value(&a.value)))
                        .collect();
                    let value = if f.name == "__typename" {
                        json!(obj.type_name())
                    } else {
                        match self.field(obj, &f.name, &args, &here) {
                            None => Value::Null,
                            Some(Res::Val(v)) => v,
                            Some(Res::Obj(o)) => self.select(&o, &f.selection_set, &here),
                            Some(Res::List(items)) => Value::Array(
                                items
                                    .iter()
                                    .map(|o| self.select(o, &f.selection_set, &here))
                                    .collect(),
                            ),
                        }
                    };
                    out.insert(key, value);
                }
                Selection::InlineFragment(inline) => {
                    if inline
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| obj.is(c.as_str()))
                    {
                        self.select_into(obj, &inline.selection_set, path, out);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(frag) = self.fragments.get(spread.fragment_name.as_str()).cloned()
                        && obj.is(frag.type_condition.as_str())
                    {
                        self.select_into(obj, &frag.selection_set, path, out);
                    }
                }
            }
        }
    }

    fn value(&self, v: &ast::Value) -> Value {
        match v {
            ast::Value::Null => Value::Null,
            ast::Value::Enum(n) => json!(n.as_str()),
            ast::Value::Variable(n) => self.vars.get(n.as_str()).cloned().unwrap_or(Value::Null),
            ast::Value::String(s) => json!(s),
            ast::Value::Float(f) => json!(f.try_to_f64().unwrap_or(0.0)),
            ast::Value::Int(i) => json!(i.try_to_i32().unwrap_or(0)),
            ast::Value::Boolean(b) => json!(b),
            ast::Value::List(items) => Value::Array(items.iter().map(|i| self.value(i)).collect()),
            ast::Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), self.value(v)))
                    .collect(),
            ),
        }
    }

    fn error(&mut self, kind: Option<&str>, message: String, path: &[String]) {
        let mut e =
            json!({"message": message, "path": path, "locations": [{"line": 1, "column": 1}]});
        if let Some(kind) = kind {
            e["type"] = json!(kind);
        }
        self.errors.push(e);
    }

    fn field(
        &mut self,
        obj: &Obj,
        name: &str,
        args: &Map<String, Value>,
        path: &[String],
    ) -> Option<Res> {
        let repo = &self.state.repo;
        let arg = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        Some(match (obj, name) {
            (Obj::Query, "repository") => {
                if arg("owner") != OWNER || arg("name") != NAME {
                    self.error(
                        Some("NOT_FOUND"),
                        format!(
                            "Could not resolve to a Repository with the name '{}/{}'.",
                            arg("owner"),
                            arg("name")
                        ),
                        path,
                    );
                    return None;
                }
                Res::Obj(Obj::Repository)
            }
            (Obj::Repository, "nameWithOwner") => Res::Val(json!(format!("{OWNER}/{NAME}"))),
            (Obj::Repository, "id") => Res::Val(json!(REPO_ID)),
            (Obj::Repository, "pullRequests") => {
                let want = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_owned);
                let (head, base) = (want("headRefName"), want("baseRefName"));
                let states: Vec<String> = match args.get("states") {
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    Some(Value::String(s)) => vec![s.clone()],
                    _ => Vec::new(),
                };
                let first = args.get("first").and_then(Value::as_u64).unwrap_or(100) as usize;
                let numbers = lock(&self.state.pulls)
                    .iter()
                    .filter(|p| head.as_ref().is_none_or(|h| &p.head == h))
                    .filter(|p| base.as_ref().is_none_or(|b| &p.base == b))
                    .filter(|p| states.is_empty() || states.contains(&p.state))
                    .take(first)
                    .map(|p| p.number)
                    .collect();
                Res::Obj(Obj::Pulls(numbers))
            }
            (Obj::Repository, "pullRequest") => {
                let n = args.get("number").and_then(Value::as_u64).unwrap_or(0);
                if !lock(&self.state.pulls).iter().any(|p| p.number == n) {
                    self.error(
                        Some("NOT_FOUND"),
                        format!("Could not resolve to a PullRequest with the number of {n}."),
                        path,
                    );
                    return None;
                }
                Res::Obj(Obj::Pull(n))
            }
            (Obj::Repository, "defaultBranchRef") => Res::Obj(Obj::Ref {
                name: BRANCH.into(),
                oid: repo.head(BRANCH)?,
            }),
            (Obj::Repository, "ref") => {
                let q = arg("qualifiedName");
                let branch = q.strip_prefix("refs/heads/").unwrap_or(&q).to_owned();
                let oid = repo.head(&branch)?;
                Res::Obj(Obj::Ref { name: branch, oid })
            }
            (Obj::Repository, "object") => {
                let oid = arg("oid");
                match repo.kind(&oid)?.as_str() {
                    "commit" => Res::Obj(Obj::Commit(oid)),
                    "tree" => Res::Obj(Obj::Tree(oid)),
                    "blob" => {
                        let size = repo.blob(&oid).map_or(0, |b| b.len() as u64);
                        Res::Obj(Obj::Blob { sha: oid, size })
                    }
                    _ => return None,
                }
            }
            (Obj::Ref { name, .. }, "name") => Res::Val(json!(name)),
            (Obj::Ref { name, .. }, "id") => Res::Val(json!(format!("REF_{name}"))),
            // "Compares the current ref as a base ref to another head ref, if
            // the comparison can be made": null when the head is missing.
            (Obj::Ref { oid, .. }, "compare") => {
                let q = arg("headRef");
                let head = q.strip_prefix("refs/heads/").unwrap_or(&q).to_owned();
                Res::Obj(Obj::Comparison {
                    base: oid.clone(),
                    head: repo.head(&head)?,
                })
            }
            (Obj::Comparison { base, head }, "aheadBy") => {
                Res::Val(json!(repo.range(base, head).len()))
            }
            (Obj::Comparison { base, head }, "behindBy") => {
                Res::Val(json!(repo.range(head, base).len()))
            }
            (Obj::Comparison { base, head }, "status") => Res::Val(json!(match (
                repo.range(base, head).len(),
                repo.range(head, base).len()
            ) {
                (0, 0) => "IDENTICAL",
                (_, 0) => "AHEAD",
                (0, _) => "BEHIND",
                _ => "DIVERGED",
            })),
            (Obj::Comparison { base, head }, "commits") => {
                // Oldest first, like GitHub's comparison.
                let mut oids = repo.range(base, head);
                oids.reverse();
                if let Some(last) = args.get("last").and_then(Value::as_u64) {
                    let skip = oids.len().saturating_sub(last as usize);
                    oids.drain(..skip);
                }
                if let Some(first) = args.get("first").and_then(Value::as_u64) {
                    oids.truncate(first as usize);
                }
                Res::Obj(Obj::History(oids))
            }
            (Obj::Commit(oid), "parents") => Res::Obj(Obj::History(repo.parents(oid))),
            (Obj::Pulls(numbers), "nodes") => {
                Res::List(numbers.iter().copied().map(Obj::Pull).collect())
            }
            (Obj::Pulls(numbers), "totalCount") => Res::Val(json!(numbers.len())),
            (Obj::Pull(n), field) => {
                let pull = lock(&self.state.pulls)
                    .iter()
                    .find(|p| p.number == *n)
                    .cloned()?;
                Res::Val(match field {
                    "id" => json!(pull.id()),
                    "number" => json!(pull.number),
                    "url" => json!(pull.url()),
                    "title" => json!(pull.title),
                    "body" => json!(pull.body),
                    "state" => json!(pull.state),
                    "closed" => json!(pull.state != "OPEN"),
                    "merged" => json!(pull.state == "MERGED"),
                    "baseRefName" => json!(pull.base),
                    "headRefName" => json!(pull.head),
                    "headRefOid" => json!(repo.head(&pull.head)),
                    _ => {
                        self.error(
                            Some("undefinedField"),
                            format!(
                                "Field '{field}' doesn't exist on type 'PullRequest' (in the fake)"
                            ),
                            path,
                        );
                        return None;
                    }
                })
            }
            (Obj::RefPayload { name, oid }, "ref") => Res::Obj(Obj::Ref {
                name: name.clone(),
                oid: oid.clone(),
            }),
            (Obj::PullPayload(n), "pullRequest") => Res::Obj(Obj::Pull(*n)),
            (Obj::Empty, "clientMutationId") => Res::Val(Value::Null),
            (Obj::Mutation, "createRef") => {
                let input = args.get("input").cloned().unwrap_or(Value::Null);
                return self.create_ref(&input, path);
            }
            (Obj::Mutation, "updateRefs") => {
                let input = args.get("input").cloned().unwrap_or(Value::Null);
                return self
                    .update_refs(&input, path)
                    .then_some(Res::Obj(Obj::Empty));
            }
            (Obj::Mutation, "createPullRequest") => {
                let input = args.get("input").cloned().unwrap_or(Value::Null);
                return self
                    .create_pull(&input, path)
                    .map(|n| Res::Obj(Obj::PullPayload(n)));
            }
            (Obj::Mutation, "updatePullRequest") => {
                let input = args.get("input").cloned().unwrap_or(Value::Null);
                return self
                    .update_pull(&input, path)
                    .map(|n| Res::Obj(Obj::PullPayload(n)));
            }
            (Obj::Ref { oid, .. }, "target") => Res::Obj(Obj::Commit(oid.clone())),
            (Obj::Commit(oid) | Obj::Tree(oid), "oid") => Res::Val(json!(oid)),
            (Obj::Commit(oid), "tree") => Res::Obj(Obj::Tree(repo.peel(oid, "tree")?)),
            (Obj::Commit(oid), "message") => {
                Res::Val(json!(repo.message(oid).trim_end_matches('\n')))
            }
            (Obj::Commit(oid), "file") => Res::Obj(Obj::Entry(repo.entry(oid, &arg("path"))?)),
            (Obj::Commit(oid), "history") => {
                let first = args
                    .get("first")
                    .and_then(Value::as_u64)
                    .unwrap_or(100)
                    .min(100);
                Res::Obj(Obj::History(repo.history(oid, first as usize)))
            }
            (Obj::History(oids), "nodes") => {
                Res::List(oids.iter().cloned().map(Obj::Commit).collect())
            }
            (Obj::Entry(e), "mode") => {
                Res::Val(json!(u32::from_str_radix(&e.mode, 8).unwrap_or(0)))
            }
            (Obj::Entry(e), "path") => Res::Val(json!(e.path)),
            (Obj::Entry(e), "name") => {
                Res::Val(json!(e.path.rsplit('/').next().unwrap_or(&e.path)))
            }
            (Obj::Entry(e), "oid") => Res::Val(json!(e.sha)),
            (Obj::Entry(e), "type") => Res::Val(json!(e.kind)),
            (Obj::Entry(e), "object") => match e.kind.as_str() {
                "blob" => Res::Obj(Obj::Blob {
                    sha: e.sha.clone(),
                    size: e.size.unwrap_or(0),
                }),
                "tree" => Res::Obj(Obj::Tree(e.sha.clone())),
                _ => return None,
            },
            (Obj::Blob { sha, .. }, "oid") => Res::Val(json!(sha)),
            (Obj::Blob { size, .. }, "byteSize") => Res::Val(json!(size)),
            (Obj::Blob { sha, .. }, "isBinary") => {
                Res::Val(json!(is_binary(&repo.blob(sha).unwrap_or_default())))
            }
            (Obj::Blob { size, .. }, "isTruncated") => {
                let limit = lock(&self.state.faults).text_limit;
                Res::Val(json!(limit.is_some_and(|l| *size as usize > l)))
            }
            (Obj::Blob { sha, .. }, "text") => {
                let bytes = repo.blob(sha).unwrap_or_default();
                if is_binary(&bytes) {
                    return None;
                }
                let limit = lock(&self.state.faults).text_limit.unwrap_or(usize::MAX);
                let cut = &bytes[..bytes.len().min(limit)];
                Res::Val(json!(String::from_utf8_lossy(cut)))
            }
            (Obj::Mutation, "createCommitOnBranch") => {
                let input = args.get("input").cloned().unwrap_or(Value::Null);
                return self
                    .create_commit(&input, path)
                    .map(|c| Res::Obj(Obj::Payload(c)));
            }
            (Obj::Payload(oid), "commit") => Res::Obj(Obj::Commit(oid.clone())),
            _ => {
                self.error(
                    Some("undefinedField"),
                    format!(
                        "Field '{name}' doesn't exist on type '{}' (in the fake)",
                        obj.type_name()
                    ),
                    path,
                );
                return None;
            }
        })
    }

    /// `createCommitOnBranch`: a compare-and-swap on `expectedHeadOid`
    /// (https://docs.github.com/en/graphql/reference/mutations#createcommitonbranch).
    fn create_commit(&mut self, input: &Value, path: &[String]) -> Option<String> {
        let state = self.state;
        let repo = &state.repo;
        let s = |p: &str| {
            input
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let nwo = s("/branch/repositoryNameWithOwner");
        if nwo != format!("{OWNER}/{NAME}") {
            self.error(
                Some("NOT_FOUND"),
                format!("Could not resolve to a Repository with the name '{nwo}'."),
                path,
            );
            return None;
        }
        let branch = s("/branch/branchName");
        let expected = s("/expectedHeadOid");
        let headline = s("/message/headline");
        let body = s("/message/body");
        let message = if body.is_empty() {
            headline
        } else {
            format!("{headline}\n\n{body}")
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut files = Vec::new();
        for a in input
            .pointer("/fileChanges/additions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let p = a
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let Ok(bytes) = b64.decode(a.get("contents").and_then(Value::as_str).unwrap_or(""))
            else {
                self.error(None, format!("contents of {p} is not base64"), path);
                return None;
            };
            files.push((p, None, bytes));
        }
        let deletions: Vec<String> = input
            .pointer("/fileChanges/deletions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("path").and_then(Value::as_str).map(str::to_owned))
            .collect();

        let mut writes = lock(&state.write_lock);
        state.before_write(&branch);
        let Some(current) = repo.head(&branch) else {
            self.error(
                Some("NOT_FOUND"),
                format!("A ref named \"refs/heads/{branch}\" does not exist."),
                path,
            );
            return None;
        };
        if current != expected {
            self.error(
                Some("STALE_DATA"),
                format!("Expected branch to point to \"{expected}\" but it did not.  Pull and try again."),
                path,
            );
            return None;
        }
        let fault = state.write_fault();
        if matches!(fault, super::WriteFault::DropBefore) {
            self.dropped = true;
            return None;
        }
        let tree = repo.tree_with(&current, &files, &deletions).ok()?;
        let commit = repo
            .commit_tree(&tree, std::slice::from_ref(&current), &message)
            .ok()?;
        if matches!(fault, super::WriteFault::DropCommit) {
            return Some(commit);
        }
        if !repo.update_ref(&branch, &commit, &current) {
            self.error(
                Some("STALE_DATA"),
                format!("Expected branch to point to \"{expected}\" but it did not.  Pull and try again."),
                path,
            );
            return None;
        }
        *writes += 1;
        if state.take_drop_after() {
            self.dropped = true;
        }
        Some(commit)
    }
}

impl Ctx<'_> {
    /// Returns true if and only if `input.repositoryId` is the fake's.
    fn repository_id_ok(&mut self, input: &Value, path: &[String]) -> bool {
        let id = input
            .get("repositoryId")
            .and_then(Value::as_str)
            .unwrap_or("");
        if id == REPO_ID {
            return true;
        }
        self.error(
            Some("NOT_FOUND"),
            format!("Could not resolve to a node with the global id of '{id}'"),
            path,
        );
        false
    }

    /// `createRef`: creates a ref that must not exist yet.
    fn create_ref(&mut self, input: &Value, path: &[String]) -> Option<Res> {
        if !self.repository_id_ok(input, path) {
            return None;
        }
        let name = input.get("name").and_then(Value::as_str).unwrap_or("");
        let oid = input.get("oid").and_then(Value::as_str).unwrap_or("");
        let Some(branch) = name.strip_prefix("refs/heads/") else {
            self.error(
                None,
                format!("Reference name {name:?} must start with refs/heads/ (in the fake)"),
                path,
            );
            return None;
        };
        let state = self.state;
        let _writes = lock(&state.write_lock);
        if state.repo.kind(oid).as_deref() != Some("commit") {
            self.error(None, format!("Object {oid} does not exist"), path);
            return None;
        }
        if !state.repo.create_ref(branch, oid) {
            self.error(
                Some("UNPROCESSABLE"),
                format!("A ref named \"{name}\" already exists in the repository."),
                path,
            );
            return None;
        }
        Some(Res::Obj(Obj::RefPayload {
            name: branch.to_owned(),
            oid: oid.to_owned(),
        }))
    }

    /// `updateRefs`: all updates or none; each checks `beforeOid` when
    /// given and refuses non-fast-forwards unless `force`.
    fn update_refs(&mut self, input: &Value, path: &[String]) -> bool {
        if !self.repository_id_ok(input, path) {
            return false;
        }
        let state = self.state;
        let repo = &state.repo;
        let updates: Vec<Value> = input
            .get("refUpdates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut writes = lock(&state.write_lock);
        let mut planned = Vec::new();
        for u in &updates {
            let s = |k: &str| u.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let name = s("name");
            let branch = name.strip_prefix("refs/heads/").unwrap_or(&name).to_owned();
            state.before_write(&branch);
            let current = repo.head(&branch);
            let (after, before) = (s("afterOid"), s("beforeOid"));
            let force = u.get("force").and_then(Value::as_bool).unwrap_or(false);
            let zero = "0000000000000000000000000000000000000000";
            let at = current.clone().unwrap_or_else(|| zero.to_owned());
            if !before.is_empty() && before != at {
                self.error(
                    None,
                    format!("Ref {name} is at {at}, not at the expected {before}"),
                    path,
                );
                return false;
            }
            if repo.kind(&after).as_deref() != Some("commit") {
                self.error(None, format!("Object {after} does not exist"), path);
                return false;
            }
            if !force
                && current
                    .as_ref()
                    .is_some_and(|c| !repo.is_ancestor(c, &after))
            {
                self.error(
                    None,
                    format!("Update to {name} is not a fast forward"),
                    path,
                );
                return false;
            }
            planned.push((branch, after, at));
        }
        for (branch, after, at) in planned {
            if !repo.update_ref(&branch, &after, &at) {
                self.error(None, format!("Ref {branch} moved"), path);
                return false;
            }
            *writes += 1;
        }
        if state.take_drop_after() {
            self.dropped = true;
        }
        true
    }

    /// `createPullRequest`: one open pull request per head and base.
    fn create_pull(&mut self, input: &Value, path: &[String]) -> Option<u64> {
        if let Some(status) = lock(&self.state.faults).forbid_pull_requests {
            if status == 200 {
                self.error(
                    Some("FORBIDDEN"),
                    "Resource not accessible by integration".into(),
                    path,
                );
            } else {
                self.status = Some(status);
            }
            return None;
        }
        if !self.repository_id_ok(input, path) {
            return None;
        }
        let s = |k: &str| {
            input
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (base, head) = (s("baseRefName"), s("headRefName"));
        let repo = &self.state.repo;
        let (Some(base_oid), Some(head_oid)) = (repo.head(&base), repo.head(&head)) else {
            self.error(
                Some("UNPROCESSABLE"),
                format!("Head sha can't be blank, Base sha can't be blank, No commits between {base} and {head}, Head ref must be a branch, Base ref must be a branch"),
                path,
            );
            return None;
        };
        if repo.range(&base_oid, &head_oid).is_empty() {
            self.error(
                Some("UNPROCESSABLE"),
                format!("No commits between {base} and {head}"),
                path,
            );
            return None;
        }
        let mut pulls = lock(&self.state.pulls);
        if pulls
            .iter()
            .any(|p| p.state == "OPEN" && p.head == head && p.base == base)
        {
            self.error(
                Some("UNPROCESSABLE"),
                format!("A pull request already exists for {OWNER}:{head}."),
                path,
            );
            return None;
        }
        let number = pulls.len() as u64 + 1;
        pulls.push(super::Pull {
            number,
            title: s("title"),
            body: s("body"),
            state: "OPEN".into(),
            base,
            head,
        });
        Some(number)
    }

    /// `updatePullRequest`: title, body and state by node id.
    fn update_pull(&mut self, input: &Value, path: &[String]) -> Option<u64> {
        if let Some(status) = lock(&self.state.faults).forbid_pull_requests {
            if status == 200 {
                self.error(
                    Some("FORBIDDEN"),
                    "Resource not accessible by integration".into(),
                    path,
                );
            } else {
                self.status = Some(status);
            }
            return None;
        }
        let id = input
            .get("pullRequestId")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut pulls = lock(&self.state.pulls);
        let Some(pull) = pulls.iter_mut().find(|p| p.id() == id) else {
            self.error(
                Some("NOT_FOUND"),
                format!("Could not resolve to a node with the global id of '{id}'"),
                path,
            );
            return None;
        };
        if let Some(t) = input.get("title").and_then(Value::as_str) {
            pull.title = t.to_owned();
        }
        if let Some(b) = input.get("body").and_then(Value::as_str) {
            pull.body = b.to_owned();
        }
        if let Some(st) = input.get("state").and_then(Value::as_str) {
            pull.state = st.to_owned();
        }
        Some(pull.number)
    }
}

/// The fake repository's node id.
const REPO_ID: &str = "R_kgDOfakeRepo";

/// Git's heuristic: a NUL byte in the first 8000 bytes.
fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8000).any(|b| *b == 0)
}
