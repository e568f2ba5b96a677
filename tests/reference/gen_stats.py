#!/usr/bin/env python3
"""Reference values for Loupe's statistics (src/eval/stats.rs and src/eval/verdicts.rs).

Computes every expected number with an independent, widely used implementation and
writes tests/reference/stats_fixtures.json, which tests/stats_reference.rs reads. The
JSON is checked in, so the Rust tests need no Python; rerun this script only when a
dataset or the definition of a statistic changes:

    python3 -m venv .loupe/pyenv
    .loupe/pyenv/bin/pip install numpy scipy statsmodels krippendorff
    .loupe/pyenv/bin/python tests/reference/gen_stats.py

Sources: scipy.stats.binomtest (sign test), statsmodels proportion_confint(method="wilson"),
statsmodels cohens_kappa / fleiss_kappa / multipletests(method="holm"), the `krippendorff`
package (alpha), numpy.percentile (linear), scipy.stats.bootstrap (percentile). The
Bradley-Terry-Davidson likelihood is written out below in its original strength form and
maximised with scipy.optimize, independently of the Newton iteration in Rust.
"""

import importlib.metadata
import json
import math
import random
from collections import defaultdict
from pathlib import Path

import krippendorff
import numpy as np
import scipy
import statsmodels
from scipy import optimize, stats
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

OUT = Path(__file__).with_name("stats_fixtures.json")


def none_if_nan(x):
    x = float(x)
    return None if math.isnan(x) else x


# --- rates, percentiles, cost ------------------------------------------------------

def wilson_cases():
    cases = [(0, 10, 0.95), (7, 10, 0.95), (10, 10, 0.95), (1, 1, 0.95), (523, 1000, 0.95),
             (3, 40, 0.90), (12.5, 31, 0.95), (50, 200, 0.99), (99_999, 100_000, 0.95)]
    out = []
    for successes, trials, confidence in cases:
        low, high = proportion_confint(successes, trials, alpha=1 - confidence, method="wilson")
        out.append(dict(successes=successes, trials=trials, confidence=confidence,
                        low=float(low), high=float(high)))
    return out


def z_cases():
    return [dict(confidence=c, z=float(stats.norm.isf((1 - c) / 2)))
            for c in (0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 0.999999)]


def percentile_cases():
    samples = [
        [120.0],
        [3.0, 1.0, 2.0],
        [812.0, 95.5, 430.25, 1200.0, 77.0, 640.0, 2210.5, 389.0, 151.0, 999.0, 45.0],
        [float(x) for x in range(1, 101)],
        [5.5] * 7 + [1e6],
    ]
    return [dict(values=v, p50=float(np.percentile(v, 50)), p95=float(np.percentile(v, 95)),
                 p99=float(np.percentile(v, 99))) for v in samples]


def cost_cases():
    costs = [0.00042, 0.0013, 0.00009, 0.0021, 0.00077]
    return [dict(costs=costs, total=float(np.sum(costs)), per_1k=float(np.sum(costs) / len(costs) * 1000))]


# --- tests --------------------------------------------------------------------------

def sign_test_cases():
    pairs = [(0, 1), (1, 0), (5, 5), (6, 4), (9, 1), (10, 0), (0, 10), (13, 7), (60, 40), (3, 30),
             (520, 480), (5_300, 4_700), (50_600, 49_400), (50_001, 49_999), (1_000, 2_000)]
    return [dict(wins=w, losses=l, p=float(stats.binomtest(w, w + l, 0.5).pvalue)) for w, l in pairs]


def holm_cases():
    lists = [[0.01], [0.01, 0.04, 0.03, 0.005], [0.5, 0.5, 0.5], [0.001, 0.2, 0.9, 0.04, 0.012, 0.7],
             [1.0, 0.0, 0.3]]
    return [dict(p=p, adjusted=[float(x) for x in multipletests(p, method="holm")[1]]) for p in lists]


def judgements_needed_cases():
    """Linear search: the first total n >= observed with binomtest(round(rate n), n) < alpha."""
    out = []
    for wins, losses, alpha in [(7, 3, 0.05), (3, 0, 0.05), (10, 0, 0.05), (30, 20, 0.05),
                                (55, 45, 0.05), (20, 10, 0.01), (4, 6, 0.05), (52, 48, 0.05)]:
        observed = wins + losses
        rate = wins / observed
        n = observed
        while True:
            k = math.floor(rate * n + 0.5)  # Rust's f64::round: halves away from zero
            if stats.binomtest(k, n, 0.5).pvalue < alpha:
                break
            n += 1
        out.append(dict(wins=wins, losses=losses, alpha=alpha, needed=n - observed))
    return out


# --- agreement ----------------------------------------------------------------------

def cohen_cases():
    tables = [
        [[20, 5], [10, 15]],
        [[12, 0, 0], [0, 9, 0], [0, 0, 4]],
        [[5, 3, 1, 0], [2, 8, 1, 1], [0, 2, 6, 1], [1, 0, 1, 3]],
        [[0, 7], [8, 0]],
    ]
    return [dict(table=t, kappa=float(cohens_kappa(np.array(t)).kappa)) for t in tables]


def fleiss_cases():
    # Fleiss (1971)'s own example is too big to inline; these cover perfect, chance and mixed.
    tables = [
        [[3, 0, 0], [0, 3, 0], [0, 0, 3], [3, 0, 0]],
        [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
         [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]],
        [[2, 1, 0, 1], [1, 1, 1, 1], [4, 0, 0, 0], [0, 2, 2, 0], [1, 0, 3, 0]],
    ]
    out = [dict(table=t, kappa=float(fleiss_kappa(np.array(t), method="fleiss")),
                items=len(t), raters_per_item=int(sum(t[0]))) for t in tables]
    # Variable numbers of raters: Loupe keeps the items rated by the modal count (here 3).
    ragged = [[3, 0, 0], [1, 2, 0], [0, 1, 1], [2, 0, 1], [0, 0, 3], [1, 1, 0, 0], [4, 0, 0], [1, 1, 1], [0, 1, 0]]
    width = max(len(r) for r in ragged)
    padded = [r + [0] * (width - len(r)) for r in ragged]
    modal = [r for r in padded if sum(r) == 3]
    out.append(dict(table=ragged, kappa=float(fleiss_kappa(np.array(modal), method="fleiss")),
                    items=len(modal), raters_per_item=3))
    return out


def krippendorff_cases():
    nan = float("nan")
    datasets = [
        # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4-coder example.
        [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]],
        # The `krippendorff` package's docstring example (3 coders, many missing).
        [[nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
         [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
         [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4]],
        # Rubric-like 1-5 scores from three raters, with gaps and uneven use of the scale.
        [[4, 5, 3, 4, 2, nan, 5, 4, 3, 1],
         [4, 4, 3, 5, 2, 3, 5, nan, 3, 2],
         [5, 4, 2, 4, nan, 3, 4, 4, 3, 1]],
        # Non-integer values on an uneven scale.
        [[0.5, 1.5, 10.0, 0.5, 2.0],
         [0.5, 2.0, 10.0, 1.5, 2.0]],
        # Many distinct values (over 64, another code path in Rust): 3 raters, 40 units.
        [[round((u * 37 % 101) / 10 + r * 0.3 + (u % 3) * 0.01, 2) if (u + r) % 7 else nan for u in range(40)]
         for r in range(3)],
    ]
    out = []
    for data in datasets:
        entry = dict(reliability_data=[[None if math.isnan(v) else v for v in row] for row in data])
        for level in ("nominal", "ordinal", "interval"):
            entry[level] = float(krippendorff.alpha(reliability_data=np.array(data, dtype=float),
                                                    level_of_measurement=level))
        out.append(entry)
    return out


# --- Bradley-Terry with ties (Davidson 1970) ----------------------------------------

def davidson_fit(k, pairs, prior_precision):
    """Penalised MLE of Davidson's model.

    P(i beats j) = pi_i / D, P(tie) = nu sqrt(pi_i pi_j) / D, D = pi_i + pi_j + nu sqrt(pi_i pi_j).
    Parameters: theta_1..theta_{k-1} with theta_0 = 0 (a different gauge from the Rust
    code, which centres theta), and log nu when there are ties. The prior
    -precision/2 * sum((theta - mean theta)^2) acts on centred log-strengths.
    """
    has_ties = sum(t for *_, t in pairs) > 0

    def unpack(params):
        theta = np.concatenate([[0.0], params[: k - 1]])
        log_nu = params[k - 1] if has_ties else None
        return theta, log_nu

    def neg_objective(params):
        theta, log_nu = unpack(params)
        nu = math.exp(log_nu) if has_ties else 0.0
        ll = 0.0
        grad_theta = np.zeros(k)
        grad_log_nu = 0.0
        for i, j, wi, wj, t in pairs:
            pi, pj = math.exp(theta[i]), math.exp(theta[j])
            tie_mass = nu * math.sqrt(pi * pj)
            d = pi + pj + tie_mass
            p_i, p_j, p_t = pi / d, pj / d, tie_mass / d
            n = wi + wj + t
            ll += wi * math.log(p_i) + wj * math.log(p_j) + (t * math.log(p_t) if t else 0.0)
            # d ln D / d theta_i = p_i + p_t / 2
            grad_theta[i] += wi + t / 2 - n * (p_i + p_t / 2)
            grad_theta[j] += wj + t / 2 - n * (p_j + p_t / 2)
            grad_log_nu += t - n * p_t
        centred = theta - theta.mean()
        penalty = 0.5 * prior_precision * float(centred @ centred)
        grad_theta -= prior_precision * centred  # d/dtheta of the penalty on centred theta
        grad = grad_theta[1:]
        if has_ties:
            grad = np.append(grad, grad_log_nu)
        return -(ll - penalty), -grad

    x0 = np.zeros(k - 1 + (1 if has_ties else 0))
    assert optimize.check_grad(lambda p: neg_objective(p)[0], lambda p: neg_objective(p)[1], x0 + 0.1) < 1e-4
    result = optimize.minimize(neg_objective, x0, jac=True, method="BFGS",
                               options=dict(gtol=1e-11, maxiter=10_000))
    # BFGS may stop on "precision loss" a hair short; polish with Newton on the gradient.
    # Its own success flag is pessimistic at this tolerance, so judge by the gradient.
    polished = optimize.root(lambda p: neg_objective(p)[1], result.x, method="hybr", tol=1e-14)

    def gradient_norm(p):
        return float(np.max(np.abs(neg_objective(p)[1])))

    params = min([result.x, polished.x], key=gradient_norm)
    assert gradient_norm(params) < 1e-9, f"reference fit did not converge: {k} {pairs} {prior_precision}"
    theta, log_nu = unpack(params)
    theta = theta - theta.mean()
    log_likelihood = -neg_objective(params)[0] + 0.5 * prior_precision * float(theta @ theta)
    return dict(log_strengths=[float(x) for x in theta],
                tie_parameter=float(math.exp(log_nu)) if has_ties else 0.0,
                log_likelihood=float(log_likelihood))


def bradley_terry_cases():
    datasets = [
        # (variants, [(i, j, wins of i, wins of j, ties)])
        (2, [(0, 1, 30, 20, 0)]),
        (3, [(0, 1, 12, 8, 5), (1, 2, 15, 9, 6), (0, 2, 20, 4, 3)]),
        (4, [(0, 1, 40, 35, 10), (0, 2, 22, 30, 8), (0, 3, 50, 12, 9), (1, 2, 18, 25, 14),
             (1, 3, 41, 19, 7), (2, 3, 44, 15, 11)]),
        # Sparse: a chain 0-1-2-3-4 with one long edge.
        (5, [(0, 1, 9, 6, 2), (1, 2, 7, 7, 4), (2, 3, 3, 10, 1), (3, 4, 8, 5, 0), (0, 4, 6, 6, 3)]),
        # Variant 2 never loses: the plain MLE is infinite, the prior keeps it finite.
        (3, [(0, 1, 10, 7, 2), (0, 2, 0, 9, 0), (1, 2, 0, 6, 0)]),
    ]
    out = []
    for k, pairs in datasets:
        for precision in (0.0, 0.01, 1.0):
            never_loses = any(all(not ((a == v and wb) or (b == v and wa)) for a, b, wa, wb, _ in pairs)
                              for v in range(k))
            if precision == 0.0 and never_loses:
                continue
            fit = davidson_fit(k, pairs, precision)
            out.append(dict(variants=k, pairs=[list(p) for p in pairs], prior_precision=precision, **fit))
    return out


# --- bootstrap ----------------------------------------------------------------------

def paired_bootstrap_cases():
    diffs = [
        [1, 0, 2, -1, 1, 1, 0, 3, -2, 1, 0, 1, 2, 1, -1, 0, 1, 2, 0, 1],
        [0.12, -0.05, 0.3, 0.07, 0.0, 0.21, -0.11, 0.15, 0.09, 0.02, 0.18, -0.02, 0.25, 0.04,
         0.11, 0.06, -0.08, 0.14, 0.2, 0.01, 0.03, 0.16, 0.1, -0.04, 0.08, 0.13, 0.05, 0.22, -0.01, 0.09],
    ]
    out = []
    for d in diffs:
        res = stats.bootstrap((np.array(d, dtype=float),), np.mean, n_resamples=50_000, confidence_level=0.95,
                              method="percentile", rng=np.random.default_rng(20261128))
        out.append(dict(differences=d, confidence=0.95, estimate=float(np.mean(d)),
                        low=float(res.confidence_interval.low), high=float(res.confidence_interval.high),
                        standard_error=float(np.std(d, ddof=1) / math.sqrt(len(d)))))
    return out


# --- the whole `loupe stats` analysis on one verdict file ----------------------------

CATEGORIES = ["first", "second", "tie", "both_bad"]


def verdict_dataset():
    """60-odd verdicts: 3 variants, 4 raters, 10 items, rubric scores on some, with the
    a/b placement randomised per verdict and a deliberate lean towards side a."""
    rng = random.Random(20261128)
    variants = ["prompt", "prompt+rag", "fine-tuned"]
    quality = {"prompt": 0.0, "prompt+rag": 0.6, "fine-tuned": 0.9}
    raters = ["ana", "ben", "cy", "dee"]
    lines = []
    for item in range(1, 11):
        for x, y in [(0, 1), (1, 2), (0, 2)]:
            for rater in rng.sample(raters, rng.choice([1, 2, 2, 3])):
                a, b = (variants[x], variants[y]) if rng.random() < 0.5 else (variants[y], variants[x])
                edge = quality[a] - quality[b] + 0.3 + rng.gauss(0, 0.8)  # +0.3: position bias towards a
                roll = rng.random()
                if roll < 0.12:
                    winner = "tie"
                elif roll < 0.18:
                    winner = "both_bad"
                else:
                    winner = "a" if edge > 0 else "b"
                verdict = {"rater": rater, "item": f"case-{item}", "a": a, "b": b, "winner": winner}
                if rng.random() < 0.6:
                    def score(v):
                        return max(1, min(5, round(3 + quality[v] * 1.5 + rng.gauss(0, 0.7))))
                    verdict["scores"] = {
                        "a": {"clarity": score(a), "accuracy": score(a)},
                        "b": {"clarity": score(b), "accuracy": score(b)},
                    }
                lines.append(json.dumps(verdict))
    # One rater revises a verdict: agreement uses the later one, tallies count both.
    lines.append(json.dumps({"rater": "ana", "item": "case-1", "a": "prompt", "b": "prompt+rag", "winner": "b"}))
    return lines


def analyse_case(alpha=0.05):
    lines = verdict_dataset()
    verdicts = [json.loads(line) for line in lines]
    confidence = 1 - alpha
    variants = sorted({v["a"] for v in verdicts} | {v["b"] for v in verdicts})

    # Per unordered pair, named in sorted order; "first" is the smaller name.
    tallies = defaultdict(lambda: dict(first_wins=0, second_wins=0, ties=0, both_bad=0))
    for v in verdicts:
        first, second = sorted([v["a"], v["b"]])
        t = tallies[(first, second)]
        if v["winner"] in ("a", "b"):
            winner = v[v["winner"]]
            t["first_wins" if winner == first else "second_wins"] += 1
        else:
            t["ties" if v["winner"] == "tie" else "both_bad"] += 1
    pairs = []
    for (first, second), t in sorted(tallies.items()):
        decisive = t["first_wins"] + t["second_wins"]
        low, high = proportion_confint(t["first_wins"], decisive, alpha=alpha, method="wilson")
        p = stats.binomtest(t["first_wins"], decisive, 0.5).pvalue
        pairs.append(dict(first=first, second=second, **t, win_rate=t["first_wins"] / decisive,
                          win_rate_low=float(low), win_rate_high=float(high), p=float(p)))
    holm = multipletests([p["p"] for p in pairs], method="holm")[1]
    for pair, adjusted in zip(pairs, holm):
        pair["holm_p"] = float(adjusted)

    # Bradley-Terry: both_bad counts as a tie (neither side preferred).
    index = {name: i for i, name in enumerate(variants)}
    bt_pairs = [(index[p["first"]], index[p["second"]], p["first_wins"], p["second_wins"], p["ties"] + p["both_bad"])
                for p in pairs]
    fit = davidson_fit(len(variants), bt_pairs, 0.01)
    ranking = dict(log_strengths=dict(zip(variants, fit["log_strengths"])), tie_parameter=fit["tie_parameter"])

    # Position bias: of verdicts with a winner, the share won by whichever was shown as a.
    a_wins = sum(v["winner"] == "a" for v in verdicts)
    decisive = sum(v["winner"] in ("a", "b") for v in verdicts)
    low, high = proportion_confint(a_wins, decisive, alpha=alpha, method="wilson")
    position = dict(a_wins=a_wins, decisive=decisive, rate=a_wins / decisive, low=float(low), high=float(high),
                    p=float(stats.binomtest(a_wins, decisive, 0.5).pvalue))

    # Agreement: a unit is (item, unordered pair); a rater's category is named by
    # variant (first/second in sorted order), never by side; a later verdict by the
    # same rater on the same unit replaces the earlier one.
    units = defaultdict(dict)
    for v in verdicts:
        first, second = sorted([v["a"], v["b"]])
        if v["winner"] in ("a", "b"):
            category = "first" if v[v["winner"]] == first else "second"
        else:
            category = v["winner"]
        units[(v["item"], first, second)][v["rater"]] = CATEGORIES.index(category)
    raters = sorted({v["rater"] for v in verdicts})
    cohen = []
    for x in range(len(raters)):
        for y in range(x + 1, len(raters)):
            r1, r2 = raters[x], raters[y]
            shared = [(u[r1], u[r2]) for u in units.values() if r1 in u and r2 in u]
            if not shared:
                continue
            table = np.zeros((4, 4))
            for c1, c2 in shared:
                table[c1, c2] += 1
            cohen.append(dict(rater_1=r1, rater_2=r2, shared_units=len(shared),
                              kappa=none_if_nan(cohens_kappa(table).kappa)))
    multi = [u for u in units.values() if len(u) >= 2]
    counts = [len(u) for u in multi]
    modal = max(sorted(set(counts)), key=lambda c: (counts.count(c), c))
    fleiss_rows = [[sum(1 for c in u.values() if c == k) for k in range(4)] for u in multi if len(u) == modal]
    fleiss = dict(kappa=float(fleiss_kappa(np.array(fleiss_rows), method="fleiss")), items=len(fleiss_rows),
                  raters_per_item=modal)
    unit_keys = sorted(units)
    reliability = np.array([[units[key].get(r, np.nan) for key in unit_keys] for r in raters], dtype=float)
    alpha_nominal = float(krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal"))

    # Rubric: a unit is (item, variant, dimension); later scores replace earlier ones.
    scores = defaultdict(dict)
    for v in verdicts:
        for side in ("a", "b"):
            for dimension, value in v.get("scores", {}).get(side, {}).items():
                scores[(dimension, v["item"], v[side])][v["rater"]] = value
    rubric = {}
    for dimension in sorted({key[0] for key in scores}):
        keys = sorted(key for key in scores if key[0] == dimension)
        data = np.array([[scores[key].get(r, np.nan) for key in keys] for r in raters], dtype=float)
        rubric[dimension] = float(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"))

    return dict(jsonl=lines, alpha=alpha, confidence=confidence, variants=variants, pairs=pairs,
                ranking=ranking, position_bias=position, cohen=cohen, fleiss=fleiss,
                krippendorff_nominal=alpha_nominal, rubric_ordinal=rubric)


def main():
    fixtures = dict(
        generated_by="tests/reference/gen_stats.py",
        versions=dict(numpy=np.__version__, scipy=scipy.__version__, statsmodels=statsmodels.__version__,
                      krippendorff=importlib.metadata.version("krippendorff")),
        z=z_cases(),
        wilson=wilson_cases(),
        percentiles=percentile_cases(),
        cost=cost_cases(),
        sign_test=sign_test_cases(),
        holm=holm_cases(),
        judgements_needed=judgements_needed_cases(),
        cohen=cohen_cases(),
        fleiss=fleiss_cases(),
        krippendorff=krippendorff_cases(),
        bradley_terry=bradley_terry_cases(),
        paired_bootstrap=paired_bootstrap_cases(),
        analyse=analyse_case(),
    )
    OUT.write_text(json.dumps(fixtures, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
