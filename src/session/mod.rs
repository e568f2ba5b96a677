//! Sessions: the YAML file a user opens, loaded, validated and resolved.
//!
//! [`load`] reads a session file, its cases and its schemas, and reports every problem it
//! finds as `path:line:col: message`. A loaded [`Session`] is valid: its variants name
//! models, templates and rag configs that exist, its templates are resolved, its cases
//! have unique ids.

mod cases;
mod check;
mod error;
mod hints;
mod load;
pub(crate) mod position;
mod write;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::providers::Message;
use crate::store::TemplateVersionRecord;
use crate::template::{Renderer, ResolvedTemplate, TemplateError, TemplateErrors};

pub use crate::spec::CheckSpec;
/// The session file's own types live in the ground-floor `spec` module.
pub use crate::spec::session::*;
pub use cases::load_jsonl_file;
pub use check::check_session;
pub use error::{FileKind, Location, Problem, ProblemKind, RefKind, SessionError};
pub use load::load;
pub use write::write_templates;

use position::PosIndex;

/// A loaded, valid session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session file, as given.
    pub path: PathBuf,
    /// Its folder: paths in the session are relative to it.
    pub dir: PathBuf,
    pub file: SessionFile,
    /// The file's text, kept so a run can record exactly what it ran.
    pub source: String,
    /// blake3 hex of the file's bytes.
    pub hash: String,
    /// From the session's `cases:` or its cases file, in order.
    pub cases: Vec<Case>,
    /// Every template of the file, inheritance applied, schemas loaded.
    pub templates: IndexMap<String, ResolvedTemplate>,
    /// Where each case was read, parallel to `cases`.
    case_locations: Vec<Location>,
    index: PosIndex,
}

impl Session {
    pub fn variant(&self, name: &str) -> Option<&VariantSpec> {
        self.file.variants.iter().find(|v| v.name == name)
    }

    pub fn model_for(&self, variant: &str) -> Option<&ModelSpec> {
        self.file.models.get(&self.variant(variant)?.model)
    }

    pub fn template_for(&self, variant: &str) -> Option<&ResolvedTemplate> {
        self.templates.get(&self.variant(variant)?.template)
    }

    /// A case by id, or else by its 1-based row number.
    pub fn case(&self, id_or_row: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id_or_row).or_else(|| {
            let row: usize = id_or_row.parse().ok()?;
            self.cases.get(row.checked_sub(1)?)
        })
    }

    /// Where case number `index` (0-based) was read.
    pub fn case_location(&self, index: usize) -> Option<&Location> {
        self.case_locations.get(index)
    }

    /// The session's global checks followed by the variant's own.
    pub fn checks_for(&self, variant: &str) -> Vec<CheckSpec> {
        let own = self.variant(variant).map_or(&[][..], |v| &v.checks[..]);
        self.file.checks.iter().chain(own).cloned().collect()
    }

    /// The templates as written, keyed by name: what the workbench edits.
    pub fn template_specs(&self) -> HashMap<String, TemplateSpec> {
        self.file
            .templates
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Resolves `specs` (the session's templates, maybe edited) as loading would.
    pub fn resolve_templates<S: BuildHasher>(
        &self,
        specs: &HashMap<String, TemplateSpec, S>,
    ) -> Result<IndexMap<String, ResolvedTemplate>, SessionError> {
        // The runner asks for the file's own templates once per variant: no need to read
        // and compile their schemas again.
        let unchanged = specs.len() == self.file.templates.len()
            && self
                .file
                .templates
                .iter()
                .all(|(k, v)| specs.get(k) == Some(v));
        if unchanged {
            return Ok(self.templates.clone());
        }
        let ordered = self.ordered(specs);
        let mut cx = load::Checker::new(&self.path, &self.dir, &self.index);
        let templates = cx.resolve_templates(&ordered);
        cx.finish()?;
        Ok(templates)
    }

    /// This session with its templates replaced by `specs`, checked as loading would.
    pub fn with_templates<S: BuildHasher>(
        &self,
        specs: &HashMap<String, TemplateSpec, S>,
    ) -> Result<Session, SessionError> {
        let mut file = self.file.clone();
        file.templates = self.ordered(specs);
        let mut cx = load::Checker::new(&self.path, &self.dir, &self.index);
        let templates = cx.check_file(&file);
        cx.finish()?;
        Ok(Session {
            file,
            templates,
            ..self.clone()
        })
    }

    /// `specs` in the file's order, new names after the others in name order (a `HashMap`
    /// has no order, and the file's order is what a person arranged).
    fn ordered<S: BuildHasher>(
        &self,
        specs: &HashMap<String, TemplateSpec, S>,
    ) -> IndexMap<String, TemplateSpec> {
        let mut out: IndexMap<String, TemplateSpec> = self
            .file
            .templates
            .keys()
            .filter_map(|k| Some((k.clone(), specs.get(k)?.clone())))
            .collect();
        let mut new: Vec<_> = specs
            .iter()
            .filter(|(k, _)| !out.contains_key(*k))
            .collect();
        new.sort_by(|a, b| a.0.cmp(b.0));
        out.extend(new.into_iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// The session's templates, compiled once for rendering.
    pub fn renderer(&self) -> Result<Renderer, TemplateErrors> {
        Renderer::from_templates(&self.templates)
    }

    /// The version record of `template` as defined by `specs` (the session's templates,
    /// maybe edited in the workbench), ready to store.
    pub fn template_version<S: BuildHasher>(
        &self,
        specs: &HashMap<String, TemplateSpec, S>,
        template: &str,
    ) -> Result<TemplateVersionRecord, SessionError> {
        let resolved = self.resolve_templates(specs)?;
        let t = resolved.get(template).ok_or_else(|| {
            SessionError::Invalid(vec![
                self.template_problem(TemplateError::Unknown(template.to_owned()), 0),
            ])
        })?;
        Ok(crate::template::version_record(
            &self.file.name,
            template,
            t,
        ))
    }

    /// The messages `template` (as defined by `specs`) renders for case number `case`
    /// (0-based), without passages: the workbench's live preview.
    pub fn preview<S: BuildHasher>(
        &self,
        specs: &HashMap<String, TemplateSpec, S>,
        template: &str,
        case: usize,
    ) -> anyhow::Result<Vec<Message>> {
        let resolved = self.resolve_templates(specs)?;
        let case = self
            .cases
            .get(case)
            .ok_or_else(|| anyhow::anyhow!("no case number {}", case + 1))?;
        let renderer = Renderer::from_templates(&resolved)?;
        Ok(renderer.render(template, case, &[])?)
    }

    /// Template errors as `file:line:col: ...` lines, as `loupe check` prints them.
    pub fn located_template_errors(
        &self,
        errors: impl IntoIterator<Item = TemplateError>,
    ) -> String {
        errors
            .into_iter()
            .map(|e| self.template_problem(e, 0).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A template error as a problem, located at the line of the part to fix.
    pub fn template_problem(&self, error: TemplateError, more_cases: usize) -> Problem {
        let hint = match &error {
            TemplateError::Undefined { variable, .. } => {
                let mut known: Vec<String> = self
                    .cases
                    .iter()
                    .flat_map(|c| c.vars.keys().cloned())
                    .collect();
                known.sort();
                known.dedup();
                let csv = match &self.file.cases {
                    CasesSpec::File(f)
                        if Path::new(&f.file)
                            .extension()
                            .is_some_and(|e| e.eq_ignore_ascii_case("csv")) =>
                    {
                        Some(self.dir.join(&f.file))
                    }
                    _ => None,
                };
                hints::undefined_variable(variable, &known, csv.as_deref())
            }
            _ => String::new(),
        };
        let mut problem = load::template_problem(
            &self.path,
            &self.index,
            &self.file.templates,
            error,
            more_cases,
        );
        if let ProblemKind::Template { hint: h, .. } = &mut problem.kind {
            *h = hint;
        }
        problem
    }
}
