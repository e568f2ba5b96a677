//! The statistics that say whether a variant really wins.
//!
//! Pure functions over counts and numbers: no I/O, no terminal, no store. Each one
//! cites where its formula comes from, so a reader can check it against the source
//! and `tests/reference/gen_stats.py` checks it against scipy, statsmodels and the
//! `krippendorff` package.
//!
//! Two promises hold for every function here, whatever the input: it does not panic,
//! and it never returns NaN. A quantity that is undefined for the data (a rate over
//! no trials, kappa when both raters used one category) comes back as `None`.

use serde::Serialize;

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    fn point(value: f64) -> Self {
        Self {
            low: value,
            high: value,
        }
    }
}

// ---------------------------------------------------------------------------------
// Normal quantiles
// ---------------------------------------------------------------------------------

/// The standard normal quantile Φ⁻¹(p), for `p` in (0, 1); `p` outside is clamped to
/// [1e-300, 1 - 1e-16] so the answer stays finite.
///
/// Source: P. J. Acklam's rational approximation (2003), relative error below 1.15e-9,
/// far inside what an interval printed to three decimals needs.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.024_25;

    let p = if p.is_nan() {
        0.5
    } else {
        p.clamp(1e-300, 1.0 - 1e-16)
    };
    let tail = |q: f64| {
        let q = (-2.0 * q.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail(p)
    } else if p > 1.0 - P_LOW {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The two-sided critical value z for a confidence level, e.g. 1.959964 for 0.95.
/// A level outside (0, 1) is clamped into it.
pub fn z_for_confidence(confidence: f64) -> f64 {
    let tail = (1.0 - confidence) / 2.0;
    normal_quantile(1.0 - tail).abs()
}

// ---------------------------------------------------------------------------------
// Rates, percentiles, cost
// ---------------------------------------------------------------------------------

/// The Wilson score interval for `successes` out of `trials` with critical value `z`.
/// Fractional counts are accepted. With no trials the interval is all of [0, 1].
///
/// Source: E. B. Wilson (1927), "Probable inference, the law of succession, and
/// statistical inference", JASA 22:209; the same arithmetic as statsmodels
/// `proportion_confint(method="wilson")`.
pub fn wilson_interval(successes: f64, trials: f64, z: f64) -> Interval {
    if !(trials > 0.0 && trials.is_finite() && z.is_finite()) {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    let p = (successes / trials).clamp(0.0, 1.0);
    let z2 = z * z;
    let denominator = 1.0 + z2 / trials;
    let centre = (p + z2 / (2.0 * trials)) / denominator;
    let half =
        z.abs() / denominator * (p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)).sqrt();
    Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

/// A proportion with its Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    /// successes / trials; `None` when there were no trials.
    pub estimate: Option<f64>,
    pub low: f64,
    pub high: f64,
}

/// `successes` out of `trials` with a Wilson interval at `confidence` (e.g. 0.95).
pub fn rate(successes: u64, trials: u64, confidence: f64) -> Rate {
    let successes = successes.min(trials);
    let Interval { low, high } = wilson_interval(
        successes as f64,
        trials as f64,
        z_for_confidence(confidence),
    );
    Rate {
        estimate: (trials > 0).then(|| successes as f64 / trials as f64),
        low,
        high,
    }
}

/// The `q`-quantile (`q` in [0, 1], clamped) of values already sorted ascending, by
/// linear interpolation between the two nearest ranks: position `q * (n - 1)`.
/// `None` for an empty slice.
///
/// Source: Hyndman & Fan (1996) definition 7, numpy's default `method="linear"`.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let q = if q.is_nan() { 0.5 } else { q.clamp(0.0, 1.0) };
    let position = q * last as f64;
    let below = (position.floor() as usize).min(last);
    let above = (below + 1).min(last);
    let fraction = position - below as f64;
    Some(sorted[below] + fraction * (sorted[above] - sorted[below]))
}

/// Median and tail percentiles of a sample (latencies, token counts).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// p50, p95 and p99 of `values` by [`quantile_sorted`]'s linear interpolation.
/// NaN values are ignored; `None` when nothing is left.
pub fn percentiles(values: &[f64]) -> Option<Percentiles> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    Some(Percentiles {
        p50: quantile_sorted(&sorted, 0.50)?,
        p95: quantile_sorted(&sorted, 0.95)?,
        p99: quantile_sorted(&sorted, 0.99)?,
    })
}

/// What a set of requests cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CostSummary {
    pub requests: usize,
    pub total: f64,
    /// total / requests × 1,000; `None` when there were no requests.
    pub per_1k_requests: Option<f64>,
}

/// Total cost of requests and cost per 1,000 requests. A non-finite cost (an unknown
/// price) adds nothing to the total but the request still counts.
pub fn cost_summary(costs: &[f64]) -> CostSummary {
    let total: f64 = costs.iter().filter(|c| c.is_finite()).sum();
    CostSummary {
        requests: costs.len(),
        total,
        per_1k_requests: (!costs.is_empty()).then(|| total / costs.len() as f64 * 1000.0),
    }
}

// ---------------------------------------------------------------------------------
// Binomial sign test and multiple testing
// ---------------------------------------------------------------------------------

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// δ(n) = ln n! − [(n + ½) ln n − n + ½ ln 2π], the error of Stirling's formula.
/// Source: C. Loader (2000), "Fast and accurate computation of binomial probabilities";
/// the series coefficients are R's `stirlerr`.
fn stirling_error(n: u64) -> f64 {
    const S0: f64 = 1.0 / 12.0;
    const S1: f64 = 1.0 / 360.0;
    const S2: f64 = 1.0 / 1260.0;
    const S3: f64 = 1.0 / 1680.0;
    const S4: f64 = 1.0 / 1188.0;
    let x = n as f64;
    if n <= 15 {
        let ln_factorial: f64 = (2..=n).map(|i| (i as f64).ln()).sum();
        return ln_factorial - (x + 0.5) * x.ln() + x - 0.5 * LN_2PI;
    }
    let xx = x * x;
    (S0 - (S1 - (S2 - (S3 - S4 / xx) / xx) / xx) / xx) / x
}

/// bd0(x, m) = x ln(x/m) + m − x, computed without cancellation when x ≈ m.
/// Source: Loader (2000), as R's `bd0`.
fn deviance_term(x: f64, m: f64) -> f64 {
    if (x - m).abs() < 0.1 * (x + m) {
        let mut v = (x - m) / (x + m);
        let mut sum = (x - m) * v;
        let mut term = 2.0 * x * v;
        v *= v;
        for j in 1..1000 {
            term *= v;
            let next = sum + term / f64::from(2 * j + 1);
            // The series has converged when a term no longer changes the sum.
            if next.to_bits() == sum.to_bits() {
                return next;
            }
            sum = next;
        }
        return sum;
    }
    x * (x / m).ln() + m - x
}

/// ln P(X = k) for X ~ Binomial(n, ½), accurate to about 1e-15 relative for any n.
/// Source: Loader (2000) saddle-point expansion, R's `dbinom_raw`.
fn ln_binomial_pmf_half(k: u64, n: u64) -> f64 {
    if k == 0 || k == n {
        return -(n as f64) * std::f64::consts::LN_2;
    }
    let (kf, nf) = (k as f64, n as f64);
    let half = nf / 2.0;
    let lc = stirling_error(n)
        - stirling_error(k)
        - stirling_error(n - k)
        - deviance_term(kf, half)
        - deviance_term(nf - kf, half);
    let lf = LN_2PI + kf.ln() + (-kf / nf).ln_1p();
    lc - 0.5 * lf
}

/// The exact two-sided binomial sign test of `wins` against `losses` (ties already
/// dropped) under H0: each side wins with probability ½. Equals
/// `scipy.stats.binomtest(wins, wins + losses, 0.5).pvalue`; 1 when there is no
/// judgement at all, since no data is no evidence.
///
/// For p = ½ the distribution is symmetric, so scipy's "outcomes no more likely than
/// the observed one" is exactly both tails: p = min(1, 2 P(X ≤ min(wins, losses))).
///
/// The tail sum takes about 9 √n steps near an even split, so totals beyond 2⁴⁰
/// (no verdict file comes near) are scaled down to 2⁴⁰ keeping their ratio, which
/// bounds the time at a few milliseconds.
pub fn sign_test(wins: u64, losses: u64) -> f64 {
    const MAX_TOTAL: u64 = 1 << 40;
    let total = u128::from(wins) + u128::from(losses);
    let (wins, losses) = if total > u128::from(MAX_TOTAL) {
        let scale = |x: u64| (u128::from(x) * u128::from(MAX_TOTAL) / total) as u64;
        (scale(wins), scale(losses))
    } else {
        (wins, losses)
    };
    let n = wins + losses;
    let m = wins.min(losses);
    if 2 * m == n {
        return 1.0;
    }
    // Sum the lower tail from its largest term down, as multiples of P(X = m), using
    // P(X = i - 1) / P(X = i) = i / (n - i + 1); stop when terms no longer register.
    let mut relative_sum = 1.0;
    let mut term = 1.0;
    let mut i = m;
    while i > 0 {
        term *= i as f64 / (n - i + 1) as f64;
        relative_sum += term;
        if term < relative_sum * 1e-17 {
            break;
        }
        i -= 1;
    }
    (2.0 * ln_binomial_pmf_half(m, n).exp() * relative_sum).min(1.0)
}

/// Holm–Bonferroni step-down adjusted p-values, in the input order. NaN counts as 1.
///
/// Source: S. Holm (1979), "A simple sequentially rejective multiple test procedure";
/// the same as statsmodels `multipletests(method="holm")[1]`: the i-th smallest p is
/// multiplied by (m − i), made monotone with a running maximum, and capped at 1.
pub fn holm_adjust(p_values: &[f64]) -> Vec<f64> {
    let clean = |p: f64| if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) };
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean(p_values[a]).total_cmp(&clean(p_values[b])));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0_f64;
    for (rank, &index) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * clean(p_values[index])).min(1.0));
        adjusted[index] = running;
    }
    adjusted
}

/// The Holm-adjusted p-value one test would get, for any p-value of its own, with the
/// other tests' p-values fixed: what [`holm_adjust`] gives at its position. Built once
/// per test (a sort), then each question costs a binary search, so searching along a
/// pair's future judgements stays cheap with thousands of pairs.
#[derive(Debug, Clone)]
pub struct HolmWithOthers {
    /// The others' p-values, ascending.
    sorted: Vec<f64>,
    /// `prefix[r]`: the running maximum of the adjusted values of the r smallest others.
    prefix: Vec<f64>,
}

impl HolmWithOthers {
    pub fn new(others: &[f64]) -> Self {
        let clean = |p: f64| if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) };
        let mut sorted: Vec<f64> = others.iter().map(|&p| clean(p)).collect();
        sorted.sort_by(f64::total_cmp);
        let m = sorted.len() + 1;
        let mut prefix = Vec::with_capacity(m);
        let mut running = 0.0_f64;
        prefix.push(running);
        for (rank, &q) in sorted.iter().enumerate() {
            running = running.max(((m - rank) as f64 * q).min(1.0));
            prefix.push(running);
        }
        Self { sorted, prefix }
    }

    /// The adjusted p-value of a test whose own p-value is `p`.
    pub fn adjusted(&self, p: f64) -> f64 {
        let p = if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) };
        let m = self.sorted.len() + 1;
        // Ties with others may sit on either side: the maximum comes out the same.
        let rank = self.sorted.partition_point(|&q| q < p);
        self.prefix[rank].max(((m - rank) as f64 * p).min(1.0))
    }
}

/// How many more non-tie judgements the leading pair needs before the sign test gives
/// p < `alpha`, if the observed win rate `wins / (wins + losses)` holds: the smallest
/// total n at which round(rate × n) wins out of n is significant, minus the judgements
/// already made. `Some(0)` when they already suffice; `None` when there is nothing to
/// extrapolate from (no judgements, or exactly even) or more than a billion are needed.
///
/// The p-value along n falls steadily but wobbles as the rounded win count steps, so
/// near the crossing significant and non-significant n alternate. Rounding moves the
/// sign test's z by at most 1/√n while z grows by (2·rate − 1)/(2√n) per judgement,
/// so the alternation spans about 2 / |2·rate − 1| judgements. A doubling search
/// and bisection find a crossing; the first crossing is then searched for in a window
/// of four times that span below it (capped at 2,000 steps, enough for rates beyond
/// 0.501, and a negligible error in relative terms beyond).
pub fn judgements_needed(wins: u64, losses: u64, alpha: f64) -> Option<u64> {
    judgements_needed_until(wins, losses, |p| p < alpha)
}

/// [`judgements_needed`] for any decision rule on the pair's sign-test p-value that is
/// monotone (a smaller p never turns a decision back): `decides(p)` says whether p is
/// enough. With several pairs adjusted together (Holm), the rule is "this pair's adjusted
/// p is below alpha with the other pairs as they stand", so the count agrees with the
/// `significant` shown next to it.
pub fn judgements_needed_until(
    wins: u64,
    losses: u64,
    decides: impl Fn(f64) -> bool,
) -> Option<u64> {
    const LIMIT: u64 = 1_000_000_000;
    const MAX_WINDOW: u64 = 2_000;
    let observed = wins.checked_add(losses)?;
    if observed == 0 || wins == losses {
        return None;
    }
    let win_rate = wins as f64 / observed as f64;
    let significant = |n: u64| {
        let k = ((win_rate * n as f64).round() as u64).min(n);
        decides(sign_test(k, n - k))
    };
    if significant(observed) {
        return Some(0);
    }
    let (mut fails, mut passes) = (observed, observed.saturating_mul(2));
    while !significant(passes) {
        if passes >= LIMIT {
            return None;
        }
        fails = passes;
        passes = passes.saturating_mul(2).min(LIMIT);
    }
    while passes - fails > 1 {
        let middle = fails + (passes - fails) / 2;
        if significant(middle) {
            passes = middle;
        } else {
            fails = middle;
        }
    }
    let window = (8.0 / (2.0 * win_rate - 1.0).abs()).ceil() as u64 + 2;
    let window_start = passes
        .saturating_sub(window.min(MAX_WINDOW))
        .max(observed + 1);
    let first = (window_start..passes)
        .find(|&n| significant(n))
        .unwrap_or(passes);
    Some(first - observed)
}

// ---------------------------------------------------------------------------------
// Anytime-valid (sequential) test of a win rate against ½
// ---------------------------------------------------------------------------------

/// ln Γ(x) for x > 0, by the Lanczos approximation (g = 7, 9 terms), relative error
/// about 1e-15; with the reflection formula below ½. Source: C. Lanczos (1964), "A
/// precision approximation of the gamma function", SIAM J. Numer. Anal. B 1:86, with
/// the coefficients of Numerical Recipes / Boost for g = 7.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x.is_nan() || x <= 0.0 || x.is_infinite() {
        return f64::INFINITY;
    }
    if x < 0.5 {
        // Γ(x) Γ(1 − x) = π / sin(πx)
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * LN_2PI + (x + 0.5) * t.ln() - t + sum.ln()
}

/// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).
fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// The concentration `c` of the Beta(c, c) mixing prior of the sequential test. A
/// prior sd of 0.15 around ½ (win rates of about 35% to 65% are where it looks): a
/// seeded simulation of 60/40 preferences (benches/sequential.rs) stopped soonest with
/// c between 5 and 10, and c = 5 gives up least against strong preferences.
pub const SEQUENTIAL_PRIOR_CONCENTRATION: f64 = 5.0;

/// ln of the mixture likelihood ratio (an e-value) of `wins` against `losses` for
/// H0: each side wins with probability ½, mixing the alternative's win rate over a
/// Beta(c, c) prior:
///
/// `E = ∫ p^w (1−p)^l dBeta(c, c) / (½)^(w+l) = 2^(w+l) B(c + w, c + l) / B(c, c)`.
///
/// Under H0, E after each judgement is a nonnegative martingale starting at 1, so by
/// Ville's inequality P(E ever reaches 1/α) ≤ α however often one looks and whenever
/// one stops: the mixture sequential probability ratio test (H. Robbins 1970,
/// "Statistical methods related to the law of the iterated logarithm", Ann. Math.
/// Statist. 41:1397; as an e-value, Ramdas et al. 2023, "Game-theoretic statistics and
/// safe anytime-valid inference", Statist. Sci. 38:576). With c = 1 (uniform) it is
/// `2^n w! l! / (n + 1)!`. No judgement gives 0 (E = 1); a non-finite or
/// non-positive `concentration` is taken as [`SEQUENTIAL_PRIOR_CONCENTRATION`].
pub fn mixture_log_e_value(wins: u64, losses: u64, concentration: f64) -> f64 {
    let c = if concentration.is_finite() && concentration > 0.0 {
        concentration
    } else {
        SEQUENTIAL_PRIOR_CONCENTRATION
    };
    let (w, l) = (wins as f64, losses as f64);
    let value = (w + l) * std::f64::consts::LN_2 + ln_beta(c + w, c + l) - ln_beta(c, c);
    if value.is_finite() { value } else { 0.0 }
}

/// The anytime-valid p-value of a pair, `min(1, 1/E)` with E from
/// [`mixture_log_e_value`] at the default prior: P(it ever falls to α or below under
/// H0) ≤ α. Holm's procedure on such p-values controls the family-wise error at every
/// look, however the looks are chosen: rejecting a true null at some time means the
/// smallest of the m₀ true nulls' p-values fell to α/m₀ at that time, which each does
/// with probability at most α/m₀ over all time.
pub fn sequential_p_value(wins: u64, losses: u64) -> f64 {
    (-mixture_log_e_value(wins, losses, SEQUENTIAL_PRIOR_CONCENTRATION))
        .exp()
        .min(1.0)
}

/// The anytime-valid test of one pair, as the owner's view, `loupe stats` and
/// `loupe gate --sequential` show it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SequentialTest {
    /// The mixture e-value E (capped at 1e300 so it stays a number).
    pub e_value: f64,
    /// `min(1, 1/E)`: valid at any stopping time.
    pub p: f64,
    /// `p` adjusted across the pairs by Holm (the pair's own `p` when alone).
    pub holm_p: f64,
    /// Whether the data already allow stopping on this pair: `holm_p < alpha`.
    pub may_stop: bool,
}

/// The sequential test of one pair on its own (no adjustment).
pub fn sequential_test(wins: u64, losses: u64, alpha: f64) -> SequentialTest {
    let log = mixture_log_e_value(wins, losses, SEQUENTIAL_PRIOR_CONCENTRATION);
    let p = (-log).exp().min(1.0);
    SequentialTest {
        e_value: log.exp().min(1e300),
        p,
        holm_p: p,
        may_stop: p < alpha,
    }
}

/// The sequential test of each pair `(wins, losses)`, Holm-adjusted together.
pub fn sequential_tests(pairs: &[(u64, u64)], alpha: f64) -> Vec<SequentialTest> {
    let logs: Vec<f64> = pairs
        .iter()
        .map(|&(w, l)| mixture_log_e_value(w, l, SEQUENTIAL_PRIOR_CONCENTRATION))
        .collect();
    let p_values: Vec<f64> = logs.iter().map(|l| (-l).exp().min(1.0)).collect();
    let holm = holm_adjust(&p_values);
    logs.iter()
        .zip(p_values)
        .zip(holm)
        .map(|((&log, p), holm_p)| SequentialTest {
            e_value: log.exp().min(1e300),
            p,
            holm_p,
            may_stop: holm_p < alpha,
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// Reproducible resampling
// ---------------------------------------------------------------------------------

/// A small seeded generator: xoshiro256** seeded through `SplitMix64`, as its authors
/// recommend (Blackman & Vigna 2018, <https://prng.di.unimi.it/>). Written out here
/// so that a seed gives the same resamples on every platform and every `rand` version.
#[derive(Debug, Clone)]
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut splitmix = seed;
        let mut next = || {
            splitmix = splitmix.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = splitmix;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self {
            state: [next(), next(), next(), next()],
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (0 when `n` is 0), without modulo bias.
    /// Source: D. Lemire (2019), "Fast random integer generation in an interval".
    pub fn below(&mut self, n: u64) -> u64 {
        let mut product = u128::from(self.next_u64()) * u128::from(n);
        if (product as u64) < n {
            let threshold = n.wrapping_neg() % n.max(1);
            while (product as u64) < threshold {
                product = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (product >> 64) as u64
    }
}

/// A bootstrap estimate: the statistic on the data and its percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BootstrapInterval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// The percentile-method interval of bootstrap replicates (sorted in place), using the
/// same linear interpolation as [`quantile_sorted`], like scipy's
/// `bootstrap(method="percentile")`. `None` when there are no replicates.
fn percentile_interval(replicates: &mut [f64], confidence: f64) -> Option<Interval> {
    replicates.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0;
    Some(Interval {
        low: quantile_sorted(replicates, tail)?,
        high: quantile_sorted(replicates, 1.0 - tail)?,
    })
}

/// Mean of per-case score differences (variant A minus variant B on the same case)
/// with a paired bootstrap percentile interval: cases are resampled with replacement,
/// so each case's two scores stay together. Non-finite differences are ignored.
/// `None` when no difference is left; with 0 resamples the interval is the point.
///
/// Source: Efron & Tibshirani (1993), "An Introduction to the Bootstrap", ch. 13.
pub fn paired_bootstrap(
    differences: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<BootstrapInterval> {
    let data: Vec<f64> = differences
        .iter()
        .copied()
        .filter(|d| d.is_finite())
        .collect();
    if data.is_empty() {
        return None;
    }
    let n = data.len();
    let estimate = data.iter().sum::<f64>() / n as f64;
    let mut rng = Rng::new(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            (0..n)
                .map(|_| data[rng.below(n as u64) as usize])
                .sum::<f64>()
                / n as f64
        })
        .collect();
    let Interval { low, high } =
        percentile_interval(&mut means, confidence).unwrap_or(Interval::point(estimate));
    Some(BootstrapInterval {
        estimate,
        low,
        high,
    })
}

// ---------------------------------------------------------------------------------
// Bradley–Terry ranking with ties (Davidson 1970)
// ---------------------------------------------------------------------------------

/// How one comparison between two variants (by index) came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    FirstWins,
    SecondWins,
    Tie,
}

/// One judged comparison between variants `first` and `second` (indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Comparison {
    pub first: usize,
    pub second: usize,
    pub outcome: Outcome,
}

/// Outcome tallies between every two variants: the sufficient statistics of the
/// Bradley–Terry–Davidson model. Counts are `f64` so bootstrap weights fit too.
#[derive(Debug, Clone, PartialEq)]
pub struct PairCounts {
    variants: usize,
    /// `wins[i * variants + j]`: times `i` beat `j`.
    wins: Vec<f64>,
    /// `ties[i * variants + j]` for `i < j`: ties between them.
    ties: Vec<f64>,
}

impl PairCounts {
    pub fn new(variants: usize) -> Self {
        Self {
            variants,
            wins: vec![0.0; variants * variants],
            ties: vec![0.0; variants * variants],
        }
    }

    /// Tallies comparisons; one naming a variant out of range, or a variant against
    /// itself, is ignored.
    pub fn from_comparisons(variants: usize, comparisons: &[Comparison]) -> Self {
        let mut counts = Self::new(variants);
        for comparison in comparisons {
            counts.add(*comparison, 1.0);
        }
        counts
    }

    pub fn variants(&self) -> usize {
        self.variants
    }

    /// Adds `weight` comparisons with this outcome (ignored when invalid, see
    /// [`PairCounts::from_comparisons`]).
    pub fn add(&mut self, comparison: Comparison, weight: f64) {
        let Comparison {
            first,
            second,
            outcome,
        } = comparison;
        let n = self.variants;
        if first == second || first >= n || second >= n || !weight.is_finite() || weight < 0.0 {
            return;
        }
        match outcome {
            Outcome::FirstWins => self.wins[first * n + second] += weight,
            Outcome::SecondWins => self.wins[second * n + first] += weight,
            Outcome::Tie => self.ties[first.min(second) * n + first.max(second)] += weight,
        }
    }

    /// Times `winner` beat `loser`.
    pub fn wins(&self, winner: usize, loser: usize) -> f64 {
        self.wins
            .get(winner * self.variants + loser)
            .copied()
            .unwrap_or(0.0)
    }

    /// Ties between `i` and `j`, in either order.
    pub fn ties(&self, i: usize, j: usize) -> f64 {
        self.ties
            .get(i.min(j) * self.variants + i.max(j))
            .copied()
            .unwrap_or(0.0)
    }

    fn totals(&self) -> (f64, f64) {
        (self.wins.iter().sum(), self.ties.iter().sum())
    }

    /// Every compared pair `(i, j, wins of i, wins of j, ties)` with `i < j`.
    fn pairs(&self) -> impl Iterator<Item = (usize, usize, f64, f64, f64)> + '_ {
        let n = self.variants;
        (0..n)
            .flat_map(move |i| (i + 1..n).map(move |j| (i, j)))
            .map(|(i, j)| (i, j, self.wins(i, j), self.wins(j, i), self.ties(i, j)))
            .filter(|&(_, _, a, b, t)| a + b + t > 0.0)
    }

    /// Groups of variants linked by at least one comparison, each sorted, in order of
    /// their smallest index. More than one group means strengths are comparable only
    /// within a group.
    pub fn components(&self) -> Vec<Vec<usize>> {
        // Union-find with path halving.
        fn root(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let n = self.variants;
        let mut parent: Vec<usize> = (0..n).collect();
        for (i, j, ..) in self.pairs() {
            let (a, b) = (root(&mut parent, i), root(&mut parent, j));
            parent[a.max(b)] = a.min(b);
        }
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut group_of_root = vec![usize::MAX; n];
        for v in 0..n {
            let r = root(&mut parent, v);
            if group_of_root[r] == usize::MAX {
                group_of_root[r] = groups.len();
                groups.push(Vec::new());
            }
            groups[group_of_root[r]].push(v);
        }
        groups
    }
}

/// Settings for [`fit_bradley_terry`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BradleyTerryOptions {
    /// Precision (1/variance) of a Gaussian prior N(0, 1/precision) on each
    /// log-strength. 0 is the plain maximum-likelihood estimate, which is infinite when
    /// a variant never lost (Zermelo 1929); the default 0.01 (a prior sd of 10 on the
    /// log scale, a strength ratio of e^10) keeps such a variant finite while moving a
    /// well-determined estimate by well under 0.1%.
    pub prior_precision: f64,
    /// Stop when no parameter moves by more than this in a Newton step.
    pub tolerance: f64,
    pub max_iterations: usize,
}

impl Default for BradleyTerryOptions {
    fn default() -> Self {
        Self {
            prior_precision: 0.01,
            tolerance: 1e-10,
            max_iterations: 100,
        }
    }
}

/// A fitted Bradley–Terry–Davidson model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BradleyTerryFit {
    /// Log-strengths θ, normalised to sum to 0, so the strengths π = exp(θ) have
    /// geometric mean 1. `P(i beats j) = π_i / (π_i + π_j + ν √(π_i π_j))`.
    pub log_strengths: Vec<f64>,
    /// Davidson's tie parameter ν ≥ 0: `P(tie) = ν √(π_i π_j) / (same denominator)`.
    /// `Some(0.0)` when there were no ties (its estimate then is 0); `None` when there
    /// were no decisive outcomes at all (ν would be infinite).
    pub tie_parameter: Option<f64>,
    /// The log-likelihood of the data at the estimate (the prior not included).
    pub log_likelihood: f64,
    pub iterations: usize,
    /// The Newton step fell below the tolerance, or no step could improve the
    /// objective. Without a prior, when a variant never lost, that happens far out
    /// where the likelihood is flat: the estimate is then finite but meaningless.
    pub converged: bool,
}

impl BradleyTerryFit {
    /// Strengths π = exp(θ), geometric mean 1.
    pub fn strengths(&self) -> Vec<f64> {
        self.log_strengths.iter().map(|t| t.exp()).collect()
    }
}

/// Per-pair log-likelihood and its derivatives in `d = (θ_i − θ_j)/2` and `λ = ln ν`.
///
/// Dividing Davidson's probabilities through by `√(π_i π_j)` gives
/// `P(i) = e^d / S`, `P(j) = e^−d / S`, `P(tie) = e^λ / S` with `S = e^d + e^−d + e^λ`,
/// so `ℓ = (w_i − w_j) d + t λ − n ln S`. With no tie parameter `e^λ` is absent.
struct PairTerms {
    log_likelihood: f64,
    d_d: f64,
    d_lambda: f64,
    d_dd: f64,
    d_d_lambda: f64,
    d_lambda_lambda: f64,
}

fn pair_terms(d: f64, lambda: Option<f64>, wins_i: f64, wins_j: f64, ties: f64) -> PairTerms {
    let n = wins_i + wins_j + ties;
    // Log-sum-exp with the largest exponent factored out, so no term overflows.
    let top = lambda.map_or(d.abs(), |l| d.abs().max(l));
    let (ei, ej) = ((d - top).exp(), (-d - top).exp());
    let et = lambda.map_or(0.0, |l| (l - top).exp());
    let sum = ei + ej + et;
    let (pi, pj, pt) = (ei / sum, ej / sum, et / sum);
    let ln_s = top + sum.ln();
    let lambda_value = lambda.unwrap_or(0.0);
    let log_likelihood = (wins_i - wins_j) * d + ties * lambda_value - n * ln_s;
    let diff = pi - pj;
    PairTerms {
        log_likelihood,
        d_d: (wins_i - wins_j) - n * diff,
        d_lambda: ties - n * pt,
        d_dd: -n * ((pi + pj) - diff * diff),
        d_d_lambda: n * diff * pt,
        d_lambda_lambda: -n * pt * (1.0 - pt),
    }
}

/// The parameter vector is x = (θ₀ … θₖ₋₁, λ), λ present only when ties are modelled.
/// The fit maximises the log-likelihood plus the log-prior −(precision/2) Σθ² plus
/// −½(Σθ)²: the likelihood ignores a common shift of θ, and that last term pins the
/// shift at Σθ = 0 (where it vanishes) so the Hessian is invertible.
fn penalty(x: &[f64], k: usize, precision: f64) -> f64 {
    let theta = &x[..k];
    let sum: f64 = theta.iter().sum();
    let squares: f64 = theta.iter().map(|t| t * t).sum();
    0.5 * precision * squares + 0.5 * sum * sum
}

/// The log-likelihood at x (the prior not included).
fn log_likelihood(counts: &PairCounts, x: &[f64], has_lambda: bool) -> f64 {
    let lambda = has_lambda.then(|| x[counts.variants()]);
    counts
        .pairs()
        .map(|(i, j, wi, wj, t)| pair_terms((x[i] - x[j]) / 2.0, lambda, wi, wj, t).log_likelihood)
        .sum()
}

/// The gradient of the penalised objective at x and its curvature (the negated
/// Hessian, row-major, positive definite).
fn derivatives(
    counts: &PairCounts,
    x: &[f64],
    has_lambda: bool,
    precision: f64,
) -> (Vec<f64>, Vec<f64>) {
    let k = counts.variants();
    let dim = x.len();
    let lambda = has_lambda.then(|| x[k]);
    let mut gradient = vec![0.0; dim];
    let mut curvature = vec![0.0; dim * dim];
    for (i, j, wi, wj, t) in counts.pairs() {
        let terms = pair_terms((x[i] - x[j]) / 2.0, lambda, wi, wj, t);
        // Chain rule through d = (θ_i − θ_j)/2.
        gradient[i] += terms.d_d / 2.0;
        gradient[j] -= terms.d_d / 2.0;
        let h = terms.d_dd / 4.0;
        curvature[i * dim + i] -= h;
        curvature[j * dim + j] -= h;
        curvature[i * dim + j] += h;
        curvature[j * dim + i] += h;
        if has_lambda {
            gradient[k] += terms.d_lambda;
            let c = terms.d_d_lambda / 2.0;
            curvature[i * dim + k] -= c;
            curvature[k * dim + i] -= c;
            curvature[j * dim + k] += c;
            curvature[k * dim + j] += c;
            curvature[k * dim + k] -= terms.d_lambda_lambda;
        }
    }
    let theta_sum: f64 = x[..k].iter().sum();
    for i in 0..k {
        gradient[i] -= precision * x[i] + theta_sum;
        curvature[i * dim + i] += precision;
        for j in 0..k {
            curvature[i * dim + j] += 1.0;
        }
    }
    (gradient, curvature)
}

/// Solves A x = b for symmetric positive definite A (row-major, n×n) by Cholesky,
/// adding a growing ridge to the diagonal when A is singular (a disconnected graph
/// fitted without a prior). Returns `None` only if no ridge helps (non-finite input).
fn solve_positive_definite(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let scale = (0..n).map(|i| a[i * n + i].abs()).fold(1.0, f64::max);
    let mut ridge = 0.0;
    for _ in 0..12 {
        if let Some(x) = cholesky_solve(a, b, ridge) {
            return Some(x);
        }
        ridge = if ridge == 0.0 {
            1e-10 * scale
        } else {
            ridge * 100.0
        };
    }
    None
}

/// A = L Lᵀ, then forward and back substitution; `None` if A + ridge·I is not
/// positive definite.
fn cholesky_solve(matrix: &[f64], rhs: &[f64], ridge: f64) -> Option<Vec<f64>> {
    let n = rhs.len();
    let mut lower = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|m| lower[i * n + m] * lower[j * n + m]).sum();
            if i == j {
                let diagonal = matrix[i * n + i] + ridge - dot;
                if !(diagonal > 1e-300 && diagonal.is_finite()) {
                    return None;
                }
                lower[i * n + i] = diagonal.sqrt();
            } else {
                lower[i * n + j] = (matrix[i * n + j] - dot) / lower[j * n + j];
            }
        }
    }
    let mut forward = vec![0.0; n];
    for i in 0..n {
        let dot: f64 = (0..i).map(|m| lower[i * n + m] * forward[m]).sum();
        forward[i] = (rhs[i] - dot) / lower[i * n + i];
    }
    let mut solution = vec![0.0; n];
    for i in (0..n).rev() {
        let dot: f64 = (i + 1..n).map(|m| lower[m * n + i] * solution[m]).sum();
        solution[i] = (forward[i] - dot) / lower[i * n + i];
    }
    solution.iter().all(|v| v.is_finite()).then_some(solution)
}

/// Fits the Bradley–Terry model with Davidson's (1970) tie extension by maximum
/// (penalised) likelihood, with Newton's method and a backtracking line search.
/// The log-likelihood is concave in (θ, ln ν) (a sum of affine terms minus
/// log-sum-exps of affine terms), so Newton converges to the unique optimum.
///
/// `start` warm-starts the iteration (a bootstrap starts from the point estimate);
/// it is ignored when its size does not match.
///
/// Sources: R. A. Bradley & M. E. Terry (1952), Biometrika 39:324; R. R. Davidson
/// (1970), "On extending the Bradley-Terry model to accommodate ties in paired
/// comparison experiments", JASA 65:317.
pub fn fit_bradley_terry(
    counts: &PairCounts,
    options: &BradleyTerryOptions,
    start: Option<&BradleyTerryFit>,
) -> BradleyTerryFit {
    let k = counts.variants();
    let precision = if options.prior_precision.is_finite() {
        options.prior_precision.max(0.0)
    } else {
        0.0
    };
    let (decisive, ties) = counts.totals();
    if decisive <= 0.0 {
        // Only ties (or nothing): equal strengths and an infinite tie parameter explain
        // the data perfectly, a likelihood of 1.
        return BradleyTerryFit {
            log_strengths: vec![0.0; k],
            tie_parameter: None,
            log_likelihood: 0.0,
            iterations: 0,
            converged: true,
        };
    }
    let has_lambda = ties > 0.0;
    let start = start
        .filter(|f| f.log_strengths.len() == k && f.log_strengths.iter().all(|t| t.is_finite()));
    let mut x = vec![0.0; k + usize::from(has_lambda)];
    if let Some(fit) = start {
        x[..k].copy_from_slice(&fit.log_strengths);
    }
    if has_lambda {
        // With equal strengths P(tie) = ν / (2 + ν): start from the observed tie share.
        let share = ties / (ties + decisive);
        let from_data = (2.0 * share / (1.0 - share)).ln();
        x[k] = match start.and_then(|f| f.tie_parameter) {
            Some(nu) if nu > 0.0 && nu.is_finite() => nu.ln(),
            _ => from_data,
        };
    }

    let objective = |x: &[f64]| log_likelihood(counts, x, has_lambda) - penalty(x, k, precision);
    let mut converged = false;
    let mut iterations = 0;
    let mut value = objective(&x);
    while iterations < options.max_iterations {
        iterations += 1;
        let (gradient, curvature) = derivatives(counts, &x, has_lambda, precision);
        let Some(step) = solve_positive_definite(&curvature, &gradient) else {
            break;
        };
        let mut scale = 1.0;
        let mut accepted = None;
        for _ in 0..40 {
            let candidate: Vec<f64> = x.iter().zip(&step).map(|(a, s)| a + scale * s).collect();
            let candidate_value = objective(&candidate);
            // Accept any step that does not lose ground beyond rounding noise.
            if candidate_value >= value - 1e-12 * value.abs().max(1.0) {
                accepted = Some((candidate, candidate_value));
                break;
            }
            scale /= 2.0;
        }
        let Some((next, next_value)) = accepted else {
            // No step improves: already at the optimum to machine precision.
            converged = true;
            break;
        };
        let moved = step.iter().map(|s| (scale * s).abs()).fold(0.0, f64::max);
        x = next;
        value = next_value;
        if moved < options.tolerance {
            converged = true;
            break;
        }
    }

    // Normalise: the shift term centres θ at the optimum already; subtracting the
    // mean removes leftover rounding.
    let mean = x[..k].iter().sum::<f64>() / k.max(1) as f64;
    BradleyTerryFit {
        log_strengths: x[..k].iter().map(|t| t - mean).collect(),
        tie_parameter: Some(if has_lambda { x[k].exp() } else { 0.0 }).filter(|nu| nu.is_finite()),
        log_likelihood: log_likelihood(counts, &x, has_lambda),
        iterations,
        converged,
    }
}

/// Percentile intervals for a Bradley–Terry fit from resampled comparisons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BradleyTerryBootstrap {
    /// Interval on each log-strength (the same order as the fit's `log_strengths`).
    pub log_strength_intervals: Vec<Interval>,
    /// Interval on ν; `None` when the fit has no finite ν.
    pub tie_parameter_interval: Option<Interval>,
    pub resamples: usize,
    /// Resamples whose fit stopped at the iteration limit (kept in the intervals).
    pub unconverged: usize,
    /// Resamples that drew no comparison with a winner (only ties), left out of the
    /// intervals: such a resample says nothing about strengths, and its flat fit
    /// (every log-strength 0) would pin sparse intervals at 0. The intervals are those
    /// of the bootstrap conditional on at least one decisive comparison.
    pub without_winner: usize,
}

/// Nonparametric bootstrap for [`fit_bradley_terry`]: resamples the comparisons with
/// replacement `resamples` times with a seeded generator, refits each from `fit`
/// (the point estimate) and takes percentile intervals at `confidence`. Resamples with
/// no decisive comparison are left out and counted (see
/// [`BradleyTerryBootstrap::without_winner`]).
///
/// A resample only matters through its tallies, so each draw increments one of at
/// most 3 × pairs cells and the fit runs on those tallies: the cost is one random
/// index per comparison plus a few Newton steps on a k×k problem (memory and time
/// grow with k², and k³ per step: meant for tens of variants, not thousands).
pub fn bootstrap_bradley_terry(
    comparisons: &[Comparison],
    variants: usize,
    options: &BradleyTerryOptions,
    fit: &BradleyTerryFit,
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> BradleyTerryBootstrap {
    // Each valid comparison becomes a cell: (smaller index, larger index, outcome as
    // seen from the smaller index), so tallies are one array increment.
    let cells: Vec<usize> = comparisons
        .iter()
        .filter(|c| c.first != c.second && c.first < variants && c.second < variants)
        .map(|c| {
            let (low, high) = (c.first.min(c.second), c.first.max(c.second));
            let outcome = match (c.outcome, c.first < c.second) {
                (Outcome::Tie, _) => 2,
                (Outcome::FirstWins, true) | (Outcome::SecondWins, false) => 0,
                _ => 1,
            };
            (low * variants + high) * 3 + outcome
        })
        .collect();
    let mut theta_replicates = vec![Vec::with_capacity(resamples); variants];
    let mut nu_replicates = Vec::with_capacity(resamples);
    let mut unconverged = 0;
    let mut without_winner = 0;
    if !cells.is_empty() {
        let mut rng = Rng::new(seed);
        let mut tallies = vec![0u32; variants * variants * 3];
        for _ in 0..resamples {
            tallies.fill(0);
            for _ in 0..cells.len() {
                tallies[cells[rng.below(cells.len() as u64) as usize]] += 1;
            }
            if !tallies
                .iter()
                .enumerate()
                .any(|(cell, &count)| count > 0 && cell % 3 != 2)
            {
                without_winner += 1;
                continue;
            }
            let mut counts = PairCounts::new(variants);
            for (cell, &count) in tallies.iter().enumerate().filter(|(_, c)| **c > 0) {
                let (pair, outcome) = (cell / 3, cell % 3);
                let comparison = Comparison {
                    first: pair / variants,
                    second: pair % variants,
                    outcome: [Outcome::FirstWins, Outcome::SecondWins, Outcome::Tie][outcome],
                };
                counts.add(comparison, f64::from(count));
            }
            let replicate = fit_bradley_terry(&counts, options, Some(fit));
            unconverged += usize::from(!replicate.converged);
            for (slot, theta) in theta_replicates.iter_mut().zip(&replicate.log_strengths) {
                slot.push(*theta);
            }
            if let Some(nu) = replicate.tie_parameter {
                nu_replicates.push(nu);
            }
        }
    }
    let log_strength_intervals = theta_replicates
        .iter_mut()
        .zip(&fit.log_strengths)
        .map(|(replicates, &theta)| {
            percentile_interval(replicates, confidence).unwrap_or(Interval::point(theta))
        })
        .collect();
    let tie_parameter_interval = fit.tie_parameter.map(|nu| {
        percentile_interval(&mut nu_replicates, confidence).unwrap_or(Interval::point(nu))
    });
    BradleyTerryBootstrap {
        log_strength_intervals,
        tie_parameter_interval,
        resamples: if cells.is_empty() { 0 } else { resamples },
        unconverged,
        without_winner,
    }
}

// ---------------------------------------------------------------------------------
// Agreement between raters
// ---------------------------------------------------------------------------------

/// Cohen's kappa from a contingency table of two raters' labels (`table[r][c]`: items
/// the first rater put in category r and the second in c; a ragged table is read as
/// zero-padded). `None` when undefined: no items, or chance agreement is already 1
/// (both raters used one and the same category throughout).
///
/// Source: J. Cohen (1960), "A coefficient of agreement for nominal scales";
/// `κ = (p_o − p_e) / (1 − p_e)`, as statsmodels `cohens_kappa(table).kappa`.
pub fn cohens_kappa<R: AsRef<[u64]>>(table: &[R]) -> Option<f64> {
    let categories = table
        .iter()
        .map(|row| row.as_ref().len())
        .max()
        .unwrap_or(0)
        .max(table.len());
    let cell = |r: usize, c: usize| {
        table
            .get(r)
            .and_then(|row| row.as_ref().get(c))
            .copied()
            .unwrap_or(0) as f64
    };
    let total: f64 = table
        .iter()
        .flat_map(|row| row.as_ref().iter())
        .map(|&c| c as f64)
        .sum();
    if total <= 0.0 {
        return None;
    }
    let observed = (0..categories).map(|c| cell(c, c)).sum::<f64>() / total;
    let expected: f64 = (0..categories)
        .map(|c| {
            let row: f64 = (0..categories).map(|x| cell(c, x)).sum();
            let column: f64 = (0..categories).map(|x| cell(x, c)).sum();
            row / total * (column / total)
        })
        .sum();
    kappa(observed, expected)
}

/// (observed − expected) / (1 − expected), or `None` when expected agreement is 1.
fn kappa(observed: f64, expected: f64) -> Option<f64> {
    (1.0 - expected > 1e-12).then(|| (observed - expected) / (1.0 - expected))
}

/// Fleiss' kappa and what it was computed over.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FleissKappa {
    /// `None` when undefined: no usable items, or every rating in one category.
    pub kappa: Option<f64>,
    /// Items used: those rated by the modal number of raters.
    pub items: usize,
    pub raters_per_item: u64,
}

/// Fleiss' kappa from an items × categories table of counts (`table[i][c]`: raters
/// who put item i in category c).
///
/// Fleiss' formula assumes every item has the same number of raters. When they
/// differ, only the items with the most common count are used (ties between counts go
/// to the larger count, which carries more information); items with fewer than two
/// raters never count. Krippendorff's alpha uses every item instead.
///
/// Source: J. L. Fleiss (1971), "Measuring nominal scale agreement among many raters";
/// as statsmodels `fleiss_kappa(table, method="fleiss")`.
pub fn fleiss_kappa<R: AsRef<[u64]>>(table: &[R]) -> FleissKappa {
    let rater_counts: Vec<u64> = table.iter().map(|row| row.as_ref().iter().sum()).collect();
    let mut frequency: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    for &count in rater_counts.iter().filter(|&&c| c >= 2) {
        *frequency.entry(count).or_default() += 1;
    }
    // max_by_key keeps the last maximum, and the map iterates counts ascending.
    let Some((&raters, &items)) = frequency.iter().max_by_key(|(_, items)| **items) else {
        return FleissKappa {
            kappa: None,
            items: 0,
            raters_per_item: 0,
        };
    };
    let rows: Vec<&[u64]> = table
        .iter()
        .zip(&rater_counts)
        .filter(|&(_, &count)| count == raters)
        .map(|(row, _)| row.as_ref())
        .collect();
    let categories = rows.iter().map(|row| row.len()).max().unwrap_or(0);
    let n = raters as f64;
    let total = n * items as f64;
    let mut category_totals = vec![0.0; categories];
    let mut agreement_sum = 0.0;
    for row in &rows {
        let mut squares = 0.0;
        for (c, &count) in row.iter().enumerate() {
            category_totals[c] += count as f64;
            squares += (count as f64) * (count as f64);
        }
        agreement_sum += (squares - n) / (n * (n - 1.0));
    }
    let observed = agreement_sum / items as f64;
    let expected: f64 = category_totals
        .iter()
        .map(|t| (t / total) * (t / total))
        .sum();
    FleissKappa {
        kappa: kappa(observed, expected),
        items,
        raters_per_item: raters,
    }
}

/// The distinct values ascending, and how often each occurs. Ratings use few distinct
/// values (categories, a 1–5 scale), so a sorted list with binary search beats sorting
/// every rating; past 64 distinct values it sorts instead.
fn value_frequencies(ratings: impl Iterator<Item = f64> + Clone) -> (Vec<f64>, Vec<f64>) {
    const FEW: usize = 64;
    let mut values: Vec<f64> = Vec::new();
    let mut frequencies: Vec<f64> = Vec::new();
    for v in ratings.clone() {
        match values.binary_search_by(|x| x.total_cmp(&v)) {
            Ok(i) => frequencies[i] += 1.0,
            Err(i) if values.len() < FEW => {
                values.insert(i, v);
                frequencies.insert(i, 1.0);
            }
            Err(_) => {
                let mut all: Vec<f64> = ratings.collect();
                all.sort_unstable_by(f64::total_cmp);
                values.clear();
                frequencies.clear();
                for v in all {
                    match frequencies.last_mut() {
                        Some(count) if values.last() == Some(&v) => *count += 1.0,
                        _ => {
                            values.push(v);
                            frequencies.push(1.0);
                        }
                    }
                }
                break;
            }
        }
    }
    (values, frequencies)
}

/// The level of measurement for Krippendorff's alpha: which disagreements count more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Any two different values disagree equally.
    Nominal,
    /// Values are ranked; disagreement grows with how many ratings lie between them.
    Ordinal,
    /// Disagreement is the squared difference of the values.
    Interval,
}

/// Krippendorff's alpha over units (items), each holding the values that raters gave
/// it. Missing ratings are simply absent (NaN and infinities are dropped too); units
/// with fewer than two values cannot be paired and are skipped. `None` when undefined:
/// no unit with two values, or every value the same.
///
/// `α = 1 − D_o / D_e` with the coincidence-matrix formulation of K. Krippendorff
/// (2011), "Computing Krippendorff's alpha-reliability", matching the `krippendorff`
/// package. Its ordinal metric `δ²(c, k) = (Σ_{g=c..k} n_g − (n_c + n_k)/2)²` equals
/// `(a_k − a_c)²` with `a_c = N_{≤c} − n_c/2`, the value's mid-rank among all pairable
/// values, so ordinal alpha is interval alpha on mid-ranks; both disagreements then
/// reduce to variances, which keeps the cost linear in the number of ratings.
pub fn krippendorff_alpha<U: AsRef<[f64]>>(units: &[U], level: Level) -> Option<f64> {
    // Adding 0.0 turns −0 into +0, which `total_cmp` would otherwise keep apart.
    fn finite(unit: &[f64]) -> impl Iterator<Item = f64> + Clone + '_ {
        unit.iter()
            .copied()
            .filter(|v| v.is_finite())
            .map(|v| v + 0.0)
    }
    let pairable = || {
        units
            .iter()
            .map(AsRef::as_ref)
            .filter(|unit| finite(unit).nth(1).is_some())
    };
    let (values, frequencies) = value_frequencies(pairable().flat_map(finite));
    let n: f64 = frequencies.iter().sum();
    if values.len() < 2 {
        return None;
    }
    let positions: Vec<f64> = match level {
        Level::Nominal | Level::Interval => values.clone(),
        Level::Ordinal => {
            let mut below = 0.0;
            frequencies
                .iter()
                .map(|&f| {
                    let mid = below + f / 2.0;
                    below += f;
                    mid
                })
                .collect()
        }
    };

    // Σ over ordered pairs of ratings (x, y) in a group of δ(x, y), the group given as
    // (value index, multiplicity): for squared distances that is 2 m Σ (a_x − ā)², for
    // nominal m² − Σ_c m_c².
    let spread = |members: &[(usize, f64)]| -> f64 {
        let m: f64 = members.iter().map(|(_, w)| w).sum();
        match level {
            Level::Nominal => m * m - members.iter().map(|(_, w)| w * w).sum::<f64>(),
            Level::Ordinal | Level::Interval => {
                let mean = members.iter().map(|&(i, w)| w * positions[i]).sum::<f64>() / m;
                let squares: f64 = members
                    .iter()
                    .map(|&(i, w)| w * (positions[i] - mean).powi(2))
                    .sum();
                2.0 * m * squares
            }
        }
    };
    let all: Vec<(usize, f64)> = frequencies.iter().copied().enumerate().collect();
    let expected = spread(&all) / (n - 1.0);
    let mut observed = 0.0;
    // Reused across units: a unit's value indices, then (index, multiplicity) runs.
    let mut indices: Vec<usize> = Vec::new();
    let mut members: Vec<(usize, f64)> = Vec::new();
    for unit in pairable() {
        indices.clear();
        indices.extend(
            finite(unit).map(|v| values.binary_search_by(|x| x.total_cmp(&v)).unwrap_or(0)),
        );
        indices.sort_unstable();
        members.clear();
        for &i in &indices {
            match members.last_mut() {
                Some((last, w)) if *last == i => *w += 1.0,
                _ => members.push((i, 1.0)),
            }
        }
        observed += spread(&members) / (indices.len() as f64 - 1.0);
    }
    let alpha = 1.0 - observed / expected;
    (expected > 0.0 && alpha.is_finite()).then_some(alpha)
}

#[cfg(test)]
// Exact comparisons are the point: edge cases have exact answers (0, 1, a point interval).
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;
    use proptest::prelude::{Just, prop, prop_assert, prop_oneof, proptest};

    fn all_finite(values: &[f64]) -> bool {
        values.iter().all(|v| v.is_finite())
    }

    #[test]
    fn z_for_95_percent_and_nonsense_levels() {
        assert!((z_for_confidence(0.95) - 1.959_963_984_540_054).abs() < 1e-8);
        for level in [0.0, 1.0, -3.0, 2.0, f64::NAN, f64::INFINITY] {
            assert!(z_for_confidence(level).is_finite(), "{level}");
        }
    }

    #[test]
    fn a_rate_over_nothing_is_undefined_with_the_widest_interval() {
        let r = rate(0, 0, 0.95);
        assert_eq!((r.estimate, r.low, r.high), (None, 0.0, 1.0));
        let r = rate(5, 3, 0.95);
        assert_eq!(r.estimate, Some(1.0), "successes beyond trials are capped");
        for (s, n, z) in [
            (f64::NAN, 10.0, 1.96),
            (3.0, f64::INFINITY, 1.96),
            (-1.0, 4.0, f64::NAN),
            (2.0, -4.0, 1.0),
        ] {
            let i = wilson_interval(s, n, z);
            assert!(
                all_finite(&[i.low, i.high]) && i.low <= i.high,
                "{s} {n} {z}"
            );
        }
    }

    #[test]
    fn percentiles_and_costs_of_nothing() {
        assert_eq!(percentiles(&[]), None);
        assert_eq!(percentiles(&[f64::NAN]), None);
        assert_eq!(quantile_sorted(&[4.0], 0.99), Some(4.0));
        assert_eq!(quantile_sorted(&[1.0, 2.0], f64::NAN), Some(1.5));
        let empty = cost_summary(&[]);
        assert_eq!(
            (empty.requests, empty.total, empty.per_1k_requests),
            (0, 0.0, None)
        );
        let unknown = cost_summary(&[0.5, f64::NAN]);
        assert_eq!((unknown.total, unknown.per_1k_requests), (0.5, Some(250.0)));
    }

    #[test]
    fn sign_test_edges() {
        assert_eq!(sign_test(0, 0), 1.0, "no judgements, no evidence");
        assert_eq!(sign_test(7, 7), 1.0);
        assert_eq!(sign_test(3, 9), sign_test(9, 3));
        assert!((sign_test(10, 0) - 2.0 / 1024.0).abs() < 1e-15);
        assert!(sign_test(u64::MAX, 1) < 1e-300);
        assert_eq!(sign_test(u64::MAX, u64::MAX), 1.0);
        let p = sign_test(5_000_000_000, 4_999_000_000);
        assert!(p > 0.0 && p < 1e-20, "{p}");
    }

    #[test]
    fn holm_edges() {
        assert!(holm_adjust(&[]).is_empty());
        assert_eq!(holm_adjust(&[f64::NAN, 0.01]), vec![1.0, 0.02]);
        assert_eq!(holm_adjust(&[-1.0, 2.0]), vec![0.0, 1.0]);
    }

    #[test]
    fn holm_with_others_agrees_with_holm_adjust() {
        let sets: [&[f64]; 4] = [
            &[0.01, 0.04, 0.03, 0.2],
            &[0.5, 0.5, 0.5],
            &[0.001, f64::NAN, 0.02],
            &[0.04],
        ];
        for set in sets {
            for i in 0..set.len() {
                let others: Vec<f64> = (0..set.len()).filter(|&j| j != i).map(|j| set[j]).collect();
                let rule = HolmWithOthers::new(&others);
                for p in [0.0, 0.001, 0.01, 0.02, 0.03, 0.04, 0.2, 0.5, 1.0, set[i]] {
                    let mut trial = set.to_vec();
                    trial[i] = p;
                    let expected = holm_adjust(&trial)[i];
                    assert!(
                        (rule.adjusted(p) - expected).abs() < 1e-15,
                        "{set:?} {i} {p}"
                    );
                }
            }
        }
    }

    #[test]
    fn ln_gamma_matches_the_c_library() {
        // Python's math.lgamma (the platform's C libm lgamma).
        for (x, expected) in [
            (0.1, 2.252_712_651_734_205_5),
            (0.5, 0.572_364_942_924_700_4),
            (1.0, 0.0),
            (2.5, 0.284_682_870_472_919_6),
            (10.0, 12.801_827_480_081_467),
            (100.5, 361.435_540_467_767_7),
            (1e5, 1_051_287.708_973_656_6),
        ] {
            let got = ln_gamma(x);
            assert!(
                (got - expected).abs() <= 1e-13 * expected.abs().max(1.0),
                "{x}: {got} vs {expected}"
            );
        }
        assert_eq!(ln_gamma(0.0), f64::INFINITY);
        assert_eq!(ln_gamma(f64::NAN), f64::INFINITY);
    }

    #[test]
    fn mixture_e_values_match_worked_examples() {
        // With a uniform prior (c = 1) the mixture is Laplace's: E = 2^n w! l! / (n+1)!.
        // 10-0: 1024 / 11 = 93.09; 7-3: 2^10 · 7! 3! / 11! = 30965760 / 39916800.
        let e = |w, l, c| mixture_log_e_value(w, l, c).exp();
        assert!((e(10, 0, 1.0) - 1024.0 / 11.0).abs() < 1e-10);
        assert!((e(7, 3, 1.0) - 30_965_760.0 / 39_916_800.0).abs() < 1e-13);
        // 1-0 with any symmetric prior: the prior mean of p is ½, so E = 2 · ½ = 1.
        for c in [0.5, 1.0, 5.0, 40.0] {
            assert!((e(1, 0, c) - 1.0).abs() < 1e-12, "{c}");
            assert!((e(2, 0, c) - 2.0 * (c + 1.0) / (2.0 * c + 1.0)).abs() < 1e-12);
        }
        // With the default Beta(5, 5), from Python's math.lgamma:
        // n ln 2 + lgamma(5+w) + lgamma(5+l) − lgamma(10+n) − 2 lgamma(5) + lgamma(10).
        for (w, l, expected) in [
            (60, 40, 0.623_612_346_233_390_9),
            (30, 20, -0.065_193_073_756_627_3),
            (12, 3, 1.255_219_596_818_524_7),
            (200, 100, 14.735_015_111_055_336),
            (5, 5, -0.359_037_602_051_532),
            (1000, 900, -0.030_593_378_958_054_807),
        ] {
            let got = mixture_log_e_value(w, l, 5.0);
            assert!(
                (got - expected).abs() < 1e-9,
                "{w}-{l}: {got} vs {expected}"
            );
        }
        assert_eq!(mixture_log_e_value(0, 0, 5.0), 0.0);
        assert_eq!(
            mixture_log_e_value(3, 1, f64::NAN),
            mixture_log_e_value(3, 1, SEQUENTIAL_PRIOR_CONCENTRATION)
        );
        assert!(mixture_log_e_value(u64::MAX, 0, 5.0).is_finite());
        assert_eq!(sequential_p_value(0, 0), 1.0);
        assert_eq!(sequential_p_value(4, 6), sequential_p_value(6, 4));
    }

    #[test]
    fn the_sequential_test_is_more_demanding_than_the_fixed_one() {
        // 12-3 is significant for the sign test once (p = 0.035) but far from stopping
        // for a test that allows looking after every judgement.
        let tests = sequential_tests(&[(12, 3)], 0.05);
        assert!(sign_test(12, 3) < 0.05);
        assert!(!tests[0].may_stop && tests[0].p > 0.05, "{tests:?}");
        // 200-100: E = e^14.7, far past 1/α even with a second pair to adjust for.
        let tests = sequential_tests(&[(200, 100), (10, 10)], 0.05);
        assert!(tests[0].may_stop && !tests[1].may_stop);
        assert!((tests[0].holm_p - 2.0 * tests[0].p).abs() < 1e-18);
        assert_eq!(tests[1].p, 1.0, "an even split is no evidence (E < 1)");
    }

    #[test]
    fn judgements_needed_edges() {
        assert_eq!(judgements_needed(0, 0, 0.05), None);
        assert_eq!(judgements_needed(40, 40, 0.05), None);
        assert_eq!(judgements_needed(10, 0, 0.05), Some(0));
        assert_eq!(judgements_needed(1, 0, 0.05), Some(5), "6-0 gives p = 1/32");
        assert_eq!(judgements_needed(0, 1, 0.05), Some(5));
        assert_eq!(
            judgements_needed(500_000_001, 499_999_999, 0.05),
            None,
            "beyond a billion"
        );
        assert_eq!(judgements_needed(3, 1, 0.0), None, "p < 0 never happens");
    }

    #[test]
    fn rng_is_reproducible_and_in_range() {
        let mut a = Rng::new(9);
        let mut b = Rng::new(9);
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
        assert_eq!(a.below(0), 0);
        assert_eq!(a.below(1), 0);
        let mut seen = [0u32; 3];
        for _ in 0..3000 {
            seen[a.below(3) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 900), "{seen:?}");
        assert!(a.below(u64::MAX) < u64::MAX);
    }

    #[test]
    fn paired_bootstrap_edges() {
        assert_eq!(paired_bootstrap(&[], 100, 0.95, 1), None);
        assert_eq!(paired_bootstrap(&[f64::NAN], 100, 0.95, 1), None);
        let point = paired_bootstrap(&[1.0, 3.0], 0, 0.95, 1);
        assert_eq!(
            point,
            Some(BootstrapInterval {
                estimate: 2.0,
                low: 2.0,
                high: 2.0
            })
        );
        let same = paired_bootstrap(&[0.5; 10], 50, 0.95, 1);
        assert_eq!(
            same,
            Some(BootstrapInterval {
                estimate: 0.5,
                low: 0.5,
                high: 0.5
            })
        );
    }

    fn counts(variants: usize, outcomes: &[(usize, usize, Outcome, f64)]) -> PairCounts {
        let mut c = PairCounts::new(variants);
        for &(first, second, outcome, n) in outcomes {
            c.add(
                Comparison {
                    first,
                    second,
                    outcome,
                },
                n,
            );
        }
        c
    }

    #[test]
    fn bradley_terry_with_no_data_or_one_variant() {
        let options = BradleyTerryOptions::default();
        for k in [0, 1, 3] {
            let fit = fit_bradley_terry(&PairCounts::new(k), &options, None);
            assert_eq!(fit.log_strengths, vec![0.0; k]);
            assert_eq!(fit.tie_parameter, None);
            assert!(fit.converged);
        }
        let boot = bootstrap_bradley_terry(
            &[],
            2,
            &options,
            &fit_bradley_terry(&PairCounts::new(2), &options, None),
            100,
            0.95,
            1,
        );
        assert_eq!(boot.resamples, 0);
        assert_eq!(boot.log_strength_intervals, vec![Interval::point(0.0); 2]);
    }

    #[test]
    fn bradley_terry_all_ties_is_flat_with_no_finite_tie_parameter() {
        let c = counts(3, &[(0, 1, Outcome::Tie, 5.0), (1, 2, Outcome::Tie, 2.0)]);
        let fit = fit_bradley_terry(&c, &BradleyTerryOptions::default(), None);
        assert_eq!(
            (fit.log_strengths.clone(), fit.tie_parameter),
            (vec![0.0; 3], None)
        );
        assert!(fit.log_likelihood.is_finite());
    }

    #[test]
    fn bradley_terry_without_ties_is_plain_bradley_terry() {
        // Two variants, 30-20: the MLE is θ₀ − θ₁ = ln(30/20), ν = 0.
        let c = counts(
            2,
            &[
                (0, 1, Outcome::FirstWins, 30.0),
                (0, 1, Outcome::SecondWins, 20.0),
            ],
        );
        let options = BradleyTerryOptions {
            prior_precision: 0.0,
            ..Default::default()
        };
        let fit = fit_bradley_terry(&c, &options, None);
        assert!(fit.converged);
        assert_eq!(fit.tie_parameter, Some(0.0));
        assert!((fit.log_strengths[0] - fit.log_strengths[1] - 1.5_f64.ln()).abs() < 1e-10);
        assert!(fit.log_strengths.iter().sum::<f64>().abs() < 1e-12);
        let strengths = fit.strengths();
        assert!(
            (strengths[0] * strengths[1] - 1.0).abs() < 1e-12,
            "geometric mean 1"
        );
    }

    /// ln of n! / (a! b! c!) · pa^a pb^b pc^c, the multinomial probability.
    fn ln_multinomial(n: u64, counts: [u64; 3], probabilities: [f64; 3]) -> f64 {
        let ln_factorial = |k: u64| (1..=k).map(|i| (i as f64).ln()).sum::<f64>();
        let mut ln = ln_factorial(n);
        for (c, p) in counts.iter().zip(probabilities) {
            ln -= ln_factorial(*c);
            if *c > 0 {
                ln += *c as f64 * p.ln();
            }
        }
        ln
    }

    #[test]
    fn bootstrap_leaves_out_resamples_without_a_winner_as_the_exact_distribution_does() {
        // 12 comparisons of two variants: 2 won by the first, 10 ties. A resample draws
        // only ties with probability (10/12)^12 = 0.112, more than the 2.5% tail, so
        // keeping those flat fits pinned the interval's low end at exactly 0.
        let mut comparisons = vec![
            Comparison {
                first: 0,
                second: 1,
                outcome: Outcome::FirstWins
            };
            2
        ];
        comparisons.extend(std::iter::repeat_n(
            Comparison {
                first: 0,
                second: 1,
                outcome: Outcome::Tie,
            },
            10,
        ));
        let options = BradleyTerryOptions::default();
        let counts = PairCounts::from_comparisons(2, &comparisons);
        let fit = fit_bradley_terry(&counts, &options, None);
        let resamples = 20_000;
        let boot = bootstrap_bradley_terry(&comparisons, 2, &options, &fit, resamples, 0.95, 7);
        // Reference: the bootstrap distribution computed exactly, by enumerating every
        // resample's tallies (W first wins, T ties; the second never wins here) with its
        // multinomial probability, conditional on W > 0.
        let n = 12u64;
        let mut exact: Vec<(f64, f64)> = Vec::new();
        let mut p_no_winner = 0.0;
        for wins in 0..=n {
            let probability =
                ln_multinomial(n, [wins, 0, n - wins], [2.0 / 12.0, 0.0, 10.0 / 12.0]).exp();
            if wins == 0 {
                p_no_winner = probability;
                continue;
            }
            let resample = counts_of(wins, n - wins);
            let theta = fit_bradley_terry(&resample, &options, Some(&fit)).log_strengths[0];
            exact.push((theta, probability));
        }
        assert!((p_no_winner - (10.0_f64 / 12.0).powi(12)).abs() < 1e-12);
        let quantile = |q: f64| {
            let total: f64 = exact.iter().map(|e| e.1).sum();
            let mut sorted = exact.clone();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut cumulative = 0.0;
            for (theta, p) in sorted {
                cumulative += p / total;
                if cumulative >= q {
                    return theta;
                }
            }
            f64::INFINITY
        };
        let expected_left_out = p_no_winner * resamples as f64;
        let sd = (expected_left_out * (1.0 - p_no_winner)).sqrt();
        assert!(
            (boot.without_winner as f64 - expected_left_out).abs() < 5.0 * sd,
            "{} left out, {expected_left_out:.0} expected",
            boot.without_winner
        );
        let low = boot.log_strength_intervals[0].low;
        assert!(low > 0.0, "no longer pinned at 0: {low}");
        // The resampled 2.5% point lies where the exact one does (the distribution is
        // discrete: between its 2% and 3% points).
        assert!(
            low >= quantile(0.02) - 1e-9 && low <= quantile(0.03) + 1e-9,
            "{low} vs [{}, {}]",
            quantile(0.02),
            quantile(0.03)
        );
        let high = boot.log_strength_intervals[0].high;
        assert!(high >= quantile(0.97) - 1e-9 && high <= quantile(0.98) + 1e-9);
    }

    fn counts_of(first_wins: u64, ties: u64) -> PairCounts {
        let mut c = PairCounts::new(2);
        let comparison = |outcome| Comparison {
            first: 0,
            second: 1,
            outcome,
        };
        c.add(comparison(Outcome::FirstWins), first_wins as f64);
        c.add(comparison(Outcome::Tie), ties as f64);
        c
    }

    #[test]
    fn a_disconnected_graph_is_reported_and_still_fits() {
        let c = counts(
            4,
            &[
                (0, 1, Outcome::FirstWins, 6.0),
                (0, 1, Outcome::SecondWins, 2.0),
                (2, 3, Outcome::FirstWins, 1.0),
                (2, 3, Outcome::SecondWins, 4.0),
                (2, 3, Outcome::Tie, 1.0),
            ],
        );
        assert_eq!(c.components(), vec![vec![0, 1], vec![2, 3]]);
        for precision in [0.0, 0.01] {
            let options = BradleyTerryOptions {
                prior_precision: precision,
                ..Default::default()
            };
            let fit = fit_bradley_terry(&c, &options, None);
            assert!(
                all_finite(&fit.log_strengths) && fit.converged,
                "{precision}: {fit:?}"
            );
            // Within a group the difference is still the group's own MLE/MAP.
            assert!(fit.log_strengths[0] > fit.log_strengths[1]);
            assert!(fit.log_strengths[3] > fit.log_strengths[2]);
        }
    }

    #[test]
    fn a_variant_that_never_loses_stays_finite() {
        let c = counts(
            3,
            &[
                (0, 1, Outcome::FirstWins, 20.0),
                (0, 2, Outcome::FirstWins, 20.0),
                (1, 2, Outcome::SecondWins, 3.0),
                (1, 2, Outcome::FirstWins, 3.0),
            ],
        );
        let with_prior = fit_bradley_terry(&c, &BradleyTerryOptions::default(), None);
        assert!(with_prior.converged && all_finite(&with_prior.log_strengths));
        assert!(with_prior.log_strengths[0] > 3.0 && with_prior.log_strengths[0] < 15.0);
        // Without a prior the MLE is at infinity: the fit walks out until the likelihood
        // is flat to machine precision and stops there, finite.
        let plain = fit_bradley_terry(
            &c,
            &BradleyTerryOptions {
                prior_precision: 0.0,
                ..Default::default()
            },
            None,
        );
        assert!(all_finite(&plain.log_strengths) && plain.log_likelihood.is_finite());
        assert!(plain.log_strengths[0] - plain.log_strengths[1] > 10.0);
    }

    #[test]
    fn invalid_comparisons_are_ignored() {
        let c = counts(
            2,
            &[
                (0, 0, Outcome::FirstWins, 1.0),
                (0, 5, Outcome::Tie, 1.0),
                (0, 1, Outcome::Tie, f64::NAN),
                (0, 1, Outcome::Tie, -2.0),
            ],
        );
        assert_eq!(c, PairCounts::new(2));
        assert_eq!(c.wins(9, 9), 0.0);
    }

    #[test]
    fn kappa_edges() {
        let empty: [[u64; 2]; 0] = [];
        assert_eq!(cohens_kappa(&empty), None);
        assert_eq!(
            cohens_kappa(&[[4, 0], [0, 6]]),
            Some(1.0),
            "perfect agreement"
        );
        assert_eq!(
            cohens_kappa(&[[9, 0], [0, 0]]),
            None,
            "one category: chance agreement is 1"
        );
        assert_eq!(
            cohens_kappa(&[vec![1, 2, 3], vec![4]]).map(f64::is_finite),
            Some(true),
            "ragged table"
        );
        let single = fleiss_kappa(&[[1, 0], [0, 1]]);
        assert_eq!(
            (single.kappa, single.items),
            (None, 0),
            "one rater per item"
        );
        assert_eq!(fleiss_kappa(&[[3, 0], [0, 3]]).kappa, Some(1.0));
        assert_eq!(fleiss_kappa(&[[3, 0], [3, 0]]).kappa, None, "one category");
        let empty: [[u64; 2]; 0] = [];
        assert_eq!(fleiss_kappa(&empty).items, 0);
    }

    #[test]
    fn krippendorff_edges() {
        let none: [Vec<f64>; 0] = [];
        for level in [Level::Nominal, Level::Ordinal, Level::Interval] {
            assert_eq!(krippendorff_alpha(&none, level), None);
            assert_eq!(
                krippendorff_alpha(&[vec![1.0], vec![2.0]], level),
                None,
                "no unit has two values"
            );
            assert_eq!(
                krippendorff_alpha(&[vec![3.0, 3.0], vec![3.0, 3.0, f64::NAN]], level),
                None,
                "one value"
            );
            assert_eq!(
                krippendorff_alpha(&[vec![1.0, 1.0], vec![2.0, 2.0]], level),
                Some(1.0),
                "perfect"
            );
        }
    }

    proptest! {
        #[test]
        fn no_panic_no_nan_on_any_counts(
            outcomes in prop::collection::vec((0usize..5, 0usize..5, 0u8..3, 0.0f64..20.0), 0..30),
            precision in prop_oneof![Just(0.0), Just(0.01), 0.0f64..5.0],
        ) {
            let outcomes: Vec<(usize, usize, Outcome, f64)> = outcomes
                .into_iter()
                .map(|(a, b, o, n)| (a, b, [Outcome::FirstWins, Outcome::SecondWins, Outcome::Tie][o as usize], n.floor()))
                .collect();
            let c = counts(4, &outcomes);
            let options = BradleyTerryOptions { prior_precision: precision, max_iterations: 60, ..Default::default() };
            let fit = fit_bradley_terry(&c, &options, None);
            prop_assert!(all_finite(&fit.log_strengths) && fit.log_likelihood.is_finite());
            prop_assert!(fit.tie_parameter.is_none_or(f64::is_finite));
            let comparisons: Vec<Comparison> = outcomes.iter().map(|&(first, second, outcome, _)| Comparison { first, second, outcome }).collect();
            let boot = bootstrap_bradley_terry(&comparisons, 4, &options, &fit, 5, 0.95, 1);
            prop_assert!(boot.log_strength_intervals.iter().all(|i| i.low.is_finite() && i.high.is_finite()));
        }

        #[test]
        fn no_panic_no_nan_on_any_ratings(
            units in prop::collection::vec(prop::collection::vec(prop_oneof![0.0f64..5.0, Just(f64::NAN), Just(2.0)], 0..5), 0..12),
            table in prop::collection::vec(prop::collection::vec(0u64..5, 0..4), 0..8),
            wins in 0u64..200, losses in 0u64..200,
        ) {
            for level in [Level::Nominal, Level::Ordinal, Level::Interval] {
                prop_assert!(krippendorff_alpha(&units, level).is_none_or(f64::is_finite));
            }
            prop_assert!(cohens_kappa(&table).is_none_or(f64::is_finite));
            prop_assert!(fleiss_kappa(&table).kappa.is_none_or(f64::is_finite));
            let p = sign_test(wins, losses);
            prop_assert!((0.0..=1.0).contains(&p));
            let r = rate(wins, wins + losses, 0.95);
            prop_assert!(r.low <= r.high && r.low >= 0.0 && r.high <= 1.0);
            prop_assert!(judgements_needed(wins, losses, 0.05).is_none_or(|n| n < 1_000_000_000));
        }
    }
}
