//! Reading a session file and checking everything in it that can be checked without a
//! model: names that refer to each other, numbers in range, files that exist.
//!
//! serde finds syntax errors, wrong types and unknown keys (with their location), and stops
//! at the first. The rest is checked here on the deserialised file, collecting every
//! problem, each located through the position index.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;

use super::position::{Pos, PosIndex, Seg, ypath};
use super::{
    Case, FileKind, Location, Problem, ProblemKind, RefKind, SchemaRef, Session, SessionError,
    SessionFile, TemplateSpec, cases,
};
use crate::spec::{
    CheckSpec, ModelSpec, RagSpec, RatingSpec, RerankSpec, Retriever, RubricDim, VariantSpec,
};
use crate::template::{
    InheritError, OutputSchema, Part, Renderer, ResolvedTemplate, TemplateError, flatten, origin,
};

/// Reads, checks and resolves the session at `path`, with its cases and schemas.
pub fn load(path: &Path) -> Result<Session, SessionError> {
    let bytes = std::fs::read(path).map_err(|source| SessionError::Read {
        path: path.to_owned(),
        source,
    })?;
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let source = String::from_utf8(bytes).map_err(|e| {
        SessionError::Invalid(vec![utf8_problem(path, e.as_bytes(), e.utf8_error())])
    })?;
    let file: SessionFile = serde_yaml::from_str(&source)
        .map_err(|e| SessionError::Invalid(vec![yaml_problem(path, &source, &e)]))?;
    let dir = path.parent().map(Path::to_owned).unwrap_or_default();
    let index = PosIndex::build(&source);

    let mut cx = Checker::new(path, &dir, &index);
    let templates = cx.check_file(&file);
    let (cases, case_locations) = cases::load(&mut cx, &file);
    cx.check_references(&file, &cases);
    cx.finish()?;
    Ok(Session {
        path: path.to_owned(),
        dir,
        file,
        source,
        hash,
        cases,
        templates,
        case_locations,
        index,
    })
}

/// A template error as a problem, located at the line of the part to fix: in the template
/// that writes that part, which may be one `template` inherits from.
pub(super) fn template_problem(
    file: &Path,
    index: &PosIndex,
    specs: &IndexMap<String, TemplateSpec>,
    error: TemplateError,
    more_cases: usize,
) -> Problem {
    let pos = match error.place() {
        Some((template, part, line)) => {
            let origin = origin(specs, template, |t| match part {
                Part::System => t.system.is_some(),
                Part::ExampleUser(_) | Part::ExampleAssistant(_) => t.examples.is_some(),
                Part::User => t.user.is_some(),
            });
            let path = match part {
                Part::System => ypath!["templates", origin, "system"].to_vec(),
                Part::ExampleUser(i) => ypath!["templates", origin, "examples", i, "user"].to_vec(),
                Part::ExampleAssistant(i) => {
                    ypath!["templates", origin, "examples", i, "assistant"].to_vec()
                }
                Part::User => ypath!["templates", origin, "user"].to_vec(),
            };
            index.line_in(&path, line)
        }
        None => index.value(&ypath!["templates"]),
    };
    Problem {
        at: location(file, pos),
        kind: ProblemKind::Template {
            error,
            more_cases,
            hint: String::new(),
        },
    }
}

pub(super) fn location(file: &Path, pos: Pos) -> Location {
    Location {
        file: file.to_owned(),
        line: pos.line,
        col: pos.col,
    }
}

/// A `serde_yaml` error as a problem. Its message ends with " at line L column C", which the
/// location now says first.
pub(super) fn yaml_problem(file: &Path, text: &str, err: &serde_yaml::Error) -> Problem {
    let (line, col) = err.location().map_or((1, 1), |l| (l.line(), l.column()));
    let mut message = super::hints::explain(&strip_location(&err.to_string(), line, col));
    let indented_by_tab = text.lines().nth(line.saturating_sub(1)).is_some_and(|l| {
        l.chars()
            .take_while(|c| c.is_whitespace())
            .any(|c| c == '\t')
    });
    if indented_by_tab {
        message.push_str(" (YAML indents with spaces; this line has a tab)");
    }
    Problem {
        at: Location {
            file: file.to_owned(),
            line,
            col,
        },
        kind: ProblemKind::Parse(message),
    }
}

/// A `serde_json` error as a problem, `line` lines into `file` (JSONL parses line by line).
pub(super) fn json_problem(file: &Path, first_line: usize, err: &serde_json::Error) -> Problem {
    Problem {
        at: Location {
            file: file.to_owned(),
            line: first_line + err.line() - 1,
            col: err.column().max(1),
        },
        kind: ProblemKind::Parse(strip_location(&err.to_string(), err.line(), err.column())),
    }
}

fn strip_location(message: &str, line: usize, col: usize) -> String {
    message.replacen(&format!(" at line {line} column {col}"), "", 1)
}

fn utf8_problem(file: &Path, bytes: &[u8], err: std::str::Utf8Error) -> Problem {
    // Everything before the bad byte is text, by definition of `valid_up_to`.
    let valid = std::str::from_utf8(&bytes[..err.valid_up_to()]).unwrap_or_default();
    let line = valid.matches('\n').count() + 1;
    let col = valid.chars().rev().take_while(|c| *c != '\n').count() + 1;
    Problem {
        at: Location {
            file: file.to_owned(),
            line,
            col,
        },
        kind: ProblemKind::Parse(format!("the file is not UTF-8 text: {err}")),
    }
}

/// Collects problems while checking one session file.
pub(super) struct Checker<'a> {
    pub(super) file: &'a Path,
    pub(super) dir: &'a Path,
    pub(super) index: &'a PosIndex,
    problems: Vec<Problem>,
    /// Each schema read once, however many templates and checks share it (and a broken one
    /// reported once). `None`: it failed to load.
    schemas: HashMap<String, Option<OutputSchema>>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(file: &'a Path, dir: &'a Path, index: &'a PosIndex) -> Self {
        Checker {
            file,
            dir,
            index,
            problems: Vec::new(),
            schemas: HashMap::new(),
        }
    }

    /// Everything in the file but its cases; returns the resolved templates.
    pub(super) fn check_file(&mut self, f: &SessionFile) -> IndexMap<String, ResolvedTemplate> {
        self.at_least(&ypath!["repeats"], Some(u64::from(f.repeats)), 1);
        for (name, m) in &f.models {
            self.check_model(name, m);
        }
        for (name, r) in &f.rag {
            self.check_rag(f, name, r);
        }
        self.check_variants(f);
        self.check_rubric(&f.rubric);
        if let Some(j) = &f.judge {
            self.number(
                &ypath!["judge", "min_human_kappa"],
                j.min_human_kappa,
                |k| (-1.0..=1.0).contains(&k),
                "a kappa from -1 to 1 (or null for no bar)",
            );
            self.number(
                &ypath!["judge", "margin"],
                Some(j.margin),
                |m| (0.0..0.5).contains(&m),
                "a margin from 0 up to (not including) 0.5",
            );
        }
        if let Some(r) = &f.rating {
            self.check_rating(f, r);
        }
        let templates = self.resolve_templates(&f.templates);
        self.check_template_uses(f, &templates);
        // Compiling is cheap (a few templates, parsed once): syntax errors are load errors,
        // located, for every command rather than for `check` alone.
        let (_, errors) = Renderer::compile(&templates);
        for e in errors {
            let problem = template_problem(self.file, self.index, &f.templates, e, 0);
            self.push(problem);
        }
        templates
    }

    /// Every problem found, in file order, or nothing.
    pub(super) fn finish(mut self) -> Result<(), SessionError> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let session = self.file;
        // The session file first, then the files it names; a stable sort keeps the order
        // problems were found in for one place.
        self.problems.sort_by(|a, b| {
            (a.at.file != session, &a.at.file, a.at.line, a.at.col).cmp(&(
                b.at.file != session,
                &b.at.file,
                b.at.line,
                b.at.col,
            ))
        });
        Err(SessionError::Invalid(self.problems))
    }

    pub(super) fn at(&self, path: &[Seg]) -> Location {
        location(self.file, self.index.value(path))
    }

    pub(super) fn report(&mut self, path: &[Seg], kind: ProblemKind) {
        let at = self.at(path);
        self.report_at(at, kind);
    }

    pub(super) fn report_at(&mut self, at: Location, kind: ProblemKind) {
        self.problems.push(Problem { at, kind });
    }

    pub(super) fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// `value`, when set, must be at least `min`.
    fn at_least(&mut self, path: &[Seg], value: Option<u64>, min: u64) {
        if let Some(v) = value
            && v < min
        {
            self.report(
                path,
                ProblemKind::OutOfRange {
                    field: field_name(path),
                    expected: format!("at least {min}"),
                    found: v.to_string(),
                },
            );
        }
    }

    /// `value`, when set, must be finite and pass `ok`.
    fn number(
        &mut self,
        path: &[Seg],
        value: Option<f64>,
        ok: fn(f64) -> bool,
        expected: &'static str,
    ) {
        if let Some(v) = value
            && !(v.is_finite() && ok(v))
        {
            self.report(
                path,
                ProblemKind::OutOfRange {
                    field: field_name(path),
                    expected: expected.to_owned(),
                    found: v.to_string(),
                },
            );
        }
    }

    /// `name` must be a key of `known`.
    fn known<V>(&mut self, path: &[Seg], kind: RefKind, name: &str, known: &IndexMap<String, V>) {
        if !known.contains_key(name) {
            self.report(
                path,
                ProblemKind::Unknown {
                    kind,
                    name: name.to_owned(),
                    known: known.keys().cloned().collect(),
                },
            );
        }
    }

    fn check_model(&mut self, name: &str, m: &ModelSpec) {
        let at = |key: &str| ypath!["models", name, key];
        if let Some(url) = &m.base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            self.report(
                &at("base_url"),
                ProblemKind::Invalid(format!(
                    "`base_url` must start with http:// or https://, not `{url}`"
                )),
            );
        }
        if m.model.trim().is_empty() {
            self.report(
                &at("model"),
                ProblemKind::Invalid("`model` must name the model the server serves".into()),
            );
        }
        if let Some(env) = &m.api_key_env
            && !is_env_var_name(env)
        {
            self.report(
                &at("api_key_env"),
                ProblemKind::Invalid(
                    "`api_key_env` holds the name of an environment variable (like \
                     OPENAI_API_KEY), never the key itself"
                        .into(),
                ),
            );
        }
        self.at_least(&at("concurrency"), m.concurrency.map(u64::from), 1);
        self.at_least(&at("rpm"), m.rpm.map(u64::from), 1);
        let params = |key: &str| ypath!["models", name, "params", key];
        self.at_least(&params("max_tokens"), m.params.max_tokens.map(u64::from), 1);
        self.number(
            &params("temperature"),
            m.params.temperature,
            |t| (0.0..=2.0).contains(&t),
            "a number from 0 to 2",
        );
        self.number(
            &params("top_p"),
            m.params.top_p,
            |p| p > 0.0 && p <= 1.0,
            "a number above 0 and at most 1",
        );
        if let Some(price) = &m.price {
            for (key, v) in [
                ("input_per_mtok", price.input_per_mtok),
                ("output_per_mtok", price.output_per_mtok),
            ] {
                self.number(
                    &ypath!["models", name, "price", key],
                    Some(v),
                    |v| v >= 0.0,
                    "a number of US dollars, 0 or more",
                );
            }
        }
        if let Some(t) = &m.timeouts {
            for (key, v) in [
                ("connect_ms", t.connect_ms),
                ("total_ms", t.total_ms),
                ("idle_ms", t.idle_ms),
            ] {
                self.at_least(&ypath!["models", name, "timeouts", key], v, 1);
            }
        }
    }

    fn check_rag(&mut self, f: &SessionFile, name: &str, r: &RagSpec) {
        let at = |key: &str| ypath!["rag", name, key];
        if r.corpus.is_empty() {
            self.report(
                &at("corpus"),
                ProblemKind::Invalid("`corpus` needs at least one glob of files".into()),
            );
        }
        // Each glob must match a file now: a typo would otherwise leave the config
        // retrieving from less than the session says, with no error anywhere.
        for (i, glob) in r.corpus.iter().enumerate() {
            if let Err(e) = crate::rag::corpus::resolve(self.dir, std::slice::from_ref(glob)) {
                self.report(
                    &ypath!["rag", name, "corpus", i],
                    ProblemKind::Invalid(e.to_string()),
                );
            }
        }
        self.at_least(
            &ypath!["rag", name, "chunk", "tokens"],
            Some(u64::from(r.chunk.tokens)),
            1,
        );
        if r.chunk.tokens > 0 && r.chunk.overlap >= r.chunk.tokens {
            self.report(
                &ypath!["rag", name, "chunk", "overlap"],
                ProblemKind::Invalid(format!(
                    "`overlap` must be smaller than `tokens` ({}), not {}",
                    r.chunk.tokens, r.chunk.overlap
                )),
            );
        }
        match (&r.embedder, r.retriever) {
            (Some(e), _) => self.known(&at("embedder"), RefKind::Model, e, &f.models),
            (None, Retriever::Embedding | Retriever::Hybrid) => self.report(
                &at("retriever"),
                ProblemKind::Invalid(format!(
                    "retriever `{}` needs `embedder`: a model of the session that serves \
                     embeddings",
                    if r.retriever == Retriever::Embedding {
                        "embedding"
                    } else {
                        "hybrid"
                    }
                )),
            ),
            (None, Retriever::Bm25) => {}
        }
        if let Some(q) = &r.query_embedder {
            if r.embedder.is_none() {
                self.report(
                    &at("query_embedder"),
                    ProblemKind::Invalid("`query_embedder` goes with an `embedder`".into()),
                );
            }
            self.known(&at("query_embedder"), RefKind::Model, q, &f.models);
        }
        match &r.rerank {
            RerankSpec::Llm { template, model } => {
                self.known(
                    &ypath!["rag", name, "rerank", "llm", "template"],
                    RefKind::Template,
                    template,
                    &f.templates,
                );
                self.known(
                    &ypath!["rag", name, "rerank", "llm", "model"],
                    RefKind::Model,
                    model,
                    &f.models,
                );
            }
            RerankSpec::Api { model } => self.known(
                &ypath!["rag", name, "rerank", "api", "model"],
                RefKind::Model,
                model,
                &f.models,
            ),
            RerankSpec::Mmr { .. } | RerankSpec::None => {}
        }
        if let Some(q) = &r.query_rewrite {
            self.known(
                &ypath!["rag", name, "query_rewrite", "template"],
                RefKind::Template,
                &q.template,
                &f.templates,
            );
            self.known(
                &ypath!["rag", name, "query_rewrite", "model"],
                RefKind::Model,
                &q.model,
                &f.models,
            );
        }
        self.at_least(&at("top_k"), Some(u64::from(r.top_k)), 1);
        self.at_least(&at("keep"), r.keep.map(u64::from), 1);
        if let Some(keep) = r.keep
            && keep > r.top_k
        {
            self.report(
                &at("keep"),
                ProblemKind::Invalid(format!(
                    "`keep` cannot be more than `top_k` ({}), not {keep}",
                    r.top_k
                )),
            );
        }
    }

    fn check_variants(&mut self, f: &SessionFile) {
        if f.variants.is_empty() {
            self.report(
                &ypath!["variants"],
                ProblemKind::Invalid("`variants` is empty: a session needs at least one".into()),
            );
        }
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (i, v) in f.variants.iter().enumerate() {
            let at = |key: &str| ypath!["variants", i, key];
            self.unique(&at("name"), "variant", &v.name, &mut first);
            self.known(
                &at("template"),
                RefKind::Template,
                &v.template,
                &f.templates,
            );
            self.known(&at("model"), RefKind::Model, &v.model, &f.models);
            if let Some(rag) = &v.rag {
                self.known(&at("rag"), RefKind::Rag, rag, &f.rag);
            }
        }
    }

    /// `name` must be non-empty and not seen before in `first` (name -> line).
    fn unique<'n>(
        &mut self,
        path: &[Seg],
        what: &'static str,
        name: &'n str,
        first: &mut HashMap<&'n str, usize>,
    ) {
        let line = self.at(path).line;
        if name.trim().is_empty() {
            self.report(
                path,
                ProblemKind::Invalid(format!("a {what} cannot be empty")),
            );
        } else if let Some(&first_line) = first.get(name) {
            self.report(
                path,
                ProblemKind::Duplicate {
                    what,
                    name: name.to_owned(),
                    first_line,
                },
            );
        } else {
            first.insert(name, line);
        }
    }

    fn check_rubric(&mut self, rubric: &[RubricDim]) {
        let mut first = HashMap::new();
        for (i, dim) in rubric.iter().enumerate() {
            self.unique(
                &ypath!["rubric", i, "key"],
                "rubric key",
                &dim.key,
                &mut first,
            );
            self.at_least(&ypath!["rubric", i, "scale"], Some(u64::from(dim.scale)), 2);
        }
    }

    fn check_rating(&mut self, f: &SessionFile, r: &RatingSpec) {
        let variants: IndexMap<String, ()> =
            f.variants.iter().map(|v| (v.name.clone(), ())).collect();
        for (i, [a, b]) in r.pairs.iter().enumerate() {
            self.known(
                &ypath!["rating", "pairs", i, 0],
                RefKind::Variant,
                a,
                &variants,
            );
            self.known(
                &ypath!["rating", "pairs", i, 1],
                RefKind::Variant,
                b,
                &variants,
            );
            if a == b {
                self.report(
                    &ypath!["rating", "pairs", i],
                    ProblemKind::Invalid(format!(
                        "a pair compares two different variants, not `{a}` with itself"
                    )),
                );
            }
        }
        self.at_least(
            &ypath!["rating", "raters_per_comparison"],
            Some(u64::from(r.raters_per_comparison)),
            1,
        );
        self.number(
            &ypath!["rating", "gold_rate"],
            r.gold_rate,
            |g| (0.0..=1.0).contains(&g),
            "a share from 0 to 1",
        );
        self.number(
            &ypath!["rating", "calibration_share"],
            r.calibration_share,
            |g| (0.0..=1.0).contains(&g),
            "a share from 0 to 1",
        );
        for (i, label) in r.labels.iter().enumerate() {
            if let Err(why) = crate::rating::labels::check_name(label) {
                self.report(&ypath!["rating", "labels", i], ProblemKind::Invalid(why));
            }
        }
        if let Err(why) = crate::rating::labels::check_count(&r.labels) {
            self.report(&ypath!["rating", "labels"], ProblemKind::Invalid(why));
        }
    }

    /// Applies `inherits`, loads output schemas. A template that cannot be resolved is left
    /// out (its problem reported), so that nothing downstream reports it again.
    pub(super) fn resolve_templates(
        &mut self,
        specs: &IndexMap<String, TemplateSpec>,
    ) -> IndexMap<String, ResolvedTemplate> {
        let mut out = IndexMap::new();
        for name in specs.keys() {
            let flat = match flatten(specs, name) {
                Ok(flat) => flat,
                Err(InheritError::Unknown { template, parent }) => {
                    // Templates below the one with the bad `inherits` fail too: report once.
                    if template == *name {
                        self.report(
                            &ypath!["templates", name, "inherits"],
                            ProblemKind::Unknown {
                                kind: RefKind::Template,
                                name: parent,
                                known: specs.keys().cloned().collect(),
                            },
                        );
                    }
                    continue;
                }
                Err(InheritError::Cycle(cycle)) => {
                    // Report a cycle once, at its first member in file order.
                    let first = specs.keys().find(|k| cycle.contains(k));
                    if first == Some(name) {
                        self.report(
                            &ypath!["templates", name, "inherits"],
                            ProblemKind::InheritsCycle(cycle),
                        );
                    }
                    continue;
                }
                Err(InheritError::NotFound(_)) => continue,
            };
            let Some(user) = flat.user else {
                let inherited = if specs[name].inherits.is_some() {
                    " (nor does any template it inherits from)"
                } else {
                    ""
                };
                self.report(
                    &ypath!["templates", name],
                    ProblemKind::Invalid(format!(
                        "template `{name}` has no `user` message{inherited}"
                    )),
                );
                continue;
            };
            let output_schema = match &flat.output_schema {
                None => None,
                Some(schema) => {
                    let from = origin(specs, name, |t| t.output_schema.is_some());
                    let Some(loaded) =
                        self.schema(schema, &ypath!["templates", from, "output_schema"])
                    else {
                        continue;
                    };
                    Some(loaded)
                }
            };
            out.insert(
                name.clone(),
                ResolvedTemplate {
                    name: name.clone(),
                    system: flat.system,
                    examples: flat.examples.unwrap_or_default(),
                    user,
                    output_schema,
                },
            );
        }
        out
    }

    /// What needs the resolved templates: schemas asked for by variants and checks, and
    /// the names checks refer to.
    fn check_template_uses(
        &mut self,
        f: &SessionFile,
        templates: &IndexMap<String, ResolvedTemplate>,
    ) {
        let no_schema = |v: &VariantSpec| {
            templates
                .get(&v.template)
                .is_some_and(|t| t.output_schema.is_none())
        };
        for (i, v) in f.variants.iter().enumerate() {
            if v.enforce_schema.is_some() && no_schema(v) {
                self.report(
                    &ypath!["variants", i, "enforce_schema"],
                    ProblemKind::Invalid(format!(
                        "`enforce_schema` needs an output schema, but template `{}` has no \
                         `output_schema`",
                        v.template
                    )),
                );
            }
        }
        let all: Vec<&VariantSpec> = f.variants.iter().collect();
        self.check_checks(f, &ypath!["checks"], &f.checks, &all, &no_schema);
        for (i, v) in f.variants.iter().enumerate() {
            self.check_checks(
                f,
                &ypath!["variants", i, "checks"],
                &v.checks,
                &[v],
                &no_schema,
            );
        }
    }

    /// Checks scored against the case's reference (`bleu`, `rouge_l`, `similarity`,
    /// `equals` with `reference`) need every case to have one: without it the check fails
    /// on every row of that case for a reason no model can fix.
    fn check_references(&mut self, f: &SessionFile, cases: &[Case]) {
        let lacking: Vec<&str> = cases
            .iter()
            .filter(|c| c.reference.is_none())
            .map(|c| c.id.as_str())
            .collect();
        if lacking.is_empty() {
            return;
        }
        let mut located: Vec<(Vec<Seg>, &CheckSpec)> = f
            .checks
            .iter()
            .enumerate()
            .map(|(j, c)| (ypath!["checks", j].to_vec(), c))
            .collect();
        for (i, v) in f.variants.iter().enumerate() {
            located.extend(
                v.checks
                    .iter()
                    .enumerate()
                    .map(|(j, c)| (ypath!["variants", i, "checks", j].to_vec(), c)),
            );
        }
        let shown = lacking[..lacking.len().min(5)].join(", ");
        let more = if lacking.len() > 5 {
            format!(" and {} more", lacking.len() - 5)
        } else {
            String::new()
        };
        for (at, check) in located {
            let needs = match check {
                CheckSpec::Bleu(_) | CheckSpec::RougeL(_) | CheckSpec::Similarity(_) => true,
                CheckSpec::Equals(t) => t.reference.is_some(),
                _ => false,
            };
            if needs {
                let which = if lacking.len() == cases.len() {
                    "no case has".to_owned()
                } else {
                    format!("{} of {} cases have", lacking.len(), cases.len())
                };
                self.report(
                    &at,
                    ProblemKind::Invalid(format!(
                        "check `{}` compares with the case's `reference`, but {which} one \
                         (cases lacking it: {shown}{more}): add a `reference` to each case, or drop \
                         the check",
                        check.kind_name()
                    )),
                );
            }
        }
    }

    /// `checks` (at `base`), which apply to `variants`.
    fn check_checks(
        &mut self,
        f: &SessionFile,
        base: &[Seg],
        checks: &[CheckSpec],
        variants: &[&VariantSpec],
        no_schema: &dyn Fn(&VariantSpec) -> bool,
    ) {
        for (j, check) in checks.iter().enumerate() {
            let at = |keys: &[&str]| {
                let mut p = base.to_vec();
                p.push(Seg::Index(j));
                p.extend(keys.iter().map(|k| Seg::from(*k)));
                p
            };
            match check {
                CheckSpec::Judge(judge) => {
                    self.known(
                        &at(&["judge", "template"]),
                        RefKind::Template,
                        &judge.template,
                        &f.templates,
                    );
                    self.known(
                        &at(&["judge", "model"]),
                        RefKind::Model,
                        &judge.model,
                        &f.models,
                    );
                    let names: IndexMap<String, ()> =
                        f.variants.iter().map(|v| (v.name.clone(), ())).collect();
                    for (i, [a, b]) in judge.pairs.iter().enumerate() {
                        for (side, name) in [a, b].into_iter().enumerate() {
                            let mut path = at(&["judge", "pairs"]);
                            path.extend([Seg::Index(i), Seg::Index(side)]);
                            self.known(&path, RefKind::Variant, name, &names);
                        }
                        if a == b {
                            let mut path = at(&["judge", "pairs"]);
                            path.push(Seg::Index(i));
                            self.report(
                                &path,
                                ProblemKind::Invalid(format!(
                                    "a judge compares two different variants, not `{a}` with itself"
                                )),
                            );
                        }
                    }
                }
                CheckSpec::JsonSchema(Some(spec)) => {
                    self.schema(&spec.schema, &at(&["json_schema", "schema"]));
                }
                CheckSpec::JsonSchema(None) => {
                    let lacking: Vec<String> = variants
                        .iter()
                        .filter(|v| no_schema(v))
                        .map(|v| format!("`{}` (template `{}`)", v.name, v.template))
                        .collect();
                    if !lacking.is_empty() {
                        self.report(
                            &at(&[]),
                            ProblemKind::Invalid(format!(
                                "check `json_schema` has no schema for variant {}: give the \
                                 template an `output_schema`, or name one with \
                                 `{{ json_schema: {{ schema: file.json }} }}`",
                                lacking.join(", ")
                            )),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    /// The schema `schema` (written at `at`), read and compiled once.
    fn schema(&mut self, schema: &SchemaRef, at: &[Seg]) -> Option<OutputSchema> {
        let key = match schema {
            SchemaRef::Path(p) => format!("file {}", self.dir.join(p).display()),
            SchemaRef::Inline(_) => format!("inline {at:?}"),
        };
        if let Some(done) = self.schemas.get(&key) {
            return done.clone();
        }
        let loaded = self.load_schema(schema, at);
        self.schemas.insert(key, loaded.clone());
        loaded
    }

    fn load_schema(&mut self, schema: &SchemaRef, at: &[Seg]) -> Option<OutputSchema> {
        let (json, file) = match schema {
            SchemaRef::Inline(v) => (v.clone(), None),
            SchemaRef::Path(p) => {
                let path = self.dir.join(p);
                let text = match std::fs::read_to_string(&path) {
                    Ok(text) => text,
                    Err(e) => {
                        self.report(
                            at,
                            ProblemKind::File {
                                kind: FileKind::Schema,
                                path,
                                reason: e.to_string(),
                            },
                        );
                        return None;
                    }
                };
                let parsed = if is_yaml(&path) {
                    serde_yaml::from_str(&text).map_err(|e| yaml_problem(&path, &text, &e))
                } else {
                    serde_json::from_str(&text).map_err(|e| json_problem(&path, 1, &e))
                };
                match parsed {
                    Ok(json) => (json, Some(path)),
                    Err(problem) => {
                        self.push(problem);
                        return None;
                    }
                }
            }
        };
        if !(json.is_object() || json.is_boolean()) {
            self.report(
                at,
                ProblemKind::Schema(format!(
                    "a JSON Schema is a mapping (or a boolean), not `{json}`"
                )),
            );
            return None;
        }
        // Compiled as the checks compile theirs, so a schema valid here is valid there.
        match crate::eval::checks::compile_schema(&json) {
            Ok(validator) => Some(OutputSchema {
                json,
                validator: Arc::new(validator),
            }),
            Err(message) => {
                let message = match file {
                    Some(path) => format!("{}: {message}", path.display()),
                    None => message,
                };
                self.report(at, ProblemKind::Schema(message));
                None
            }
        }
    }
}

pub(super) fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// The last key of a path, for messages: `concurrency`, `max_tokens`.
fn field_name(path: &[Seg]) -> String {
    path.iter()
        .rev()
        .find_map(|s| match s {
            Seg::Key(k) => Some(k.clone()),
            Seg::Index(_) => None,
        })
        .unwrap_or_default()
}

fn is_env_var_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
