//! The fake's GraphQL endpoint: parses each document with apollo-compiler,
//! validates it against GitHub's public schema when `../shared` has it (so a
//! document GitHub would reject fails here too), coerces the variables
//! against the schema as graphql-ruby (GitHub's server) does, then executes
//! it over the real repository. Implements the fields listed in the module
//! docs of `fake_github`; any other field is an error, never a silent null.
//!
//! Field errors have GitHub's shape: the field is null in `data`, and the
//! error carries `type`, `path` (response keys, so aliases) and the field's
//! `locations` in the document, e.g. for a stale head
//! `{"data":{"createCommitOnBranch":null},"errors":[{"type":"STALE_DATA","path":["createCommitOnBranch"],"locations":[{"line":1,"column":48}],"message":"Expected branch to point to \"…\" but it did not.  Pull and try again."}]}`
//! (ministryofjustice/modernisation-platform#11985).

use std::collections::HashMap;
use std::sync::OnceLock;

use apollo_compiler::ast::{self, Definition, OperationType, Selection};
use apollo_compiler::parser::SourceMap;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::git::{CommitInfo, Entry, Signature};
use super::{Answer, BOT_EMAIL, BOT_LOGIN, BOT_NAME, BRANCH, NAME, OWNER, Pull, State, lock};

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

/// `query Name` / `mutation Name` (or the bare kind when anonymous) of the
/// operation a request body would run, for [`super::FakeGitHub::operations`].
pub fn operation_label(body: &Value) -> String {
    let query = body.get("query").and_then(Value::as_str).unwrap_or("");
    let wanted = body.get("operationName").and_then(Value::as_str);
    let Ok(doc) = ast::Document::parse(query, "request.graphql") else {
        return "invalid".into();
    };
    match pick_operation(&doc, wanted) {
        Some(op) => {
            let kind = match op.operation_type {
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
                OperationType::Query => "query",
            };
            match &op.name {
                Some(n) => format!("{kind} {n}"),
                None => kind.into(),
            }
        }
        None => "invalid".into(),
    }
}

/// Runs one GraphQL request.
pub fn execute(state: &State, body: &Value) -> Answer {
    let top = |errors: Vec<Value>| Answer::Json(200, vec![], json!({ "errors": errors }));
    let Some(query) = body.get("query").and_then(Value::as_str) else {
        return top(vec![
            json!({"message": "A query attribute must be specified and must be a string."}),
        ]);
    };
    let vars = body
        .get("variables")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(schema) = schema()
        && let Err(e) = ExecutableDocument::parse_and_validate(schema, query, "request.graphql")
    {
        let errors = e
            .errors
            .iter()
            .map(|d| serde_json::to_value(d.unstable_to_json_compat()).unwrap_or(Value::Null))
            .collect();
        return top(github_validation_errors(errors));
    }
    let doc = match ast::Document::parse(query, "request.graphql") {
        Ok(d) => d,
        Err(e) => return top(vec![json!({"message": format!("{}", e.errors)})]),
    };
    let wanted = body.get("operationName").and_then(Value::as_str);
    let Some(op) = pick_operation(&doc, wanted) else {
        return top(vec![
            json!({"message": "No operation named in the document"}),
        ]);
    };
    if let Some(schema) = schema() {
        let errors = coerce_variables(schema, &op, &vars, &doc.sources);
        if !errors.is_empty() {
            return top(errors);
        }
    }
    let mut fragments = HashMap::new();
    for def in &doc.definitions {
        if let Definition::FragmentDefinition(f) = def {
            fragments.insert(f.name.to_string(), f.clone());
        }
    }
    let mut ctx = Ctx {
        state,
        vars,
        fragments,
        sources: doc.sources.clone(),
        loc: json!([]),
        errors: Vec::new(),
        dropped: false,
        status: None,
        infos: HashMap::new(),
        blobs: HashMap::new(),
        shown: HashMap::new(),
        mutation_id: None,
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
    let mut out = json!({ "data": data });
    if !ctx.errors.is_empty() {
        out["errors"] = Value::Array(ctx.errors);
    }
    Answer::Json(200, vec![], out)
}

/// apollo-compiler's validation errors in graphql-ruby's words where they
/// differ: an unknown field is `Field 'x' doesn't exist on type 'T'` with
/// `extensions { code: "undefinedField", typeName, fieldName }` (the error
/// every GitHub client has seen), and apollo's extra "must have a selection
/// of subfields" for a selection left with only unknown fields is dropped,
/// as graphql-ruby reports the unknown field alone.
fn github_validation_errors(errors: Vec<Value>) -> Vec<Value> {
    let undefined = |m: &str| -> Option<(String, String)> {
        let rest = m.strip_prefix("Cannot query field \"")?;
        let (field, rest) = rest.split_once("\" on type \"")?;
        let ty = rest.strip_suffix("\".")?;
        Some((field.to_owned(), ty.to_owned()))
    };
    let message = |e: &Value| e["message"].as_str().unwrap_or("").to_owned();
    let any_undefined = errors.iter().any(|e| undefined(&message(e)).is_some());
    errors
        .into_iter()
        .filter(|e| !(any_undefined && message(e).contains("must have a selection of subfields")))
        .map(|mut e| {
            if let Some((field, ty)) = undefined(&message(&e)) {
                e["message"] = json!(format!("Field '{field}' doesn't exist on type '{ty}'"));
                e["extensions"] =
                    json!({"code": "undefinedField", "typeName": ty, "fieldName": field});
            }
            e
        })
        .collect()
}

fn pick_operation(
    doc: &ast::Document,
    wanted: Option<&str>,
) -> Option<Node<ast::OperationDefinition>> {
    doc.definitions.iter().find_map(|d| match d {
        Definition::OperationDefinition(o)
            if wanted.is_none() || o.name.as_ref().map(|n| n.as_str()) == wanted =>
        {
            Some(o.clone())
        }
        _ => None,
    })
}

/// A connection page: its items and what `pageInfo`/`edges` report.
#[derive(Clone, Debug)]
struct Conn {
    type_name: &'static str,
    items: Vec<Obj>,
    cursors: Vec<String>,
    total: usize,
    has_next: bool,
    has_prev: bool,
}

/// The fields of the various mutation payloads.
#[derive(Clone, Debug, Default)]
struct Payload {
    type_name: &'static str,
    commit: Option<String>,
    reference: Option<(String, String)>,
    pull: Option<u64>,
    comment: Option<String>,
    mutation_id: Option<String>,
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
    Conn(Conn),
    Edge {
        cursor: String,
        node: Box<Obj>,
        type_name: &'static str,
    },
    PageInfo {
        start: Option<String>,
        end: Option<String>,
        has_next: bool,
        has_prev: bool,
    },
    /// `Ref.compare`: base and head commits.
    Comparison {
        base: String,
        head: String,
    },
    Pull(u64),
    Comment(String),
    Payload(Payload),
    /// `GitActor`: one side of a commit.
    GitActor(Signature),
    User(String),
    Bot(String),
    /// `GpgSignature` of a commit GitHub signed.
    Signature(String),
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
            Obj::Conn(c) => c.type_name,
            Obj::Edge { type_name, .. } => type_name,
            Obj::PageInfo { .. } => "PageInfo",
            Obj::Comparison { .. } => "Comparison",
            Obj::Pull(_) => "PullRequest",
            Obj::Comment(_) => "IssueComment",
            Obj::Payload(p) => p.type_name,
            Obj::GitActor(_) => "GitActor",
            Obj::User(_) => "User",
            Obj::Bot(_) => "Bot",
            Obj::Signature(_) => "GpgSignature",
        }
    }

    /// Returns true if and only if a fragment on `cond` applies to this object.
    fn is(&self, cond: &str) -> bool {
        cond == self.type_name()
            || match cond {
                "GitObject" => matches!(self, Obj::Commit(_) | Obj::Tree(_) | Obj::Blob { .. }),
                "Node" => matches!(
                    self,
                    Obj::Repository
                        | Obj::Ref { .. }
                        | Obj::Commit(_)
                        | Obj::Tree(_)
                        | Obj::Blob { .. }
                        | Obj::Pull(_)
                        | Obj::Comment(_)
                        | Obj::User(_)
                        | Obj::Bot(_)
                ),
                "Actor" => matches!(self, Obj::User(_) | Obj::Bot(_)),
                "GitSignature" => matches!(self, Obj::Signature(_)),
                "Comment" | "UpdatableComment" => matches!(self, Obj::Comment(_) | Obj::Pull(_)),
                _ => false,
            }
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
    fragments: HashMap<String, Node<ast::FragmentDefinition>>,
    sources: SourceMap,
    /// `locations` of the field being resolved.
    loc: Value,
    errors: Vec<Value>,
    dropped: bool,
    /// Answer the whole request with this HTTP status instead (403).
    status: Option<u16>,
    /// Commit metadata read so far in this request.
    infos: HashMap<String, CommitInfo>,
    /// Blobs read so far in this request (`isBinary`, `isTruncated` and
    /// `text` of one file cost one read).
    blobs: HashMap<String, std::sync::Arc<Vec<u8>>>,
    /// Commit ids to show differently (`Faults::bad_oids`).
    shown: HashMap<String, String>,
    /// `clientMutationId` of the mutation being answered.
    mutation_id: Option<String>,
}

impl Ctx<'_> {
    fn select(&mut self, obj: &Obj, selections: &[Selection], path: &[Value]) -> Value {
        let mut out = Map::new();
        self.select_into(obj, selections, path, &mut out);
        Value::Object(out)
    }

    fn select_into(
        &mut self,
        obj: &Obj,
        selections: &[Selection],
        path: &[Value],
        out: &mut Map<String, Value>,
    ) {
        for sel in selections {
            match sel {
                Selection::Field(f) => {
                    let key = f.alias.as_ref().unwrap_or(&f.name).to_string();
                    let mut here = path.to_vec();
                    here.push(json!(key));
                    let args: Map<String, Value> = f
                        .arguments
                        .iter()
                        .map(|a| (a.name.to_string(), self.value(&a.value)))
                        .collect();
                    let value = if f.name == "__typename" {
                        json!(obj.type_name())
                    } else {
                        self.loc = match f.line_column_range(&self.sources) {
                            Some(r) => json!([{"line": r.start.line, "column": r.start.column}]),
                            None => json!([]),
                        };
                        self.state
                            .count_field(format!("{}.{}", obj.type_name(), f.name));
                        match self.field(obj, &f.name, &args, &here) {
                            None => Value::Null,
                            Some(Res::Val(v)) => v,
                            Some(Res::Obj(o)) => self.select(&o, &f.selection_set, &here),
                            Some(Res::List(items)) => Value::Array(
                                items
                                    .iter()
                                    .enumerate()
                                    .map(|(i, o)| {
                                        let mut at = here.clone();
                                        at.push(json!(i));
                                        self.select(o, &f.selection_set, &at)
                                    })
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

    /// A field error at the field being resolved.
    fn error(&mut self, kind: Option<&str>, message: String, path: &[Value]) {
        let mut e = json!({"message": message, "path": path, "locations": self.loc});
        if let Some(kind) = kind {
            e["type"] = json!(kind);
        }
        self.errors.push(e);
    }

    fn info(&mut self, oid: &str) -> Option<CommitInfo> {
        if let Some(i) = self.infos.get(oid) {
            return Some(i.clone());
        }
        let info = self.state.repo.info(oid)?;
        self.infos.insert(oid.to_owned(), info.clone());
        Some(info)
    }

    fn blob(&mut self, sha: &str) -> std::sync::Arc<Vec<u8>> {
        if let Some(b) = self.blobs.get(sha) {
            return b.clone();
        }
        let bytes = std::sync::Arc::new(self.state.repo.blob(sha).unwrap_or_default());
        self.blobs.insert(sha.to_owned(), bytes.clone());
        bytes
    }

    fn field(
        &mut self,
        obj: &Obj,
        name: &str,
        args: &Map<String, Value>,
        path: &[Value],
    ) -> Option<Res> {
        let state = self.state;
        let repo = &state.repo;
        let arg = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let opt = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_owned);
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
            (Obj::Repository, "name") => Res::Val(json!(NAME)),
            (Obj::Repository, "id") => Res::Val(json!(REPO_ID)),
            (Obj::Repository, "url") => {
                Res::Val(json!(format!("https://github.com/{OWNER}/{NAME}")))
            }
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
                let items: Vec<Obj> = lock(&state.pulls)
                    .iter()
                    .filter(|p| head.as_ref().is_none_or(|h| &p.head == h))
                    .filter(|p| base.as_ref().is_none_or(|b| &p.base == b))
                    .filter(|p| states.is_empty() || states.contains(&p.state))
                    .map(|p| Obj::Pull(p.number))
                    .collect();
                return self.page(
                    "pullRequests",
                    "PullRequestConnection",
                    items,
                    None,
                    args,
                    path,
                );
            }
            (Obj::Repository, "pullRequest") => {
                let n = args.get("number").and_then(Value::as_u64).unwrap_or(0);
                if !lock(&state.pulls).iter().any(|p| p.number == n) {
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
                let oid = match (opt("oid"), opt("expression")) {
                    (Some(oid), _) => oid,
                    (None, Some(expr)) if !expr.starts_with('-') => {
                        let out = repo.git(&["rev-parse", "--verify", "-q", &expr]).ok()?;
                        String::from_utf8_lossy(&out).trim().to_owned()
                    }
                    _ => return None,
                };
                match repo.kind(&oid)?.as_str() {
                    "commit" => Res::Obj(Obj::Commit(oid)),
                    "tree" => Res::Obj(Obj::Tree(oid)),
                    "blob" => {
                        let size = repo.blob_size(&oid).unwrap_or(0);
                        Res::Obj(Obj::Blob { sha: oid, size })
                    }
                    _ => return None,
                }
            }
            (Obj::Ref { name, .. }, "name") => Res::Val(json!(name)),
            (Obj::Ref { .. }, "prefix") => Res::Val(json!("refs/heads/")),
            (Obj::Ref { name, .. }, "id") => Res::Val(json!(format!("REF_{name}"))),
            (Obj::Ref { oid, .. }, "target") => Res::Obj(Obj::Commit(oid.clone())),
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
            (Obj::Comparison { base, .. }, "baseTarget") => Res::Obj(Obj::Commit(base.clone())),
            (Obj::Comparison { head, .. }, "headTarget") => Res::Obj(Obj::Commit(head.clone())),
            (Obj::Comparison { base, head }, "commits") => {
                // Oldest first, like GitHub's comparison.
                let mut oids = repo.range(base, head);
                oids.reverse();
                let items = oids.into_iter().map(Obj::Commit).collect();
                return self.page(
                    "commits",
                    "ComparisonCommitConnection",
                    items,
                    None,
                    args,
                    path,
                );
            }
            (Obj::Commit(oid) | Obj::Tree(oid), "oid") => {
                Res::Val(json!(self.shown.get(oid).unwrap_or(oid)))
            }
            (Obj::Commit(oid) | Obj::Tree(oid), "abbreviatedOid") => {
                Res::Val(json!(oid.get(..7).unwrap_or(oid)))
            }
            (Obj::Commit(oid), "id") => Res::Val(json!(format!("C_{oid}"))),
            (Obj::Tree(oid), "id") => Res::Val(json!(format!("T_{oid}"))),
            (Obj::Commit(oid), "url" | "commitUrl") => Res::Val(json!(format!(
                "https://github.com/{OWNER}/{NAME}/commit/{oid}"
            ))),
            (Obj::Commit(oid), "tree") => Res::Obj(Obj::Tree(self.info(oid)?.tree)),
            (Obj::Commit(oid), "message") => Res::Val(json!(self.info(oid)?.message)),
            (Obj::Commit(oid), "messageHeadline") => {
                let m = self.info(oid)?.message;
                Res::Val(json!(m.lines().next().unwrap_or("")))
            }
            (Obj::Commit(oid), "messageBody") => {
                let m = self.info(oid)?.message;
                let body = m.split_once('\n').map_or("", |(_, rest)| rest);
                Res::Val(json!(body.trim_start_matches('\n')))
            }
            (Obj::Commit(oid), "author") => Res::Obj(Obj::GitActor(self.info(oid)?.author)),
            (Obj::Commit(oid), "committer") => Res::Obj(Obj::GitActor(self.info(oid)?.committer)),
            (Obj::Commit(oid), "authoredDate") => Res::Val(json!(self.info(oid)?.author.date_utc)),
            (Obj::Commit(oid), "committedDate") => {
                Res::Val(json!(self.info(oid)?.committer.date_utc))
            }
            (Obj::Commit(oid), "signature") => {
                if !state.is_signed(oid) {
                    return None;
                }
                Res::Obj(Obj::Signature(oid.clone()))
            }
            (Obj::Commit(oid), "parents") => {
                let items = self
                    .info(oid)?
                    .parents
                    .into_iter()
                    .map(Obj::Commit)
                    .collect();
                return self.page("parents", "CommitConnection", items, None, args, path);
            }
            (Obj::Commit(oid), "file") => Res::Obj(Obj::Entry(repo.entry(oid, &arg("path"))?)),
            (Obj::Commit(oid), "history") => {
                let mut oids = repo.filtered_history(
                    oid,
                    opt("path").as_deref(),
                    opt("since").as_deref(),
                    opt("until").as_deref(),
                );
                // `author: {emails: [...]}` keeps commits by those authors.
                if let Some(emails) = args
                    .get("author")
                    .and_then(|a| a.get("emails"))
                    .and_then(Value::as_array)
                {
                    let emails: Vec<&str> = emails.iter().filter_map(Value::as_str).collect();
                    oids.retain(|c| {
                        self.info(c)
                            .is_some_and(|i| emails.contains(&i.author.email.as_str()))
                    });
                }
                let items = oids.into_iter().map(Obj::Commit).collect();
                return self.page(
                    "history",
                    "CommitHistoryConnection",
                    items,
                    Some(oid),
                    args,
                    path,
                );
            }
            (Obj::GitActor(s), "name") => Res::Val(json!(s.name)),
            (Obj::GitActor(s), "email") => Res::Val(json!(s.email)),
            (Obj::GitActor(s), "date") => Res::Val(json!(s.date)),
            (Obj::GitActor(s), "user") => Res::Obj(Obj::User(state.login_for(&s.email)?)),
            (Obj::User(login) | Obj::Bot(login), "login") => Res::Val(json!(login)),
            (Obj::User(login) | Obj::Bot(login), "id") => Res::Val(json!(format!("U_{login}"))),
            (Obj::User(login) | Obj::Bot(login), "url") => {
                Res::Val(json!(format!("https://github.com/{login}")))
            }
            (Obj::Signature(_), "isValid") => Res::Val(json!(true)),
            (Obj::Signature(_), "state") => Res::Val(json!("VALID")),
            (Obj::Signature(_), "wasSignedByGitHub") => Res::Val(json!(true)),
            (Obj::Signature(_), "signer") => Res::Obj(Obj::User(super::WEB_FLOW.into())),
            (Obj::Signature(_), "email") => Res::Val(json!("noreply@github.com")),
            (Obj::Signature(_), "keyId") => Res::Val(json!("B5690EEEBB952194")),
            (Obj::Signature(oid), "payload") => {
                Res::Val(json!(format!("tree {}\n", self.info(oid)?.tree)))
            }
            (Obj::Signature(oid), "signature") => Res::Val(json!(format!(
                "-----BEGIN PGP SIGNATURE-----\n\nfake signature of {oid}\n-----END PGP SIGNATURE-----\n"
            ))),
            (Obj::Signature(oid), "verifiedAt") => {
                Res::Val(json!(self.info(oid)?.committer.date_utc))
            }
            (Obj::Tree(oid), "entries") => Res::List(
                repo.ls_tree(oid, false)
                    .into_iter()
                    .map(Obj::Entry)
                    .collect(),
            ),
            (Obj::Entry(e), "mode") => {
                Res::Val(json!(u32::from_str_radix(&e.mode, 8).unwrap_or(0)))
            }
            (Obj::Entry(e), "path") => Res::Val(json!(e.path)),
            (Obj::Entry(e), "name") => {
                Res::Val(json!(e.path.rsplit('/').next().unwrap_or(&e.path)))
            }
            (Obj::Entry(e), "oid") => Res::Val(json!(e.sha)),
            (Obj::Entry(e), "type") => Res::Val(json!(e.kind)),
            (Obj::Entry(e), "size") => Res::Val(json!(e.size.unwrap_or(0))),
            (Obj::Entry(e), "object") => match e.kind.as_str() {
                "blob" => Res::Obj(Obj::Blob {
                    sha: e.sha.clone(),
                    size: e.size.unwrap_or(0),
                }),
                "tree" => Res::Obj(Obj::Tree(e.sha.clone())),
                _ => return None,
            },
            (Obj::Blob { sha, .. }, "oid") => Res::Val(json!(sha)),
            (Obj::Blob { sha, .. }, "abbreviatedOid") => {
                Res::Val(json!(sha.get(..7).unwrap_or(sha)))
            }
            (Obj::Blob { sha, .. }, "id") => Res::Val(json!(format!("B_{sha}"))),
            (Obj::Blob { size, .. }, "byteSize") => Res::Val(json!(size)),
            (Obj::Blob { sha, .. }, "isBinary") => Res::Val(json!(is_binary(&self.blob(sha)))),
            (Obj::Blob { sha, size }, "isTruncated") => {
                let f = lock(&state.faults);
                let (limit, missing) = (f.text_limit, f.text_missing_over);
                drop(f);
                let binary = is_binary(&self.blob(sha));
                let hidden = missing.is_some_and(|m| *size > m);
                Res::Val(json!(
                    !binary && !hidden && limit.is_some_and(|l| *size as usize > l)
                ))
            }
            (Obj::Blob { sha, size }, "text") => {
                let (limit, missing) = {
                    let f = lock(&state.faults);
                    (f.text_limit.unwrap_or(usize::MAX), f.text_missing_over)
                };
                if missing.is_some_and(|m| *size > m) {
                    return None;
                }
                let bytes = self.blob(sha);
                if is_binary(&bytes) {
                    return None;
                }
                let cut = &bytes[..bytes.len().min(limit)];
                Res::Val(json!(String::from_utf8_lossy(cut)))
            }
            (Obj::Conn(c), "nodes") => Res::List(c.items.clone()),
            (Obj::Conn(c), "edges") => Res::List(
                c.items
                    .iter()
                    .zip(&c.cursors)
                    .map(|(node, cursor)| Obj::Edge {
                        cursor: cursor.clone(),
                        node: Box::new(node.clone()),
                        type_name: edge_type(c.type_name),
                    })
                    .collect(),
            ),
            (Obj::Conn(c), "totalCount") => Res::Val(json!(c.total)),
            (Obj::Conn(c), "pageInfo") => Res::Obj(Obj::PageInfo {
                start: c.cursors.first().cloned(),
                end: c.cursors.last().cloned(),
                has_next: c.has_next,
                has_prev: c.has_prev,
            }),
            (Obj::Conn(c), "authorCount") => {
                let mut authors: Vec<String> = Vec::new();
                for item in c.items.clone() {
                    if let Obj::Commit(oid) = item
                        && let Some(i) = self.info(&oid)
                        && !authors.contains(&i.author.email)
                    {
                        authors.push(i.author.email);
                    }
                }
                Res::Val(json!(authors.len()))
            }
            (Obj::Edge { cursor, .. }, "cursor") => Res::Val(json!(cursor)),
            (Obj::Edge { node, .. }, "node") => Res::Obj((**node).clone()),
            (
                Obj::PageInfo {
                    start,
                    end,
                    has_next,
                    has_prev,
                },
                f,
            ) => Res::Val(match f {
                "startCursor" => json!(start),
                "endCursor" => json!(end),
                "hasNextPage" => json!(has_next),
                "hasPreviousPage" => json!(has_prev),
                _ => return self.undefined(obj, name, path),
            }),
            (Obj::Pull(n), field) => return self.pull_field(*n, field, args, path),
            (Obj::Comment(id), field) => {
                let c = lock(&state.comments)
                    .iter()
                    .find(|c| &c.id == id)
                    .cloned()?;
                match field {
                    "id" => Res::Val(json!(c.id)),
                    "body" | "bodyText" => Res::Val(json!(c.body)),
                    "url" => Res::Val(json!(c.url())),
                    "createdAt" | "updatedAt" => Res::Val(json!(c.created_at)),
                    "author" => Res::Obj(Obj::Bot(c.author)),
                    _ => return self.undefined(obj, name, path),
                }
            }
            (Obj::Payload(p), "clientMutationId") => Res::Val(json!(p.mutation_id)),
            (Obj::Payload(p), "commit") => Res::Obj(Obj::Commit(p.commit.clone()?)),
            (Obj::Payload(p), "ref") => {
                let (name, oid) = p.reference.clone()?;
                Res::Obj(Obj::Ref { name, oid })
            }
            (Obj::Payload(p), "pullRequest") => Res::Obj(Obj::Pull(p.pull?)),
            (Obj::Payload(p), "subject") => Res::Obj(Obj::Pull(p.pull?)),
            (Obj::Payload(p), "commentEdge") => {
                let id = p.comment.clone()?;
                Res::Obj(Obj::Edge {
                    cursor: cursor_enc(None, 0),
                    node: Box::new(Obj::Comment(id)),
                    type_name: "IssueCommentEdge",
                })
            }
            (Obj::Mutation, mutation) => {
                let input = args.get("input").cloned().unwrap_or(Value::Null);
                self.mutation_id = input
                    .get("clientMutationId")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let payload = match mutation {
                    "createCommitOnBranch" => self.create_commit(&input, path).map(|c| Payload {
                        type_name: "CreateCommitOnBranchPayload",
                        reference: c.1,
                        commit: Some(c.0),
                        ..Payload::default()
                    }),
                    "createRef" => self.create_ref(&input, path).map(|r| Payload {
                        type_name: "CreateRefPayload",
                        reference: Some(r),
                        ..Payload::default()
                    }),
                    "updateRefs" => self.update_refs(&input, path).then(|| Payload {
                        type_name: "UpdateRefsPayload",
                        ..Payload::default()
                    }),
                    "deleteRef" => self.delete_ref(&input, path).then(|| Payload {
                        type_name: "DeleteRefPayload",
                        ..Payload::default()
                    }),
                    "createPullRequest" => self.create_pull(&input, path).map(|n| Payload {
                        type_name: "CreatePullRequestPayload",
                        pull: Some(n),
                        ..Payload::default()
                    }),
                    "updatePullRequest" => self.update_pull(&input, path).map(|n| Payload {
                        type_name: "UpdatePullRequestPayload",
                        pull: Some(n),
                        ..Payload::default()
                    }),
                    "closePullRequest" => self.close_pull(&input, path).map(|n| Payload {
                        type_name: "ClosePullRequestPayload",
                        pull: Some(n),
                        ..Payload::default()
                    }),
                    "addComment" => self.add_comment(&input, path).map(|(n, id)| Payload {
                        type_name: "AddCommentPayload",
                        pull: Some(n),
                        comment: Some(id),
                        ..Payload::default()
                    }),
                    _ => return self.undefined(obj, name, path),
                }?;
                Res::Obj(Obj::Payload(Payload {
                    mutation_id: self.mutation_id.clone(),
                    ..payload
                }))
            }
            _ => return self.undefined(obj, name, path),
        })
    }

    fn undefined(&mut self, obj: &Obj, name: &str, path: &[Value]) -> Option<Res> {
        self.error(
            Some("undefinedField"),
            format!(
                "Field '{name}' doesn't exist on type '{}' (in the fake)",
                obj.type_name()
            ),
            path,
        );
        None
    }

    /// One page of a connection, after GitHub's node-limit checks: `first`
    /// or `last` is required and at most 100 (docs: "Rate limits and query
    /// limits for the GraphQL API", node limit). `history` is the commit a
    /// history starts from, which GitHub's history cursors name
    /// (`"<oid> <n>"`).
    fn page(
        &mut self,
        field: &str,
        type_name: &'static str,
        items: Vec<Obj>,
        history: Option<&str>,
        args: &Map<String, Value>,
        path: &[Value],
    ) -> Option<Res> {
        let first = args.get("first").and_then(Value::as_i64);
        let last = args.get("last").and_then(Value::as_i64);
        if first.is_none() && last.is_none() {
            self.error(
                Some("MISSING_PAGINATION_BOUNDARIES"),
                format!(
                    "You must provide a `first` or `last` value to properly paginate the `{field}` connection."
                ),
                path,
            );
            return None;
        }
        for (name, n) in [("first", first), ("last", last)] {
            if let Some(n) = n
                && n > 100
            {
                self.error(
                    Some("EXCESSIVE_PAGINATION"),
                    format!(
                        "Requesting {n} records on the `{field}` connection exceeds the `{name}` limit of 100 records."
                    ),
                    path,
                );
                return None;
            }
        }
        let total = items.len();
        let mut start = 0usize;
        let mut end = total;
        for (name, is_after) in [("after", true), ("before", false)] {
            let Some(c) = args.get(name).and_then(Value::as_str) else {
                continue;
            };
            let Some(i) = cursor_dec(history, c) else {
                self.error(
                    Some("INVALID_CURSOR_ARGUMENTS"),
                    format!("`{c}` does not appear to be a valid cursor."),
                    path,
                );
                return None;
            };
            if is_after {
                start = (i + 1).min(total);
            } else {
                end = i.min(total);
            }
        }
        end = end.max(start);
        if let Some(n) = first {
            end = end.min(start + n.max(0) as usize);
        }
        if let Some(n) = last {
            start = start.max(end.saturating_sub(n.max(0) as usize));
        }
        Some(Res::Obj(Obj::Conn(Conn {
            type_name,
            items: items[start..end].to_vec(),
            cursors: (start..end).map(|i| cursor_enc(history, i)).collect(),
            total,
            has_next: end < total,
            has_prev: start > 0,
        })))
    }

    fn pull_field(
        &mut self,
        n: u64,
        field: &str,
        args: &Map<String, Value>,
        path: &[Value],
    ) -> Option<Res> {
        let state = self.state;
        let pull = lock(&state.pulls).iter().find(|p| p.number == n).cloned()?;
        Some(Res::Val(match field {
            "id" => json!(pull.id()),
            "number" => json!(pull.number),
            "url" | "permalink" => json!(pull.url()),
            "title" => json!(pull.title),
            "body" | "bodyText" => json!(pull.body),
            "state" => json!(pull.state),
            "closed" => json!(!pull.is_open()),
            "merged" => json!(pull.state == "MERGED"),
            "isDraft" => json!(pull.draft),
            "baseRefName" => json!(pull.base),
            "headRefName" => json!(pull.head),
            "headRefOid" => json!(pull.head_oid),
            "baseRefOid" => json!(state.repo.head(&pull.base)),
            "createdAt" => json!(pull.created_at),
            "closedAt" => json!(pull.closed_at),
            "mergedAt" => json!(if pull.state == "MERGED" {
                pull.closed_at.clone()
            } else {
                None
            }),
            "headRef" => {
                let oid = state.repo.head(&pull.head)?;
                return Some(Res::Obj(Obj::Ref {
                    name: pull.head,
                    oid,
                }));
            }
            "baseRef" => {
                let oid = state.repo.head(&pull.base)?;
                return Some(Res::Obj(Obj::Ref {
                    name: pull.base,
                    oid,
                }));
            }
            "author" => return Some(Res::Obj(Obj::Bot(pull.author))),
            "comments" => {
                let items = lock(&state.comments)
                    .iter()
                    .filter(|c| c.pull == n)
                    .map(|c| Obj::Comment(c.id.clone()))
                    .collect();
                return self.page(
                    "comments",
                    "IssueCommentConnection",
                    items,
                    None,
                    args,
                    path,
                );
            }
            _ => return self.undefined(&Obj::Pull(n), field, path),
        }))
    }

    /// `createCommitOnBranch`: a compare-and-swap on `expectedHeadOid`
    /// (docs: mutations, createCommitOnBranch). Authored by the token's
    /// bot, committed by GitHub as on the web, signed by `web-flow`
    /// ("Commits made using this mutation are automatically signed by
    /// GitHub"). Returns the new commit and the branch (name, head).
    fn create_commit(
        &mut self,
        input: &Value,
        path: &[Value],
    ) -> Option<(String, Option<(String, String)>)> {
        let state = self.state;
        let repo = &state.repo;
        let s = |p: &str| {
            input
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (nwo, branch) = match input.pointer("/branch/id").and_then(Value::as_str) {
            Some(id) => (
                format!("{OWNER}/{NAME}"),
                id.strip_prefix("REF_").unwrap_or(id).to_owned(),
            ),
            None => (
                s("/branch/repositoryNameWithOwner"),
                s("/branch/branchName"),
            ),
        };
        let branch = branch
            .strip_prefix("refs/heads/")
            .unwrap_or(&branch)
            .to_owned();
        if nwo != format!("{OWNER}/{NAME}") {
            self.error(
                Some("NOT_FOUND"),
                format!("Could not resolve to a Repository with the name '{nwo}'."),
                path,
            );
            return None;
        }
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
                self.error(
                    None,
                    format!("contents of {p} is not base64 (in the fake)"),
                    path,
                );
                return None;
            };
            let mode = lock(&state.faults)
                .commit_modes_reset
                .then(|| "100644".to_owned());
            files.push((p, mode, bytes));
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
        let stale = format!(
            "Expected branch to point to \"{expected}\" but it did not.  Pull and try again."
        );
        if current != expected {
            self.error(Some("STALE_DATA"), stale, path);
            return None;
        }
        // The check passed; a competitor's push wins the ref update.
        if state.lose_race(&branch) {
            let now_at = repo.head(&branch).unwrap_or_default();
            self.error(
                Some("UNPROCESSABLE"),
                format!("Ref refs/heads/{branch} is at {now_at} but expected {expected}"),
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
        let date = super::iso_utc(super::now());
        let author = super::Person::new(BOT_NAME, BOT_EMAIL, &date);
        let committer = super::Person::new("GitHub", "noreply@github.com", &date);
        let commit = repo
            .commit_tree_as(
                &tree,
                std::slice::from_ref(&current),
                &message,
                Some(&author),
                Some(&committer),
            )
            .ok()?;
        state.sign(&commit);
        self.show(&commit);
        if matches!(fault, super::WriteFault::DropCommit) {
            return Some((commit, Some((branch, current))));
        }
        if !repo.update_ref(&branch, &commit, &current) {
            self.error(Some("STALE_DATA"), stale, path);
            return None;
        }
        *writes += 1;
        drop(writes);
        state.reconcile();
        if state.take_drop_after() {
            self.dropped = true;
        }
        Some((commit.clone(), Some((branch, commit))))
    }

    /// Records `Faults::bad_oids` for `oid` in this answer.
    fn show(&mut self, oid: &str) {
        let shown = self.state.answer_oid(oid);
        if shown != oid {
            self.shown.insert(oid.to_owned(), shown);
        }
    }

    /// Returns true if and only if `input.repositoryId` is the fake's.
    fn repository_id_ok(&mut self, input: &Value, path: &[Value]) -> bool {
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

    /// `createRef`: creates a ref that must not exist yet. Answers
    /// `UNPROCESSABLE` "A ref named \"refs/heads/x\" already exists in the
    /// repository." (gliptak.github.io, "Github Create Branch with GraphQL").
    fn create_ref(&mut self, input: &Value, path: &[Value]) -> Option<(String, String)> {
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
            self.error(
                None,
                format!("Object {oid} does not exist (in the fake)"),
                path,
            );
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
        Some((branch.to_owned(), oid.to_owned()))
    }

    /// `updateRefs`: all updates or none; each checks `beforeOid` when
    /// given (all zeros: the ref must not exist) and refuses
    /// non-fast-forwards unless `force`; an all-zero `afterOid` deletes the
    /// ref (schema docs of `updateRefs`). Pull requests react to the moves
    /// (`pulls`).
    fn update_refs(&mut self, input: &Value, path: &[Value]) -> bool {
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
            let at = current
                .clone()
                .unwrap_or_else(|| super::git::ZERO_OID.to_owned());
            if !before.is_empty() && before != at {
                self.error(
                    None,
                    format!("Ref {name} is at {at}, not at the expected {before} (in the fake)"),
                    path,
                );
                return false;
            }
            let delete = !after.is_empty() && after.bytes().all(|b| b == b'0');
            if delete && current.is_none() {
                self.error(
                    None,
                    format!("Reference {name} does not exist (in the fake)"),
                    path,
                );
                return false;
            }
            if !delete && repo.kind(&after).as_deref() != Some("commit") {
                self.error(
                    None,
                    format!("Object {after} does not exist (in the fake)"),
                    path,
                );
                return false;
            }
            if !force
                && !delete
                && current
                    .as_ref()
                    .is_some_and(|c| !repo.is_ancestor(c, &after))
            {
                self.error(
                    None,
                    format!("Update to {name} is not a fast forward (in the fake)"),
                    path,
                );
                return false;
            }
            if state.lose_race(&branch) {
                let now_at = repo.head(&branch).unwrap_or_default();
                self.error(
                    Some("UNPROCESSABLE"),
                    format!("Ref refs/heads/{branch} is at {now_at} but expected {at}"),
                    path,
                );
                return false;
            }
            planned.push((branch, after, at));
        }
        for (branch, after, at) in planned {
            let done = if after.bytes().all(|b| b == b'0') {
                repo.delete_ref(&branch, &at)
            } else if at.bytes().all(|b| b == b'0') {
                repo.create_ref(&branch, &after)
            } else {
                repo.update_ref(&branch, &after, &at)
            };
            if !done {
                self.error(None, format!("Ref {branch} moved (in the fake)"), path);
                return false;
            }
            *writes += 1;
        }
        drop(writes);
        state.reconcile();
        if state.take_drop_after() {
            self.dropped = true;
        }
        true
    }

    /// `deleteRef` by node id; open pull requests from (or into) the branch
    /// close (`pulls`).
    fn delete_ref(&mut self, input: &Value, path: &[Value]) -> bool {
        let state = self.state;
        let id = input.get("refId").and_then(Value::as_str).unwrap_or("");
        let writes = lock(&state.write_lock);
        let branch = id.strip_prefix("REF_");
        let current = branch.and_then(|b| state.repo.head(b));
        let (Some(branch), Some(current)) = (branch, current) else {
            self.error(
                Some("NOT_FOUND"),
                format!("Could not resolve to a node with the global id of '{id}'"),
                path,
            );
            return false;
        };
        if !state.repo.delete_ref(branch, &current) {
            self.error(None, format!("Ref {branch} moved (in the fake)"), path);
            return false;
        }
        drop(writes);
        state.reconcile();
        true
    }

    /// Returns true if and only if pull-request writes are allowed
    /// (`Faults::forbid_pull_requests`).
    fn pulls_allowed(&mut self, path: &[Value]) -> bool {
        let Some(status) = lock(&self.state.faults).forbid_pull_requests else {
            return true;
        };
        if status == 200 {
            self.error(
                Some("FORBIDDEN"),
                "Resource not accessible by integration".into(),
                path,
            );
        } else {
            self.status = Some(status);
        }
        false
    }

    /// `createPullRequest`: one open pull request per head and base, and
    /// only with commits to merge. Messages as GitHub words them: "No
    /// commits between main and B" (odigos-io/odigos#3138, via gh), "A pull
    /// request already exists for acme:B." (ovity/octotree#557), and for
    /// missing branches "Head sha can't be blank, …" (gh's createPullRequest
    /// errors).
    fn create_pull(&mut self, input: &Value, path: &[Value]) -> Option<u64> {
        if !self.pulls_allowed(path) || !self.repository_id_ok(input, path) {
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
        let (base_oid, head_oid) = (repo.head(&base), repo.head(&head));
        let (Some(base_oid), Some(head_oid)) = (base_oid.clone(), head_oid.clone()) else {
            let mut parts = Vec::new();
            if head_oid.is_none() {
                parts.push("Head sha can't be blank".to_owned());
            }
            if base_oid.is_none() {
                parts.push("Base sha can't be blank".to_owned());
            }
            parts.push(format!("No commits between {base} and {head}"));
            if head_oid.is_none() {
                parts.push("Head ref must be a branch".to_owned());
            }
            if base_oid.is_none() {
                parts.push("Base ref must be a branch".to_owned());
            }
            self.error(Some("UNPROCESSABLE"), parts.join(", "), path);
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
            .any(|p| p.is_open() && p.head == head && p.base == base)
        {
            self.error(
                Some("UNPROCESSABLE"),
                format!("A pull request already exists for {OWNER}:{head}."),
                path,
            );
            return None;
        }
        let number = pulls.len() as u64 + 1;
        pulls.push(Pull {
            number,
            title: s("title"),
            body: s("body"),
            state: "OPEN".into(),
            base,
            head,
            head_oid,
            draft: input.get("draft").and_then(Value::as_bool).unwrap_or(false),
            author: BOT_LOGIN.into(),
            created_at: super::iso_utc(super::now()),
            closed_at: None,
        });
        Some(number)
    }

    /// The pull request whose node id is `input.pullRequestId`.
    fn pull_by_id(&mut self, input: &Value, path: &[Value]) -> Option<u64> {
        let id = input
            .get("pullRequestId")
            .and_then(Value::as_str)
            .unwrap_or("");
        let found = lock(&self.state.pulls)
            .iter()
            .find(|p| p.id() == id)
            .map(|p| p.number);
        if found.is_none() {
            self.error(
                Some("NOT_FOUND"),
                format!("Could not resolve to a node with the global id of '{id}'"),
                path,
            );
        }
        found
    }

    /// `updatePullRequest`: title, body, base and state by node id. A
    /// closed pull request keeps its base ("Cannot change the base branch
    /// of a closed pull request.", MithrilJS/mithril.js#2862) and reopens
    /// only as `pulls::reopen_refusal` allows.
    fn update_pull(&mut self, input: &Value, path: &[Value]) -> Option<u64> {
        if !self.pulls_allowed(path) {
            return None;
        }
        let n = self.pull_by_id(input, path)?;
        let state = self.state;
        let mut pulls = lock(&state.pulls);
        let pull = pulls.iter_mut().find(|p| p.number == n)?;
        let want = input.get("state").and_then(Value::as_str);
        if want == Some("OPEN") && !pull.is_open() {
            if let Some(why) = super::pulls::reopen_refusal(pull, &state.repo) {
                drop(pulls);
                self.error(Some("UNPROCESSABLE"), why, path);
                return None;
            }
            pull.state = "OPEN".into();
            pull.closed_at = None;
        }
        if let Some(base) = input.get("baseRefName").and_then(Value::as_str) {
            let refusal = if !pull.is_open() {
                Some("Cannot change the base branch of a closed pull request.".to_owned())
            } else if state.repo.head(base).is_none() {
                Some(format!(
                    "Proposed base branch '{base}' was not found (in the fake)"
                ))
            } else {
                None
            };
            if let Some(why) = refusal {
                drop(pulls);
                self.error(Some("UNPROCESSABLE"), why, path);
                return None;
            }
            pull.base = base.to_owned();
        }
        if let Some(t) = input.get("title").and_then(Value::as_str) {
            pull.title = t.to_owned();
        }
        if let Some(b) = input.get("body").and_then(Value::as_str) {
            pull.body = b.to_owned();
        }
        if want == Some("CLOSED") && pull.is_open() {
            pull.state = "CLOSED".into();
            pull.closed_at = Some(super::iso_utc(super::now()));
        }
        Some(n)
    }

    /// `closePullRequest`: closes an open pull request; a closed or merged
    /// one is answered as it is.
    fn close_pull(&mut self, input: &Value, path: &[Value]) -> Option<u64> {
        if !self.pulls_allowed(path) {
            return None;
        }
        let n = self.pull_by_id(input, path)?;
        let mut pulls = lock(&self.state.pulls);
        let pull = pulls.iter_mut().find(|p| p.number == n)?;
        if pull.is_open() {
            pull.state = "CLOSED".into();
            pull.closed_at = Some(super::iso_utc(super::now()));
        }
        Some(n)
    }

    /// `addComment` on a pull request's node id, by the token's bot.
    fn add_comment(&mut self, input: &Value, path: &[Value]) -> Option<(u64, String)> {
        if !self.pulls_allowed(path) {
            return None;
        }
        let subject = input.get("subjectId").and_then(Value::as_str).unwrap_or("");
        let found = lock(&self.state.pulls)
            .iter()
            .find(|p| p.id() == subject)
            .map(|p| p.number);
        let Some(n) = found else {
            self.error(
                Some("NOT_FOUND"),
                format!("Could not resolve to a node with the global id of '{subject}'"),
                path,
            );
            return None;
        };
        let body = input.get("body").and_then(Value::as_str).unwrap_or("");
        let mut comments = lock(&self.state.comments);
        let id = format!("IC_fake{}", comments.len() + 1);
        comments.push(super::Comment {
            id: id.clone(),
            pull: n,
            body: body.to_owned(),
            author: BOT_LOGIN.into(),
            created_at: super::iso_utc(super::now()),
        });
        Some((n, id))
    }
}

/// `XConnection` → `XEdge`.
fn edge_type(connection: &'static str) -> &'static str {
    match connection {
        "CommitHistoryConnection" | "CommitConnection" => "CommitEdge",
        "ComparisonCommitConnection" => "CommitEdge",
        "PullRequestConnection" => "PullRequestEdge",
        "IssueCommentConnection" => "IssueCommentEdge",
        _ => "Edge",
    }
}

/// A cursor at index `i`: `"<oid> <i>"` in a history (GitHub's history
/// cursors), else an opaque base64 string.
fn cursor_enc(history: Option<&str>, i: usize) -> String {
    match history {
        Some(oid) => format!("{oid} {i}"),
        None => base64::engine::general_purpose::STANDARD.encode(format!("cursor:{}", i + 1)),
    }
}

fn cursor_dec(history: Option<&str>, cursor: &str) -> Option<usize> {
    match history {
        Some(oid) => {
            let (c_oid, i) = cursor.split_once(' ')?;
            (c_oid == oid).then_some(())?;
            i.parse().ok()
        }
        None => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(cursor)
                .ok()?;
            let n: usize = String::from_utf8(raw)
                .ok()?
                .strip_prefix("cursor:")?
                .parse()
                .ok()?;
            n.checked_sub(1)
        }
    }
}

/// Checks `vars` against the operation's variable definitions the way
/// graphql-ruby does, answering its `VariableValidationError`s: message
/// `Variable $input of type T! was provided invalid value for a.b (why)`,
/// with `locations` of the definition and `extensions { value problems }`
/// (avitorio/outstatic#17 quotes one).
fn coerce_variables(
    schema: &Schema,
    op: &ast::OperationDefinition,
    vars: &Map<String, Value>,
    sources: &SourceMap,
) -> Vec<Value> {
    let mut errors = Vec::new();
    for def in &op.variables {
        let value = vars.get(def.name.as_str());
        if value.is_none() && def.default_value.is_some() {
            continue;
        }
        let mut problems = Vec::new();
        coerce(schema, &def.ty, value, &mut Vec::new(), &mut problems);
        if problems.is_empty() {
            continue;
        }
        let mut message = format!(
            "Variable ${} of type {} was provided invalid value",
            def.name, def.ty
        );
        let named: Vec<String> = problems
            .iter()
            .filter(|(p, _)| !p.is_empty())
            .map(|(p, why)| {
                let dotted: Vec<String> = p
                    .iter()
                    .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_owned))
                    .collect();
                format!("{} ({why})", dotted.join("."))
            })
            .collect();
        if !named.is_empty() {
            message.push_str(&format!(" for {}", named.join(", ")));
        }
        let locations = match def.line_column_range(sources) {
            Some(r) => json!([{"line": r.start.line, "column": r.start.column}]),
            None => json!([]),
        };
        let problems: Vec<Value> = problems
            .into_iter()
            .map(|(p, why)| json!({"path": p, "explanation": why}))
            .collect();
        errors.push(json!({
            "message": message,
            "locations": locations,
            "extensions": {"value": value.cloned().unwrap_or(Value::Null), "problems": problems},
        }));
    }
    errors
}

fn coerce(
    schema: &Schema,
    ty: &ast::Type,
    value: Option<&Value>,
    path: &mut Vec<Value>,
    problems: &mut Vec<(Vec<Value>, String)>,
) {
    let null = matches!(value, None | Some(Value::Null));
    if null {
        if ty.is_non_null() {
            problems.push((path.clone(), "Expected value to not be null".into()));
        }
        return;
    }
    let value = value.expect("impossible: checked for null");
    match ty {
        ast::Type::List(inner) | ast::Type::NonNullList(inner) => match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(json!(i));
                    coerce(schema, inner, Some(item), path, problems);
                    path.pop();
                }
            }
            // Input coercion wraps a single value in a list.
            other => coerce(schema, inner, Some(other), path, problems),
        },
        ast::Type::Named(name) | ast::Type::NonNullNamed(name) => {
            match schema.types.get(name.as_str()) {
                Some(ExtendedType::InputObject(obj)) => {
                    let Some(map) = value.as_object() else {
                        problems.push((
                            path.clone(),
                            format!("Expected {value} to be a key-value object."),
                        ));
                        return;
                    };
                    for key in map.keys() {
                        if !obj.fields.contains_key(key.as_str()) {
                            let mut p = path.clone();
                            p.push(json!(key));
                            problems.push((p, format!("Field is not defined on {name}")));
                        }
                    }
                    for (fname, field) in &obj.fields {
                        let v = map.get(fname.as_str());
                        if v.is_none() && field.default_value.is_some() {
                            continue;
                        }
                        path.push(json!(fname.as_str()));
                        coerce(schema, &field.ty, v, path, problems);
                        path.pop();
                    }
                }
                Some(ExtendedType::Enum(e)) => {
                    let ok = value.as_str().is_some_and(|s| e.values.contains_key(s));
                    if !ok {
                        let names: Vec<&str> = e.values.keys().map(|k| k.as_str()).collect();
                        problems.push((
                            path.clone(),
                            format!("Expected {value} to be one of: {}", names.join(", ")),
                        ));
                    }
                }
                Some(ExtendedType::Scalar(_)) => {
                    let ok = match name.as_str() {
                        "Int" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                        "Float" => value.is_number(),
                        "Boolean" => value.is_boolean(),
                        "ID" => value.is_string() || value.is_i64(),
                        // String and GitHub's custom scalars (GitObjectID,
                        // Base64String, DateTime, GitTimestamp, URI…) are strings.
                        _ => value.is_string(),
                    };
                    if !ok {
                        problems.push((
                            path.clone(),
                            format!("Could not coerce value {value} to {name}"),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
}

/// The fake repository's node id.
const REPO_ID: &str = "R_kgDOfakeRepo";

/// Git's heuristic: a NUL byte in the first 8000 bytes.
fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8000).any(|b| *b == 0)
}
