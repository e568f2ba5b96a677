//! Per-variant figures of a run: what `loupe report` prints and the Results screen shows.

use indexmap::IndexMap;
use serde::Serialize;

use crate::eval::stats::{self, Interval};
use crate::store::{OutputRecord, RetrievalRecord, RunRecord};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunReport {
    pub run_id: String,
    pub session: String,
    pub status: String,
    pub cells: usize,
    pub variants: Vec<VariantReport>,
    /// How well each RAG variant retrieved and cited (see [`retrieval_report`]); empty
    /// when no variant retrieves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retrieval: Vec<RetrievalReport>,
    /// Failed cells grouped by cause, most frequent first.
    pub errors: Vec<ErrorGroup>,
    /// What each judge decided, per pair (empty when the run has no judge).
    pub judges: Vec<JudgeSummary>,
    /// Where each fine-tuned variant's model came from (`model: tuned:NAME`): training run,
    /// data manifest, base and model file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub training: Vec<crate::tune::Lineage>,
    /// Failure-mode labels raters gave this run's outputs, per variant: each label's count
    /// and rate among the variant's rated outputs (as the owner's view counts them); empty
    /// when nobody rated the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<crate::rating::labels::LabelCount>,
}

/// A judge's verdicts on one pair of variants of a run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JudgeSummary {
    pub judge: String,
    pub a: String,
    pub b: String,
    /// Comparisons judged (both orders asked).
    pub comparisons: usize,
    pub a_wins: usize,
    pub b_wins: usize,
    pub ties: usize,
    /// Of the comparisons, those where the two orders disagreed (counted as ties).
    pub no_agreement: usize,
    /// Comparisons a request failed for (not judged).
    pub failed: usize,
}

/// The judge's verdicts of a run, per judge and pair, in the order first seen.
pub fn judge_summaries(records: &[crate::store::JudgementRecord]) -> Vec<JudgeSummary> {
    use crate::spec::verdict::JudgeVerdict;
    let mut out: IndexMap<(String, String, String), JudgeSummary> = IndexMap::new();
    for r in records {
        let s = out
            .entry((r.judge.clone(), r.a.clone(), r.b.clone()))
            .or_insert_with(|| JudgeSummary {
                judge: r.judge.clone(),
                a: r.a.clone(),
                b: r.b.clone(),
                comparisons: 0,
                a_wins: 0,
                b_wins: 0,
                ties: 0,
                no_agreement: 0,
                failed: 0,
            });
        s.comparisons += 1;
        if r.error.is_some() {
            s.failed += 1;
            continue;
        }
        if !r.agreed {
            s.no_agreement += 1;
        }
        match r.verdict {
            JudgeVerdict::A => s.a_wins += 1,
            JudgeVerdict::B => s.b_wins += 1,
            JudgeVerdict::Tie => s.ties += 1,
        }
    }
    out.into_values().collect()
}

/// Failed cells that share a cause: how many, and one of them as an example.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorGroup {
    pub cause: String,
    pub count: usize,
    pub example: ErrorExample,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorExample {
    pub variant: String,
    pub case_id: String,
    pub repeat: u32,
}

/// The longest cause shown; the full message stays in the store and the raw export.
const CAUSE_CHARS: usize = 200;

/// What an error message says about its cause: its first line, without the response
/// excerpt a malformed answer quotes (which differs from cell to cell), sanitised.
fn cause_of(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    let line = line.split_once(" (in: ").map_or(line, |(head, _)| head);
    let clean = crate::sanitize::sanitize(line.trim());
    let mut cause: String = clean.chars().take(CAUSE_CHARS).collect();
    if clean.chars().count() > CAUSE_CHARS {
        cause.push('…');
    }
    cause
}

/// The failed cells of `outputs` grouped by cause, most frequent first (then by cause).
pub fn error_groups<'a>(outputs: impl IntoIterator<Item = &'a OutputRecord>) -> Vec<ErrorGroup> {
    let mut groups: IndexMap<String, ErrorGroup> = IndexMap::new();
    let mut failed: Vec<&OutputRecord> = outputs.into_iter().filter(|o| o.is_error()).collect();
    failed.sort_by(|x, y| {
        (&x.variant, &x.case_id, x.repeat).cmp(&(&y.variant, &y.case_id, y.repeat))
    });
    for o in failed {
        let cause = cause_of(o.error.as_deref().unwrap_or("failed"));
        groups
            .entry(cause.clone())
            .or_insert_with(|| ErrorGroup {
                cause,
                count: 0,
                example: ErrorExample {
                    variant: o.variant.clone(),
                    case_id: o.case_id.clone(),
                    repeat: o.repeat,
                },
            })
            .count += 1;
    }
    let mut out: Vec<ErrorGroup> = groups.into_values().collect();
    out.sort_by(|x, y| y.count.cmp(&x.count).then_with(|| x.cause.cmp(&y.cause)));
    out
}

/// The error groups as lines: `  12 x cannot connect to ... (e.g. variant v, case c3)`.
pub fn render_errors(groups: &[ErrorGroup]) -> String {
    use std::fmt::Write as _;
    let total: usize = groups.iter().map(|g| g.count).sum();
    let mut out = String::new();
    if total == 0 {
        return out;
    }
    let _ = writeln!(
        out,
        "{total} failed cell{} by cause:",
        if total == 1 { "" } else { "s" }
    );
    for g in groups {
        let repeat = if g.example.repeat > 0 {
            format!(", repeat {}", g.example.repeat)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {:>4} x {} (e.g. variant {}, case {}{repeat})",
            g.count, g.cause, g.example.variant, g.example.case_id
        );
    }
    out
}

/// One RAG variant's retrieval and citation figures, means over its cases that list
/// `relevant:` documents (retrieval metrics: one retrieval per case) and over their
/// outputs (citation metrics). Document-level, binary relevance: see `rag::metrics`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RetrievalReport {
    pub variant: String,
    pub config: String,
    /// The depth the ranking metrics look at: the config's `top_k`.
    pub k: usize,
    /// Cases retrieved for; of them, with `relevant:` documents (what the means are over).
    pub cases: usize,
    pub judged_cases: usize,
    /// Cases whose retrieval failed.
    pub errors: usize,
    pub hit_at_k: Option<f64>,
    pub recall_at_k: Option<f64>,
    pub mrr: Option<f64>,
    pub ndcg_at_k: Option<f64>,
    /// Share of relevant documents among the kept passages (what the prompt saw).
    pub kept_recall: Option<f64>,
    /// Outputs (without error) of judged cases, and how many cited at least one kept
    /// passage.
    pub outputs: usize,
    pub citing_outputs: usize,
    /// Mean over citing outputs: the share of cited documents that are relevant.
    pub citation_precision: Option<f64>,
    /// Mean over outputs: the share of relevant documents cited.
    pub citation_recall: Option<f64>,
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The retrieval section of a report, from a run's outputs and the retrievals stored
/// beside them (`(variant, case, record)`).
pub fn retrieval_report(
    run: &RunRecord,
    outputs: &[OutputRecord],
    retrievals: &[(String, String, RetrievalRecord)],
) -> Vec<RetrievalReport> {
    use std::collections::HashSet;

    use crate::rag::metrics;

    let mut out = Vec::new();
    for v in run.variants.iter().filter(|v| v.rag.is_some()) {
        let mine: Vec<&(String, String, RetrievalRecord)> = retrievals
            .iter()
            .filter(|(var, _, _)| *var == v.name)
            .collect();
        let k = mine
            .iter()
            .map(|(_, _, r)| r.retrieved.len())
            .max()
            .unwrap_or(0);
        let (mut hit, mut recall, mut mrr, mut ndcg, mut kept_recall) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut precision, mut cite_recall) = (Vec::new(), Vec::new());
        let (mut outputs_n, mut citing) = (0, 0);
        let mut errors = 0;
        for (_, case, r) in &mine {
            if r.error.is_some() {
                errors += 1;
                continue;
            }
            if r.relevant.is_empty() {
                continue;
            }
            let relevant: HashSet<&str> = r.relevant.iter().map(String::as_str).collect();
            let ranked: Vec<&str> = r.retrieved.iter().map(|p| p.source.as_str()).collect();
            hit.push(metrics::hit_at_k(&ranked, &relevant, k));
            recall.push(metrics::recall_at_k(&ranked, &relevant, k));
            mrr.push(metrics::reciprocal_rank(&ranked, &relevant));
            ndcg.push(metrics::ndcg_at_k(&ranked, &relevant, k));
            let kept: Vec<&str> = r.kept.iter().map(|p| p.source.as_str()).collect();
            kept_recall.push(metrics::recall_at_k(&kept, &relevant, kept.len()));
            let pattern = r
                .citation_pattern
                .as_deref()
                .unwrap_or(crate::spec::DEFAULT_CITATION_PATTERN);
            let Ok(re) = regex::Regex::new(pattern) else {
                continue;
            };
            for o in outputs
                .iter()
                .filter(|o| o.variant == v.name && o.case_id == *case && !o.is_error())
            {
                outputs_n += 1;
                // Only ids of passages the prompt was given count as citations.
                let cited: Vec<&str> = crate::eval::checks::cited_ids(&re, &o.text)
                    .iter()
                    .filter_map(|id| r.kept.iter().find(|p| p.id == *id))
                    .map(|p| p.source.as_str())
                    .collect();
                let (p, rc) = metrics::citation_precision_recall(&cited, &relevant);
                if let Some(p) = p {
                    citing += 1;
                    precision.push(p);
                }
                cite_recall.push(rc);
            }
        }
        out.push(RetrievalReport {
            variant: v.name.clone(),
            config: v.rag.clone().unwrap_or_default(),
            k,
            cases: mine.len(),
            judged_cases: hit.len(),
            errors,
            hit_at_k: mean(&hit),
            recall_at_k: mean(&recall),
            mrr: mean(&mrr),
            ndcg_at_k: mean(&ndcg),
            kept_recall: mean(&kept_recall),
            outputs: outputs_n,
            citing_outputs: citing,
            citation_precision: mean(&precision),
            citation_recall: mean(&cite_recall),
        });
    }
    out
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VariantReport {
    pub variant: String,
    pub model: String,
    pub template_version: String,
    /// Outputs present (including errors).
    pub n: usize,
    pub errors: usize,
    pub cached: usize,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// True when some token counts are estimates (the API did not report usage).
    pub tokens_estimated: bool,
    pub cost_usd: Option<f64>,
    pub cost_per_1k_usd: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
    /// Outputs with no error whose every check passed.
    pub pass_all: PassRate,
    pub checks: Vec<CheckRate>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PassRate {
    pub passed: usize,
    pub n: usize,
    pub rate: Option<f64>,
    /// Wilson 95% interval.
    pub interval: Option<Interval>,
}

impl PassRate {
    fn new(passed: usize, n: usize) -> Self {
        Self {
            passed,
            n,
            rate: (n > 0).then(|| passed as f64 / n as f64),
            interval: (n > 0).then(|| {
                let mut i =
                    stats::wilson_interval(passed as f64, n as f64, stats::z_for_confidence(0.95));
                // The interval's true bounds at the ends, not 5.55e-17 from rounding.
                if passed == 0 {
                    i.low = 0.0;
                }
                if passed == n {
                    i.high = 1.0;
                }
                i.low = i.low.clamp(0.0, 1.0);
                i.high = i.high.clamp(0.0, 1.0);
                i
            }),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckRate {
    pub check: String,
    #[serde(flatten)]
    pub rate: PassRate,
}

#[derive(Default)]
struct Acc {
    n: usize,
    errors: usize,
    cached: usize,
    tokens_in: u64,
    tokens_out: u64,
    estimated: bool,
    cost: Option<f64>,
    latencies: Vec<f64>,
    ttfts: Vec<f64>,
    pass_all: usize,
    graded: usize,
    checks: IndexMap<String, (usize, usize)>,
}

impl Acc {
    fn add(&mut self, o: &OutputRecord) {
        self.n += 1;
        self.cached += usize::from(o.cached);
        if o.is_error() {
            self.errors += 1;
            return;
        }
        self.graded += 1;
        self.pass_all += usize::from(o.passed());
        self.tokens_in += o.usage.input_tokens;
        self.tokens_out += o.usage.output_tokens;
        self.estimated |= o.usage.estimated;
        if let Some(c) = o.cost_usd {
            *self.cost.get_or_insert(0.0) += c;
        }
        // A cached answer's latency is the original request's, still a fair sample.
        self.latencies.push(o.latency_ms as f64);
        if let Some(t) = o.ttft_ms {
            self.ttfts.push(t as f64);
        }
        for c in &o.checks {
            let e = self.checks.entry(c.name.clone()).or_default();
            e.0 += usize::from(c.pass);
            e.1 += 1;
        }
    }
}

/// Builds the report from a run and its outputs (any iterator: the store streams them).
pub fn build<'a>(
    run: &RunRecord,
    outputs: impl IntoIterator<Item = &'a OutputRecord>,
) -> RunReport {
    let outputs: Vec<&OutputRecord> = outputs.into_iter().collect();
    let errors = error_groups(outputs.iter().copied());
    let mut accs: IndexMap<&str, Acc> = run
        .variants
        .iter()
        .map(|v| (v.name.as_str(), Acc::default()))
        .collect();
    for o in outputs {
        if let Some(acc) = accs.get_mut(o.variant.as_str()) {
            acc.add(o);
        }
    }
    let variants = run
        .variants
        .iter()
        .zip(accs.into_values())
        .map(|(v, mut a)| VariantReport {
            variant: v.name.clone(),
            model: v.model.model.clone(),
            template_version: v.template_version.clone(),
            n: a.n,
            errors: a.errors,
            cached: a.cached,
            tokens_in: a.tokens_in,
            tokens_out: a.tokens_out,
            tokens_estimated: a.estimated,
            cost_usd: a.cost,
            cost_per_1k_usd: a
                .cost
                .filter(|_| a.graded > 0)
                .map(|c| c * 1000.0 / a.graded as f64),
            latency_p50_ms: quantile(&mut a.latencies, 0.50),
            latency_p95_ms: quantile(&mut a.latencies, 0.95),
            ttft_p50_ms: quantile(&mut a.ttfts, 0.50),
            pass_all: PassRate::new(a.pass_all, a.n),
            checks: a
                .checks
                .into_iter()
                .map(|(check, (passed, n))| CheckRate {
                    check,
                    rate: PassRate::new(passed, n),
                })
                .collect(),
        })
        .collect();
    RunReport {
        run_id: run.id.clone(),
        session: run.session_name.clone(),
        status: format!("{:?}", run.status).to_lowercase(),
        cells: run.cell_count(),
        variants,
        errors,
        judges: Vec::new(),
        retrieval: Vec::new(),
        training: Vec::new(),
        labels: Vec::new(),
    }
}

/// The plain-text table `loupe report` prints.
pub fn render_table(r: &RunReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {} ({}, {}, {} cells)",
        r.run_id, r.session, r.status, r.cells
    );
    let header = [
        "variant", "n", "err", "tok in", "tok out", "cost $", "p50 ms", "p95 ms", "ttft p50",
        "pass all",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| (*s).to_string()).collect()];
    for v in &r.variants {
        rows.push(vec![
            v.variant.clone(),
            v.n.to_string(),
            v.errors.to_string(),
            format!(
                "{}{}",
                v.tokens_in,
                if v.tokens_estimated { "~" } else { "" }
            ),
            format!(
                "{}{}",
                v.tokens_out,
                if v.tokens_estimated { "~" } else { "" }
            ),
            v.cost_usd.map_or_else(|| "-".into(), |c| format!("{c:.6}")),
            fmt_ms(v.latency_p50_ms),
            fmt_ms(v.latency_p95_ms),
            fmt_ms(v.ttft_p50_ms),
            fmt_rate(&v.pass_all),
        ]);
    }
    push_table(&mut out, &rows);
    let names: Vec<&str> = {
        let mut seen = IndexMap::new();
        for v in &r.variants {
            for c in &v.checks {
                seen.insert(c.check.as_str(), ());
            }
        }
        seen.into_keys().collect()
    };
    if !names.is_empty() {
        out.push_str("\nchecks (pass rate, Wilson 95%)\n");
        let mut rows = vec![
            std::iter::once("check".to_string())
                .chain(r.variants.iter().map(|v| v.variant.clone()))
                .collect::<Vec<_>>(),
        ];
        for name in names {
            let mut row = vec![name.to_string()];
            for v in &r.variants {
                row.push(
                    v.checks
                        .iter()
                        .find(|c| c.check == name)
                        .map_or_else(|| "-".into(), |c| fmt_rate(&c.rate)),
                );
            }
            rows.push(row);
        }
        push_table(&mut out, &rows);
    }
    if !r.retrieval.is_empty() {
        out.push_str(&render_retrieval(&r.retrieval));
    }
    if r.variants.iter().any(|v| v.tokens_estimated) {
        out.push_str("~ token counts estimated: the API reported no usage\n");
    }
    if !r.training.is_empty() {
        out.push_str("\nfine-tuned models (lineage)\n");
        for l in &r.training {
            let _ = writeln!(out, "  {}", l.describe());
        }
        // What a fine-tune is weighed on beside quality and latency: the prompt tokens it
        // saves by asking without examples.
        let per_request: Vec<String> = r
            .variants
            .iter()
            .filter(|v| v.n > v.errors)
            .map(|v| {
                #[allow(clippy::cast_precision_loss)] // token counts far below 2^52
                let mean = v.tokens_in as f64 / (v.n - v.errors) as f64;
                format!("{} {mean:.0}", v.variant)
            })
            .collect();
        if !per_request.is_empty() {
            let _ = writeln!(
                out,
                "  prompt tokens per request: {}",
                per_request.join(" · ")
            );
        }
    }
    if !r.labels.is_empty() {
        out.push_str(
            "\nfailure labels from raters (share of each variant's rated outputs, Wilson 95%)\n",
        );
        match crate::rating::labels::lines(&r.labels) {
            Some(lines) => {
                for l in lines {
                    let _ = writeln!(out, "{l}");
                }
            }
            None => out.push_str("  none given\n"),
        }
    }
    if !r.errors.is_empty() {
        out.push('\n');
        out.push_str(&render_errors(&r.errors));
    }
    for j in &r.judges {
        let _ = writeln!(
            out,
            "\njudge {}: {} vs {} on {} comparisons: {} {} won, {} {} won, {} ties ({} without \
             agreement between the two orders){}",
            j.judge,
            j.a,
            j.b,
            j.comparisons,
            j.a_wins,
            j.a,
            j.b_wins,
            j.b,
            j.ties,
            j.no_agreement,
            if j.failed > 0 {
                format!(", {} not judged (a request failed)", j.failed)
            } else {
                String::new()
            }
        );
        if j.comparisons > 0 && j.no_agreement == j.comparisons {
            let _ = writeln!(
                out,
                "  no agreement: the judge's verdict flipped with the order every time, so it \
                 says nothing about {} vs {}",
                j.a, j.b
            );
        }
    }
    out
}

/// The retrieval section of the table: one row per RAG variant.
pub fn render_retrieval(rows: &[RetrievalReport]) -> String {
    let f = |v: Option<f64>| v.map_or_else(|| "-".into(), |x| format!("{x:.2}"));
    let mut out = String::from(
        "\nretrieval (means over cases with relevant documents; citations over their outputs)\n",
    );
    let mut table = vec![
        [
            "variant", "config", "cases", "k", "hit@k", "recall@k", "MRR", "nDCG@k", "kept rec",
            "cite P", "cite R", "citing",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect::<Vec<_>>(),
    ];
    for r in rows {
        table.push(vec![
            r.variant.clone(),
            r.config.clone(),
            if r.errors > 0 {
                format!("{}/{} ({} err)", r.judged_cases, r.cases, r.errors)
            } else {
                format!("{}/{}", r.judged_cases, r.cases)
            },
            r.k.to_string(),
            f(r.hit_at_k),
            f(r.recall_at_k),
            f(r.mrr),
            f(r.ndcg_at_k),
            f(r.kept_recall),
            f(r.citation_precision),
            f(r.citation_recall),
            format!("{}/{}", r.citing_outputs, r.outputs),
        ]);
    }
    push_table(&mut out, &table);
    out
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |ms| format!("{ms:.0}"))
}

fn fmt_rate(r: &PassRate) -> String {
    match (r.rate, r.interval) {
        (Some(p), Some(i)) => format!(
            "{:.0}% [{:.0}-{:.0}] {}/{}",
            p * 100.0,
            i.low * 100.0,
            i.high * 100.0,
            r.passed,
            r.n
        ),
        _ => "-".into(),
    }
}

/// Left-aligns the first column, right-aligns the rest.
pub fn push_table(out: &mut String, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let numeric: Vec<bool> = (0..cols).map(|c| c > 0).collect();
    push_table_aligned(out, rows, &numeric);
}

/// As [`push_table`], with each column's alignment given: `true` right-aligns (numbers),
/// `false` left-aligns (text), header and rows alike.
pub fn push_table_aligned(out: &mut String, rows: &[Vec<String>], right: &[bool]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            if c > 0 {
                line.push_str("  ");
            }
            if right.get(c).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    stats::quantile_sorted(values, q)
}
