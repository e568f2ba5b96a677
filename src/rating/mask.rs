//! Masking: phrases that would tell a rater which model wrote an output are replaced
//! before the output is shown. The model names of the run's variants are always masked
//! (the full id such as `org/model-7b` and its last `/` or `:` part), plus the session's
//! `rating.mask` list. Matching ignores case.

use std::borrow::Cow;

use regex::Regex;

use crate::session::Session;
use crate::store::RunRecord;

/// What a masked phrase becomes on screen.
pub const MASK: &str = "[masked]";

/// A compiled list of phrases to hide.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    pattern: Option<Regex>,
}

impl Masker {
    pub fn new<I, S>(phrases: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list: Vec<String> = phrases
            .into_iter()
            .map(|p| p.as_ref().trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        // Longest first, so `llama-3-8b` is masked whole rather than `llama` in it.
        list.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        list.dedup();
        if list.is_empty() {
            return Self::default();
        }
        let alternation: Vec<String> = list.iter().map(|p| regex::escape(p)).collect();
        // Escaped literals cannot make an invalid pattern; a size limit could, in theory,
        // with an enormous list, and then masking falls back to a literal scan.
        let pattern = Regex::new(&format!("(?i){}", alternation.join("|"))).ok();
        Self { pattern }
    }

    /// The masker for rating outputs of `run`: its models' names and the session's list.
    pub fn for_run(session: &Session, run: &RunRecord) -> Self {
        let mut phrases: Vec<String> = Vec::new();
        for v in &run.variants {
            let id = v.model.model.trim();
            phrases.push(id.to_owned());
            for sep in ['/', ':'] {
                if let Some((_, last)) = id.rsplit_once(sep)
                    && last.len() >= 3
                {
                    phrases.push(last.to_owned());
                }
            }
        }
        if let Some(spec) = &session.file.rating {
            phrases.extend(spec.mask.iter().cloned());
        }
        Self::new(phrases)
    }

    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.pattern {
            Some(re) => re.replace_all(text, MASK),
            None => Cow::Borrowed(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_phrases_whatever_their_case() {
        let m = Masker::new(["smollm2-135m", "SmolLM", "acme"]);
        assert_eq!(
            m.mask("I am SmolLM2-135M, made by ACME; smollm rocks"),
            "I am [masked], made by [masked]; [masked] rocks"
        );
        assert_eq!(m.mask("nothing here"), "nothing here");
        assert_eq!(Masker::new([" ", ""]).mask("a b"), "a b");
        assert_eq!(Masker::new(["a.b"]).mask("axb a.b"), "axb [masked]");
    }
}
