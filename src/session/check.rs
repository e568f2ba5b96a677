//! Does every variant's template render for every case? What `loupe check` asks before
//! any model is called.

use indexmap::IndexMap;

use super::{Problem, Session};
use crate::template::{Renderer, TemplateError};

/// Every rendering failure of a loaded session's variants over its cases.
/// A failure shared by many cases (the same variable missing in the same part) is reported
/// once, with the first case and how many more fail the same way.
pub fn check_session(session: &Session) -> Vec<Problem> {
    // Loading has reported any syntax error already (a session with one does not load).
    let (renderer, _) = Renderer::compile(&session.templates);

    // Keyed by what a person fixes: the template part and what is wrong with it.
    let mut failures: IndexMap<String, (TemplateError, usize)> = IndexMap::new();
    let mut seen = Vec::new();
    for v in &session.file.variants {
        if seen.contains(&v.template) || !renderer.has(&v.template) {
            continue;
        }
        seen.push(v.template.clone());
        for case in &session.cases {
            let Err(e) = renderer.render(&v.template, case, &[]) else {
                continue;
            };
            match failures.entry(failure_key(&e)) {
                indexmap::map::Entry::Occupied(mut o) => o.get_mut().1 += 1,
                indexmap::map::Entry::Vacant(slot) => {
                    slot.insert((e, 0));
                }
            }
        }
    }
    failures
        .into_values()
        .map(|(e, more)| session.template_problem(e, more))
        .collect()
}

fn failure_key(e: &TemplateError) -> String {
    match e {
        TemplateError::Undefined {
            template,
            part,
            line,
            variable,
            ..
        } => format!("{template}\0{part}\0{line}\0{variable}"),
        TemplateError::Render {
            template,
            part,
            line,
            message,
            ..
        } => format!("{template}\0{part}\0{line}\0{message}"),
        other => other.to_string(),
    }
}
