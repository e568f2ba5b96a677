//! `inherits:`: a template takes every part it does not set from its parent, recursively.

use indexmap::IndexMap;

use crate::spec::TemplateSpec;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InheritError {
    #[error("no template named `{0}`")]
    NotFound(String),
    #[error("template `{template}` inherits unknown template `{parent}`")]
    Unknown { template: String, parent: String },
    /// The names around the cycle, the first repeated at the end: `a -> b -> a`.
    #[error("template inheritance cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

/// The names from `name` up to its root, child first.
pub fn chain<'a>(
    specs: &'a IndexMap<String, TemplateSpec>,
    name: &'a str,
) -> Result<Vec<&'a str>, InheritError> {
    let mut names = vec![name];
    let mut spec = specs
        .get(name)
        .ok_or_else(|| InheritError::NotFound(name.to_owned()))?;
    while let Some(parent) = spec.inherits.as_deref() {
        if let Some(start) = names.iter().position(|n| *n == parent) {
            let mut cycle: Vec<String> = names[start..].iter().map(|n| (*n).to_owned()).collect();
            cycle.push(parent.to_owned());
            return Err(InheritError::Cycle(cycle));
        }
        let Some(next) = specs.get(parent) else {
            return Err(InheritError::Unknown {
                template: (*names.last().unwrap_or(&name)).to_owned(),
                parent: parent.to_owned(),
            });
        };
        names.push(parent);
        spec = next;
    }
    Ok(names)
}

/// `name` with every inherited part filled in (and `inherits` cleared).
pub fn flatten(
    specs: &IndexMap<String, TemplateSpec>,
    name: &str,
) -> Result<TemplateSpec, InheritError> {
    let mut out = TemplateSpec::default();
    // Root first, so that each child overrides what its parents set.
    for n in chain(specs, name)?.into_iter().rev() {
        let Some(spec) = specs.get(n) else { continue };
        let spec = spec.clone();
        out.system = spec.system.or(out.system);
        out.examples = spec.examples.or(out.examples);
        out.user = spec.user.or(out.user);
        out.output_schema = spec.output_schema.or(out.output_schema);
    }
    Ok(out)
}

/// The template in `name`'s chain that sets the part `has` looks at: the one to point at
/// when that part is wrong.
pub(crate) fn origin<'a>(
    specs: &'a IndexMap<String, TemplateSpec>,
    name: &'a str,
    has: impl Fn(&TemplateSpec) -> bool,
) -> &'a str {
    chain(specs, name)
        .ok()
        .and_then(|names| names.into_iter().find(|n| specs.get(*n).is_some_and(&has)))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Name, inherits, system, user.
    type Row<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

    fn specs(pairs: &[Row]) -> IndexMap<String, TemplateSpec> {
        pairs
            .iter()
            .map(|(name, inherits, system, user)| {
                (
                    (*name).to_owned(),
                    TemplateSpec {
                        inherits: inherits.map(str::to_owned),
                        system: system.map(str::to_owned),
                        user: user.map(str::to_owned),
                        ..TemplateSpec::default()
                    },
                )
            })
            .collect()
    }

    #[test]
    fn children_override_parents_part_by_part() {
        let s = specs(&[
            ("base", None, Some("sys"), Some("base user")),
            ("mid", Some("base"), None, None),
            ("leaf", Some("mid"), None, Some("leaf user")),
        ]);
        let t = flatten(&s, "leaf").expect("resolves");
        assert_eq!(t.system.as_deref(), Some("sys"));
        assert_eq!(t.user.as_deref(), Some("leaf user"));
        assert_eq!(t.inherits, None);
        assert_eq!(chain(&s, "leaf").expect("chain"), ["leaf", "mid", "base"]);
        assert_eq!(origin(&s, "leaf", |t| t.system.is_some()), "base");
        assert_eq!(origin(&s, "leaf", |t| t.user.is_some()), "leaf");
    }

    #[test]
    fn an_unknown_parent_names_the_template_that_asked() {
        let s = specs(&[
            ("a", Some("b"), None, None),
            ("b", Some("nope"), None, None),
        ]);
        assert_eq!(
            flatten(&s, "a"),
            Err(InheritError::Unknown {
                template: "b".into(),
                parent: "nope".into()
            })
        );
    }

    #[test]
    fn cycles_are_found_and_named() {
        let s = specs(&[
            ("x", Some("a"), None, None),
            ("a", Some("b"), None, None),
            ("b", Some("a"), None, None),
        ]);
        assert_eq!(
            flatten(&s, "x"),
            Err(InheritError::Cycle(vec![
                "a".into(),
                "b".into(),
                "a".into()
            ]))
        );
        let me = specs(&[("me", Some("me"), None, None)]);
        assert_eq!(
            chain(&me, "me"),
            Err(InheritError::Cycle(vec!["me".into(), "me".into()]))
        );
    }
}
