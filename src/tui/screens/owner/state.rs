//! The owner's view's state, and the report as the lines it shows.

use crate::rating::owner::OwnerReport;

pub struct OwnerView {
    /// The report as text, formatted (and sanitized: rater names are typed by people) once
    /// when it loads, not on every frame.
    pub lines: Option<Vec<String>>,
    pub error: Option<String>,
    pub scroll: u16,
    /// The rater name being typed to rate from the workbench.
    pub rater_prompt: Option<String>,
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"))
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// The owner's view as text lines (also what a test reads).
pub fn owner_lines(r: &OwnerReport) -> Vec<String> {
    let mut out = Vec::new();
    let st = &r.stats;
    let raters = r.raters.len();
    out.push(format!(
        "{} ratings ({} gold) by {raters} rater{} on session {}",
        r.ratings,
        r.gold_ratings,
        if raters == 1 { "" } else { "s" },
        r.session
    ));
    out.push(String::new());
    out.push("Progress per rater".into());
    out.push(format!(
        "  {:<16} {:>9} {:>8} {:>6} {:>22} {:>9}",
        "rater", "done", "reserved", "gold", "gold accuracy", "median s"
    ));
    for p in &r.raters {
        let acc = match p.gold_accuracy.estimate {
            Some(e) => format!(
                "{} [{}, {}]",
                pct(e),
                pct(p.gold_accuracy.low),
                pct(p.gold_accuracy.high)
            ),
            None => "n/a".into(),
        };
        out.push(format!(
            "  {:<16} {:>9} {:>8} {:>6} {:>22} {:>9}",
            p.rater,
            format!("{}/{}", p.done, p.assigned),
            p.reserved,
            format!("{}/{}", p.gold_correct, p.gold_done),
            acc,
            p.median_seconds
                .map_or_else(|| "n/a".into(), |s| format!("{s:.1}"))
        ));
    }
    out.push(String::new());
    let ag = &st.agreement;
    out.push(format!(
        "Agreement on verdicts: {} units · Fleiss κ {} (n {}) · Krippendorff α {}",
        ag.units,
        num(ag.fleiss.kappa),
        ag.fleiss.items,
        num(ag.krippendorff_alpha_nominal)
    ));
    for c in &ag.cohen {
        out.push(format!(
            "  Cohen κ {} / {}: {} on {} shared",
            c.rater_1,
            c.rater_2,
            num(c.kappa),
            c.shared_units
        ));
    }
    for d in &r.rubric_kappa {
        let ordinal = ag.rubric.iter().find(|x| x.dimension == d.dimension);
        out.push(format!(
            "  {:<12} Fleiss κ {} (n {}) · Krippendorff α (ordinal) {} (n {})",
            d.dimension,
            num(d.fleiss.kappa),
            d.fleiss.items,
            num(ordinal.and_then(|x| x.krippendorff_alpha_ordinal)),
            ordinal.map_or(0, |x| x.units)
        ));
    }
    out.push(String::new());
    out.push(format!(
        "Win rates (of the first; ties and both-bad aside) from {} ratings{}",
        r.ratings - r.gold_ratings,
        if r.gold_ratings > 0 {
            format!(
                "; {} gold ratings left out (they measure raters, not variants)",
                r.gold_ratings
            )
        } else {
            String::new()
        }
    ));
    for p in &st.pairs {
        out.push(format!(
            "  {} vs {}: {}-{} ({} tie, {} both bad) · {} [{}, {}] · fixed p {:.4} · Holm {:.4}{}",
            p.first,
            p.second,
            p.first_wins,
            p.second_wins,
            p.ties,
            p.both_bad,
            p.win_rate.estimate.map_or_else(|| "n/a".into(), pct),
            pct(p.win_rate.low),
            pct(p.win_rate.high),
            p.sign_test_p,
            p.holm_p,
            if p.significant { " · significant" } else { "" }
        ));
        let q = &p.sequential;
        out.push(format!(
            "    sequential (anytime-valid): e-value {:.2} · p {:.4} · Holm {:.4} · {}",
            q.e_value,
            q.p,
            q.holm_p,
            if q.may_stop {
                "may stop now"
            } else {
                "keep rating"
            }
        ));
    }
    if let Some(rank) = &st.ranking {
        out.push(String::new());
        out.push("Ranking (Bradley-Terry with ties)".into());
        for v in &rank.variants {
            out.push(format!(
                "  {}. {:<20} log-strength {:+.3} [{:+.3}, {:+.3}]",
                v.rank, v.name, v.log_strength, v.interval.low, v.interval.high
            ));
        }
    }
    if !r.judges.is_empty() {
        out.push(String::new());
        out.push("Judge vs people (Cohen's κ against the raters' consensus)".into());
        for j in &r.judges {
            out.push(format!(
                "  {}: κ {}{} on {} shared · both orders agree {}/{}{}",
                j.judge,
                num(j.kappa),
                j.kappa_interval
                    .map_or_else(String::new, |i| format!(" [{:.2}, {:.2}]", i.low, i.high)),
                j.overlap,
                j.consistent,
                j.judged,
                j.consistency
                    .estimate
                    .map_or_else(String::new, |e| format!(" ({})", pct(e)))
            ));
        }
    }
    if let Some(c) = &r.calibration {
        out.push(String::new());
        out.push(format!(
            "Calibration sample ({} of each pair): {} comparisons · {} human-rated · {} judged · {} with both",
            pct(c.share),
            c.comparisons,
            c.human_rated,
            c.judged,
            c.both
        ));
    }
    out.push(String::new());
    out.push("Failure labels (share of each variant's rated outputs)".into());
    match crate::rating::labels::lines(&r.labels) {
        Some(lines) => out.extend(lines),
        None => out.push("  none given yet ([ or ] on the rating screen labels a side)".into()),
    }
    let pb = &st.position_bias;
    out.push(String::new());
    out.push(format!(
        "Position bias: the left side won {} of {} ({} [{}, {}]; 50% is none) · p {:.4}",
        pb.a_wins,
        pb.decisive,
        pb.rate.estimate.map_or_else(|| "n/a".into(), pct),
        pct(pb.rate.low),
        pct(pb.rate.high),
        pb.sign_test_p
    ));
    match r.leading_pair() {
        Some(p) => out.push(format!(
            "Leading pair {} vs {}: {}",
            p.first,
            p.second,
            match p.more_judgements_needed {
                Some(0) => "already significant (fixed-sample, Holm-adjusted)".to_owned(),
                Some(n) => format!(
                    "about {n} more decisive judgements for Holm p < {} (fixed-sample)",
                    st.alpha
                ),
                None => "no estimate (even, or beyond reach)".to_owned(),
            }
        )),
        None => out.push("No pair has a leader yet.".into()),
    }
    if !st.notes.is_empty() {
        out.push(String::new());
        for n in &st.notes {
            out.push(format!("note: {n}"));
        }
    }
    out
}
