//! Masking: phrases that would tell a rater which model wrote an output are replaced
//! before the output (or a case input) is shown. Always masked, whatever their case:
//!
//! - each model id of the run and of the session (`org/model-7b`, its last `/` or `:`
//!   part) and its family stems (`smollm2-135m` gives `smollm2` and `smollm`;
//!   `gpt-4o-mini` gives `gpt-4o` and `gpt`);
//! - the session's model keys (`small`, `tuned`) and provider names (`openai`, ...);
//! - a built-in list of well-known model and vendor names ([`WELL_KNOWN`]);
//! - the session's `rating.mask` phrases.
//!
//! `rating.unmask` takes phrases back out of that list (a model key such as `small` that
//! is also an ordinary word). A phrase matches only where it is not glued to other
//! letters, so `Meta` does not eat `metadata` while `Llama3` and `GPT-4` are caught.
//!
//! Blindness never switches off silently: when the pattern cannot be built, making the
//! masker fails and the rating screen does not open.

use std::borrow::Cow;

use regex::{Regex, RegexBuilder};

use crate::session::Session;
use crate::store::RunRecord;

/// What a masked phrase becomes on screen.
pub const MASK: &str = "[masked]";

/// Model families and vendors a rater could recognise in an output, masked in every
/// rating session.
pub const WELL_KNOWN: &[&str] = &[
    "Claude",
    "Anthropic",
    "ChatGPT",
    "GPT",
    "OpenAI",
    "Llama",
    "Meta AI",
    "Meta",
    "Gemini",
    "Gemma",
    "Bard",
    "Google DeepMind",
    "DeepMind",
    "Mistral",
    "Mixtral",
    "Qwen",
    "Alibaba",
    "DeepSeek",
    "Phi-3",
    "Phi-4",
    "Microsoft",
    "Copilot",
    "Cohere",
    "Command R",
    "Grok",
    "xAI",
    "Falcon",
    "SmolLM",
    "Hugging Face",
    "HuggingFace",
    "Ollama",
    "Vicuna",
    "Yi",
];

/// The largest compiled pattern allowed by default (the regex crate's own default).
const SIZE_LIMIT: usize = 10 * (1 << 20);

/// Why a masker could not be made.
#[derive(Debug, thiserror::Error)]
#[error(
    "the masking of model names for raters could not be built from {phrases} phrases ({source}); \
     the ratings would not be blind, so the rating screen does not open: shorten `rating.mask`"
)]
pub struct MaskError {
    phrases: usize,
    #[source]
    source: regex::Error,
}

/// A compiled list of phrases to hide.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    pattern: Option<Regex>,
}

impl Masker {
    pub fn new<I, S>(phrases: I) -> Result<Self, MaskError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::with_size_limit(phrases, SIZE_LIMIT)
    }

    /// As [`Masker::new`] with a bound on the compiled pattern's size.
    pub fn with_size_limit<I, S>(phrases: I, size_limit: usize) -> Result<Self, MaskError>
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
        list.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        if list.is_empty() {
            return Ok(Self::default());
        }
        let alternation: Vec<String> = list.iter().map(|p| regex::escape(p)).collect();
        let pattern = RegexBuilder::new(&alternation.join("|"))
            .case_insensitive(true)
            .size_limit(size_limit)
            .build()
            .map_err(|source| MaskError {
                phrases: list.len(),
                source,
            })?;
        Ok(Self {
            pattern: Some(pattern),
        })
    }

    /// The masker for rating outputs of `run` in `session` (see the module's list).
    pub fn for_run(session: &Session, run: &RunRecord) -> Result<Self, MaskError> {
        Self::new(phrases_for_run(session, run))
    }

    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(re) = &self.pattern else {
            return Cow::Borrowed(text);
        };
        let glued = |c: Option<char>| c.is_some_and(char::is_alphabetic);
        let mut out = String::new();
        let mut last = 0;
        let mut at = 0;
        while at <= text.len() {
            let Some(m) = re.find_at(text, at) else {
                break;
            };
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            if m.is_empty() || glued(before) || glued(after) {
                // Not a phrase of its own here: go on one character later.
                at = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
                continue;
            }
            out.push_str(&text[last..m.start()]);
            out.push_str(MASK);
            last = m.end();
            at = m.end();
        }
        if last == 0 {
            return Cow::Borrowed(text);
        }
        out.push_str(&text[last..]);
        Cow::Owned(out)
    }
}

/// Every phrase masked for `run` in `session`, before `rating.unmask` is applied.
fn phrases_for_run(session: &Session, run: &RunRecord) -> Vec<String> {
    let mut phrases: Vec<String> = WELL_KNOWN.iter().map(|&s| s.to_owned()).collect();
    let ids = run
        .variants
        .iter()
        .map(|v| v.model.model.as_str())
        .chain(session.file.models.values().map(|m| m.model.as_str()));
    for id in ids {
        phrases.extend(model_id_phrases(id));
    }
    for (key, spec) in &session.file.models {
        phrases.push(key.clone());
        phrases.push(provider_name(spec.provider).to_owned());
    }
    for v in &run.variants {
        phrases.push(v.model_name.clone());
        phrases.push(provider_name(v.model.provider.into()).to_owned());
    }
    let spec = session.file.rating.as_ref();
    if let Some(spec) = spec {
        phrases.extend(spec.mask.iter().cloned());
    }
    let unmask: Vec<String> = spec
        .map(|s| s.unmask.iter().map(|p| p.trim().to_lowercase()).collect())
        .unwrap_or_default();
    phrases.retain(|p| !unmask.contains(&p.trim().to_lowercase()));
    phrases
}

fn provider_name(kind: crate::session::ProviderKind) -> &'static str {
    match kind {
        crate::session::ProviderKind::Openai => "openai",
        crate::session::ProviderKind::Anthropic => "anthropic",
        crate::session::ProviderKind::Ollama => "ollama",
    }
}

/// A model id, its last `/` or `:` part, and the family stems of that part: each shorter
/// `-`-joined prefix, and the first segment without its trailing version digits.
pub fn model_id_phrases(id: &str) -> Vec<String> {
    let id = id.trim();
    let mut out = vec![id.to_owned()];
    let last = id.rsplit(['/', ':']).next().unwrap_or(id);
    // A tag such as `ollama`'s `latest` is not the model's name.
    let base = id
        .split_once(':')
        .map_or(last, |(name, _)| name.rsplit('/').next().unwrap_or(name));
    for part in [last, base] {
        let segments: Vec<&str> = part.split(['-', '_']).collect();
        for n in (1..=segments.len()).rev() {
            out.push(segments[..n].join("-"));
        }
        let first = segments.first().copied().unwrap_or_default();
        let stem = first.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        out.push(stem.to_owned());
    }
    // Too short to be a name on its own (`7b`, `v2`): they would mask ordinary text.
    out.retain(|p| p.chars().filter(|c| c.is_alphabetic()).count() >= 3);
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_phrases_whatever_their_case() -> Result<(), MaskError> {
        let m = Masker::new(["smollm2-135m", "SmolLM", "acme"])?;
        assert_eq!(
            m.mask("I am SmolLM2-135M, made by ACME; smollm rocks"),
            "I am [masked], made by [masked]; [masked] rocks"
        );
        assert_eq!(m.mask("nothing here"), "nothing here");
        assert_eq!(Masker::new([" ", ""])?.mask("a b"), "a b");
        assert_eq!(Masker::new(["a.b"])?.mask("axb a.b"), "axb [masked]");
        Ok(())
    }

    #[test]
    fn names_glued_to_other_letters_are_words_not_names() -> Result<(), MaskError> {
        let m = Masker::new(WELL_KNOWN)?;
        assert_eq!(
            m.mask("Meta's metadata; Llama3 and GPT-4o; chatgpt, qwen2.5"),
            "[masked]'s metadata; [masked]3 and [masked]-4o; [masked], [masked]2.5"
        );
        assert_eq!(m.mask("Yield yes"), "Yield yes");
        Ok(())
    }

    #[test]
    fn model_ids_give_their_family_stems() {
        let p = model_id_phrases("smollm2-135m");
        assert!(p.contains(&"smollm2".to_owned()), "{p:?}");
        assert!(p.contains(&"smollm".to_owned()), "{p:?}");
        let p = model_id_phrases("gpt-4o-mini");
        for s in ["gpt-4o-mini", "gpt-4o", "gpt"] {
            assert!(p.contains(&s.to_owned()), "{s} in {p:?}");
        }
        let p = model_id_phrases("HuggingFaceTB/SmolLM2-135M-Instruct:q8");
        for s in ["SmolLM2-135M-Instruct", "SmolLM2", "SmolLM"] {
            assert!(p.contains(&s.to_owned()), "{s} in {p:?}");
        }
        assert!(!p.iter().any(|s| s.eq_ignore_ascii_case("q8")));
    }

    #[test]
    fn a_pattern_that_cannot_be_built_is_an_error_not_an_unmasked_text() {
        let phrases: Vec<String> = (0..200).map(|i| format!("model-name-{i}")).collect();
        let err = Masker::with_size_limit(&phrases, 100)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("could not be built from 200 phrases"), "{err}");
        assert!(err.contains("would not be blind"), "{err}");
    }
}
