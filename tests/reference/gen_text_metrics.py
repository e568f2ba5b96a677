#!/usr/bin/env python3
"""Reference values for Loupe's text metrics (src/eval/text.rs).

Computes sentence BLEU (sacrebleu.sentence_bleu), corpus BLEU (sacrebleu.corpus_bleu), both
with sacreBLEU's defaults (13a tokenisation, exp smoothing, mixed case), and ROUGE-L
F-measure (rouge_score RougeScorer(["rougeL"]), default tokenizer, no stemming) over a fixed
set of hypothesis/reference pairs, and writes tests/reference/text_metrics_fixtures.json.
tests/checks_reference.rs compares the Rust implementation against that file.

Regenerate (from the crate root):

    python3 -m venv .loupe/pyenv-text
    .loupe/pyenv-text/bin/pip install sacrebleu==2.6.0 rouge-score==0.1.2
    .loupe/pyenv-text/bin/python tests/reference/gen_text_metrics.py
"""

import json
import pathlib

import sacrebleu
from rouge_score import rouge_scorer

# (hypothesis, [references]); ROUGE-L is scored against the first reference.
PAIRS = [
    # exact match
    ("The quick brown fox jumps over the lazy dog.",
     ["The quick brown fox jumps over the lazy dog."]),
    # near match, casing differs (BLEU is case-sensitive, ROUGE lowercases)
    ("the Quick brown fox jumped over the lazy dog",
     ["The quick brown fox jumps over the lazy dog."]),
    # only unigram matches: exp smoothing of the higher orders
    ("dog lazy the over", ["The quick brown fox jumps over the lazy dog."]),
    # no overlap at all
    ("Completely unrelated words here", ["The quick brown fox jumps over the lazy dog."]),
    # empty hypothesis
    ("", ["The quick brown fox jumps over the lazy dog."]),
    # empty reference
    ("Something was said.", [""]),
    # whitespace-only hypothesis
    ("   \t  ", ["a b c"]),
    # numbers: decimals, thousands, dates, ranges, negative numbers
    ("It costs $1,000.50 (about 3.14 times more) on 2024-01-15, range 5-10.",
     ["It costs $1,000.50, roughly 3.14x more, on 2024-01-15; range 5-10."]),
    # punctuation-heavy, quotes, brackets, slashes
    ('He said: "stop!" -- then [left]/{ran} away; why? #yes @no',
     ['He said "stop" and then left / ran away; why?']),
    # HTML entities, <skipped>, hyphen at line end, newlines and tabs
    ("Tom &amp; Jerry &lt;3 &quot;cartoon&quot;<skipped> long-\nterm\tfriends\nforever",
     ["Tom & Jerry <3 \"cartoon\" long-term friends forever"]),
    # unicode letters, accents, CJK, emoji, German sharp s
    ("Café crème à Paris — très bon! 日本語のテキスト 😀 Straße",
     ["Café au lait à Paris, très bon. 日本語 テキスト 😀 Strasse"]),
    # unicode that lowercases to ASCII (Kelvin sign, dotted capital I) and non-breaking spaces
    ("\u212a\u0130NG\u00a0size 10\u00a0\u212a", ["king size 10 k"]),
    # ASCII information separators count as whitespace in Python's str.split
    ("alpha\x1cbeta\x1dgamma\x1edelta\x1fepsilon", ["alpha beta gamma delta epsilon"]),
    # repeated words: clipped n-gram counts
    ("the the the the the the the", ["the cat is on the mat"]),
    # hypothesis much longer than the reference (no brevity penalty)
    ("a cat sits on a mat and the cat looks at a bird that sings on a tree near the mat",
     ["the cat sat on the mat"]),
    # hypothesis much shorter than the reference (brevity penalty)
    ("the cat", ["the cat sat on the mat while the dog slept by the door"]),
    # JSON-looking output
    ('{"title": "Rename log field", "risk": "low", "rationale": "Cosmetic."}',
     ['{"title":"Rename log field","risk":"low","rationale":"Cosmetic change only."}']),
    # apostrophes, contractions, periods and commas next to digits and letters
    ("It's v1.2.3, isn't it? Yes,3 items.5 left", ["It is v1.2.3, is it not? Yes, 3 items, 5 left"]),
    # multiple references: closest length and max clipping across them
    ("the cat is on the mat", ["there is a cat on the mat", "a cat is on the mat"]),
    ("It is a guide to action which ensures that the military always obeys the commands of the party",
     ["It is a guide to action that ensures that the military will forever heed Party commands",
      "It is the guiding principle which guarantees the military forces always being under the command of the Party",
      "It is the practical guide for the army always to heed the directions of the party"]),
    # tie in reference lengths: the shorter one wins
    ("one two three four five", ["one two three four", "one two three four five six"]),
    # one token
    ("yes", ["yes"]),
    # trailing whitespace and newline (rstrip), leading spaces
    ("  trailing spaces and newline  \n", ["trailing spaces and newline"]),
    # long-ish paragraph, mixed case and punctuation
    ("Risk is HIGH: the migration drops a column used by billing, and there's no rollback plan.",
     ["High risk: the migration removes a column that billing still uses and has no rollback."]),
    # dashes between letters and digits, underscores, backticks
    ("Use `snake_case` for x-ray 3-4 times per well-known A-1 case",
     ["Use snake_case for X-ray 3 - 4 times per well known A-1 case"]),
]

# Corpus BLEU over subsets (by index into PAIRS) and over everything.
CORPORA = [
    list(range(len(PAIRS))),
    [0, 1, 2, 3],
    [4, 5, 6],
    [14, 15, 18, 19, 20],
    [7, 8, 9, 10, 16, 17, 23, 24],
]


def main():
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    tok = sacrebleu.BLEU().tokenizer
    sentences = []
    for hyp, refs in PAIRS:
        sentences.append({
            "hyp": hyp,
            "refs": refs,
            "hyp_tokens_13a": tok(hyp.rstrip()).split(),
            "bleu": sacrebleu.sentence_bleu(hyp, refs).score,
            "rouge_l": scorer.score(refs[0], hyp)["rougeL"].fmeasure,
        })
    corpora = []
    for idx in CORPORA:
        hyps = [PAIRS[i][0] for i in idx]
        per_hyp = [PAIRS[i][1] for i in idx]
        # sacreBLEU takes one stream per reference position; pad with None where a
        # segment has fewer references.
        width = max(len(r) for r in per_hyp)
        streams = [[r[k] if k < len(r) else None for r in per_hyp] for k in range(width)]
        corpora.append({
            "indices": idx,
            "bleu": sacrebleu.corpus_bleu(hyps, streams).score,
        })
    out = {
        "generator": "tests/reference/gen_text_metrics.py",
        "sacrebleu": sacrebleu.__version__,
        "rouge_score": "0.1.2",
        "note": "bleu on sacreBLEU's 0-100 scale; rouge_l is the F-measure in 0..1",
        "sentences": sentences,
        "corpora": corpora,
    }
    path = pathlib.Path(__file__).with_name("text_metrics_fixtures.json")
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path} ({len(sentences)} pairs, {len(corpora)} corpora)")


if __name__ == "__main__":
    main()
