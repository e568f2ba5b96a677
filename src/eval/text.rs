//! Text similarity metrics against a reference answer: BLEU, ROUGE-L and normalised
//! Levenshtein similarity.
//!
//! BLEU follows sacreBLEU 2.x with its defaults exactly: the `13a` tokeniser (mteval-v13a),
//! case-sensitive, 4-gram, `exp` smoothing; [`sentence_bleu`] uses effective order like
//! `sacrebleu.sentence_bleu`, [`corpus_bleu`] does not, like `sacrebleu.corpus_bleu`. Both
//! return sacreBLEU's 0-100 scale. ROUGE-L follows the `rouge-score` package with its default
//! tokeniser and no stemming. `tests/reference/gen_text_metrics.py` produces the fixtures
//! that `tests/engine_checks_reference.rs` compares against.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

const MAX_NGRAM_ORDER: usize = 4;

/// Python's `str.isspace`, which `str.split()` uses: Unicode `White_Space` plus the four
/// ASCII information separators (U+001C..U+001F) that Rust's `char::is_whitespace` leaves out.
fn py_is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(py_is_space).filter(|t| !t.is_empty())
}

static RE_13A: LazyLock<[(Regex, &'static str); 4]> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).expect("static 13a regex");
    [
        // Language-dependent part (assuming Western languages): ASCII punctuation and
        // symbols except the apostrophe, comma, hyphen and period. The space is in the
        // class too, as in sacreBLEU; it only adds spaces that are collapsed later.
        (
            re(r"([\x7B-\x7E\x5B-\x60\x20-\x26\x28-\x2B\x3A-\x40\x2F])"),
            " ${1} ",
        ),
        // Period and comma unless preceded by a digit.
        (re(r"([^0-9])([.,])"), "${1} ${2} "),
        // Period and comma unless followed by a digit.
        (re(r"([.,])([^0-9])"), " ${1} ${2}"),
        // Dash when preceded by a digit.
        (re(r"([0-9])(-)"), "${1} ${2} "),
    ]
});

/// sacreBLEU's `13a` tokenisation of one segment (after its `rstrip`), as tokens.
pub fn tokenize_13a(line: &str) -> Vec<String> {
    let line = line.trim_end_matches(py_is_space);
    let mut s = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if s.contains('&') {
        // Sequential, like the Python: `&amp;lt;` becomes `<`.
        s = s
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut s = format!(" {s} ");
    for (re, rep) in RE_13A.iter() {
        if let std::borrow::Cow::Owned(o) = re.replace_all(&s, *rep) {
            s = o;
        }
    }
    py_split(&s).map(str::to_owned).collect()
}

/// The sufficient statistics of one segment: lengths and matched / total n-gram counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct BleuStats {
    sys_len: usize,
    ref_len: usize,
    correct: [usize; MAX_NGRAM_ORDER],
    total: [usize; MAX_NGRAM_ORDER],
}

impl std::ops::AddAssign for BleuStats {
    fn add_assign(&mut self, o: Self) {
        self.sys_len += o.sys_len;
        self.ref_len += o.ref_len;
        for n in 0..MAX_NGRAM_ORDER {
            self.correct[n] += o.correct[n];
            self.total[n] += o.total[n];
        }
    }
}

fn ngram_counts(tokens: &[String]) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    for n in 1..=MAX_NGRAM_ORDER {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

fn segment_stats<R: AsRef<str>>(hyp: &str, refs: &[R]) -> BleuStats {
    let ref_tokens: Vec<Vec<String>> = refs.iter().map(|r| tokenize_13a(r.as_ref())).collect();
    // Clip counts: for each n-gram, the most times any one reference has it.
    let mut ref_ngrams: HashMap<&[String], usize> = HashMap::new();
    for toks in &ref_tokens {
        for (gram, count) in ngram_counts(toks) {
            let e = ref_ngrams.entry(gram).or_insert(0);
            *e = (*e).max(count);
        }
    }
    let hyp_tokens = tokenize_13a(hyp);
    let hyp_len = hyp_tokens.len();
    // The closest reference length; ties go to the shorter reference.
    let mut ref_len = 0;
    let mut closest_diff = None;
    for toks in &ref_tokens {
        let len = toks.len();
        let diff = hyp_len.abs_diff(len);
        match closest_diff {
            Some(d) if diff > d || (diff == d && len >= ref_len) => {}
            _ => {
                closest_diff = Some(diff);
                ref_len = len;
            }
        }
    }
    let mut stats = BleuStats {
        sys_len: hyp_len,
        ref_len,
        ..BleuStats::default()
    };
    for (gram, count) in ngram_counts(&hyp_tokens) {
        let n = gram.len() - 1;
        stats.total[n] += count;
        if let Some(&r) = ref_ngrams.get(gram) {
            stats.correct[n] += count.min(r);
        }
    }
    stats
}

/// sacreBLEU's `my_log`: log floored to a very low number instead of minus infinity.
fn my_log(x: f64) -> f64 {
    if x == 0.0 { -9_999_999_999.0 } else { x.ln() }
}

/// `BLEU.compute_bleu` with `smooth_method='exp'`, operation for operation so that results
/// agree with the Python to the last few ulps.
fn compute_bleu(s: &BleuStats, effective_order: bool) -> f64 {
    let bp = if s.sys_len < s.ref_len {
        if s.sys_len > 0 {
            (1.0 - s.ref_len as f64 / s.sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    if s.correct.iter().all(|&c| c == 0) {
        return 0.0;
    }
    let mut precisions = [0.0_f64; MAX_NGRAM_ORDER];
    let mut smooth_mteval = 1.0_f64;
    let mut eff_order = MAX_NGRAM_ORDER;
    for n in 1..=MAX_NGRAM_ORDER {
        let (correct, total) = (s.correct[n - 1], s.total[n - 1]);
        if total == 0 {
            break;
        }
        if effective_order {
            eff_order = n;
        }
        if correct == 0 {
            smooth_mteval *= 2.0;
            precisions[n - 1] = 100.0 / (smooth_mteval * total as f64);
        } else {
            precisions[n - 1] = 100.0 * correct as f64 / total as f64;
        }
    }
    let log_sum = precisions[..eff_order]
        .iter()
        .fold(0.0, |acc, &p| acc + my_log(p));
    bp * (log_sum / eff_order as f64).exp()
}

/// Sentence-level BLEU of `hyp` against one or more references, on the 0-100 scale, as
/// `sacrebleu.sentence_bleu(hyp, refs)` with its defaults (13a, exp smoothing, effective
/// order). No references, or no matching unigram, gives 0.
pub fn sentence_bleu<R: AsRef<str>>(hyp: &str, refs: &[R]) -> f64 {
    compute_bleu(&segment_stats(hyp, refs), true)
}

/// Corpus-level BLEU on the 0-100 scale, as `sacrebleu.corpus_bleu` with its defaults.
///
/// `refs[i]` holds the references of `hyps[i]` (sacreBLEU takes the transpose: one stream
/// per reference). Extra hypotheses or references beyond the shorter list are ignored.
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(hyps: &[H], refs: &[Vec<R>]) -> f64 {
    let mut stats = BleuStats::default();
    for (hyp, refs) in hyps.iter().zip(refs) {
        stats += segment_stats(hyp.as_ref(), refs);
    }
    compute_bleu(&stats, false)
}

/// `rouge-score`'s default tokeniser without stemming: lowercase, then the runs of ASCII
/// letters and digits are the tokens (everything else, non-ASCII letters included, separates).
pub fn rouge_tokenize(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// ROUGE-L F-measure (0..1) of `hyp` against `reference`: the longest common subsequence of
/// [`rouge_tokenize`] tokens, `P = lcs/|hyp|`, `R = lcs/|ref|`, `F = 2PR/(P+R)`, as
/// `rouge_score.rouge_scorer.RougeScorer(["rougeL"]).score(reference, hyp)["rougeL"].fmeasure`.
pub fn rouge_l(hyp: &str, reference: &str) -> f64 {
    let h = rouge_tokenize(hyp);
    let r = rouge_tokenize(reference);
    if h.is_empty() || r.is_empty() {
        return 0.0;
    }
    let hi: Vec<&str> = h.iter().map(String::as_str).collect();
    let ri: Vec<&str> = r.iter().map(String::as_str).collect();
    let lcs = lcs_len(&hi, &ri);
    let precision = lcs as f64 / h.len() as f64;
    let recall = lcs as f64 / r.len() as f64;
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

/// Positions of each symbol of `pattern`, one bit per position, in 64-bit blocks.
fn pattern_masks<T: Copy + Eq + std::hash::Hash>(pattern: &[T]) -> HashMap<T, Vec<u64>> {
    let blocks = pattern.len().div_ceil(64);
    let mut peq: HashMap<T, Vec<u64>> = HashMap::new();
    for (i, &sym) in pattern.iter().enumerate() {
        peq.entry(sym).or_insert_with(|| vec![0; blocks])[i / 64] |= 1 << (i % 64);
    }
    peq
}

/// Length of the longest common subsequence, bit-parallel (Allison-Dix / Hyyrö): O(n·m/64),
/// so long outputs stay cheap.
pub(crate) fn lcs_len<T: Copy + Eq + std::hash::Hash>(left: &[T], right: &[T]) -> usize {
    let (pattern, text) = if left.len() <= right.len() {
        (left, right)
    } else {
        (right, left)
    };
    let m = pattern.len();
    if m == 0 {
        return 0;
    }
    let peq = pattern_masks(pattern);
    let mut vbits = vec![u64::MAX; m.div_ceil(64)];
    for sym in text {
        let Some(eq) = peq.get(sym) else { continue };
        let mut carry = false;
        for (vb, &eqb) in vbits.iter_mut().zip(eq) {
            let old = *vb;
            let u = old & eqb;
            let (s1, c1) = old.overflowing_add(u);
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            carry = c1 || c2;
            *vb = s2 | (old & !u);
        }
    }
    let mut zeros = 0;
    for (i, &vb) in vbits.iter().enumerate() {
        let bits = (m - i * 64).min(64);
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        zeros += (!vb & mask).count_ones() as usize;
    }
    zeros
}

/// Levenshtein distance over chars (insert, delete, substitute, each costing 1), computed
/// with Myers' bit-vector algorithm in blocks: O(n·m/64).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (pattern, text) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let m = pattern.len();
    if m == 0 {
        return text.len();
    }
    let peq = pattern_masks(pattern);
    let blocks = m.div_ceil(64);
    let last_high = 1u64 << ((m - 1) % 64);
    let mut pv = vec![u64::MAX; blocks];
    let mut mv = vec![0u64; blocks];
    let zeros = vec![0u64; blocks];
    let mut score = m;
    for c in text {
        let eqs = peq.get(c).unwrap_or(&zeros);
        // The top row of the matrix is 0, 1, 2, ...: each text char adds 1 on entry.
        let mut hin: i8 = 1;
        for b in 0..blocks {
            let high = if b + 1 == blocks { last_high } else { 1 << 63 };
            let (p, mm) = (pv[b], mv[b]);
            let mut eq = eqs[b];
            let xv = eq | mm;
            if hin < 0 {
                eq |= 1;
            }
            let xh = ((eq & p).wrapping_add(p) ^ p) | eq;
            let mut ph = mm | !(xh | p);
            let mut mh = p & xh;
            let hout: i8 = if ph & high != 0 {
                1
            } else if mh & high != 0 {
                -1
            } else {
                0
            };
            ph <<= 1;
            mh <<= 1;
            if hin < 0 {
                mh |= 1;
            } else if hin > 0 {
                ph |= 1;
            }
            pv[b] = mh | !(xv | ph);
            mv[b] = ph & xv;
            hin = hout;
        }
        match hin {
            1 => score += 1,
            -1 => score -= 1,
            _ => {}
        }
    }
    score
}

/// Normalised Levenshtein similarity over chars: `1 - distance / max(len)`, in 0..1; two
/// empty strings are identical (1).
pub fn similarity(a: &str, b: &str) -> f64 {
    let max_len = a.chars().count().max(b.chars().count());
    if max_len == 0 {
        return 1.0;
    }
    1.0 - levenshtein(a, b) as f64 / max_len as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive_lev(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut cur = vec![i; b.len() + 1];
            for j in 1..=b.len() {
                let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
                cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }

    fn naive_lcs(a: &[u8], b: &[u8]) -> usize {
        let mut t = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                t[i][j] = if a[i - 1] == b[j - 1] {
                    t[i - 1][j - 1] + 1
                } else {
                    t[i - 1][j].max(t[i][j - 1])
                };
            }
        }
        t[a.len()][b.len()]
    }

    #[test]
    fn levenshtein_known_values() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("héllo", "hello"), 1);
        assert!((similarity("abcd", "abcf") - 0.75).abs() < 1e-12);
        assert!((similarity("", "") - 1.0).abs() < 1e-12);
    }

    #[test]
    fn levenshtein_long_multi_block() {
        let a: String = (0..300)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        let b: String = (0..250)
            .map(|i| char::from(b'a' + (i * 5 % 26) as u8))
            .collect();
        assert_eq!(levenshtein(&a, &b), naive_lev(&a, &b));
    }

    proptest! {
        #[test]
        fn levenshtein_matches_dp(a in "[abc]{0,150}", b in "[abcd]{0,150}") {
            prop_assert_eq!(levenshtein(&a, &b), naive_lev(&a, &b));
        }

        #[test]
        fn lcs_matches_dp(a in proptest::collection::vec(0u8..4, 0..200),
                          b in proptest::collection::vec(0u8..4, 0..200)) {
            prop_assert_eq!(lcs_len(&a, &b), naive_lcs(&a, &b));
        }
    }

    #[test]
    fn tokenize_13a_examples() {
        assert_eq!(
            tokenize_13a("Hello, world! It's 3.14 and 1,000 -- ok."),
            [
                "Hello", ",", "world", "!", "It's", "3.14", "and", "1,000", "--", "ok", "."
            ]
        );
        assert_eq!(tokenize_13a("a&amp;b 2-3"), ["a", "&", "b", "2", "-", "3"]);
    }

    #[test]
    fn bleu_identity_is_100() {
        let s = "the quick brown fox jumps over the lazy dog";
        assert!((sentence_bleu(s, &[s]) - 100.0).abs() < 1e-9);
        assert!((corpus_bleu(&[s], &[vec![s]]) - 100.0).abs() < 1e-9);
        assert!(sentence_bleu("", &[s]).abs() < 1e-12);
        assert!(sentence_bleu(s, &[] as &[&str]).abs() < 1e-12);
    }

    #[test]
    fn rouge_examples() {
        assert!((rouge_l("the cat sat", "the cat sat") - 1.0).abs() < 1e-12);
        assert!(rouge_l("", "x").abs() < 1e-12);
        assert_eq!(
            rouge_tokenize("Hello, Wörld 42!"),
            ["hello", "w", "rld", "42"]
        );
    }
}
