"""The agreement statistics against published and hand-worked examples (the arithmetic is shown): kappa
and weighted kappa (Wikipedia's worked examples; Cohen 1968), their bootstrap intervals against Fleiss, Cohen
& Everitt's (1969) large-sample variance, the quadratic weighted kappa against Fleiss & Cohen's (1973)
moment identity, Spearman's rho, precision and recall."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from app.report.stats import (
    bootstrap_kappa_interval,
    cohen_kappa,
    contingency,
    precision_recall,
    spearman_rho,
)


def test_kappa_of_the_textbook_two_by_two():
    # Wikipedia, "Cohen's kappa", worked example: 50 grant proposals, both yes 20, A yes / B no 5,
    # A no / B yes 10, both no 15. p_o = 35/50 = 0.7; A says yes 25/50, B 30/50:
    # p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    assert cohen_kappa(np.array([[20, 5], [10, 15]])) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("table", "kappa"),
    [
        # Same 60 % observed agreement, different marginals (Wikipedia's two further examples):
        # [[45, 15], [25, 15]]: p_e = 0.6*0.7 + 0.4*0.3 = 0.54, kappa = 0.06/0.46 = 0.1304
        ([[45, 15], [25, 15]], 0.06 / 0.46),
        # [[25, 35], [5, 35]]: p_e = 0.6*0.3 + 0.4*0.7 = 0.46, kappa = 0.14/0.54 = 0.2593
        ([[25, 35], [5, 35]], 0.14 / 0.54),
    ],
)
def test_kappa_depends_on_the_marginals_not_only_on_agreement(table, kappa):
    assert cohen_kappa(np.array(table)) == pytest.approx(kappa)


def test_quadratic_weighted_kappa_by_hand():
    # Values 1, 2, 3; rows judge A, columns judge B; n = 10.
    #   A\B  1  2  3        row sums 4, 4, 2   (A)      column sums 3, 5, 2   (B)
    #   1    3  1  0
    #   2    0  3  1        weights (i-j)^2: 0 on the diagonal, 1 one apart, 4 two apart
    #   3    0  1  1
    # observed weighted disagreement: (1 + 1 + 1) * 1 / 10 = 0.3
    # expected: sum w_ij * r_i * c_j / n^2 over off-diagonal cells
    #   one apart: r1c2 + r2c1 + r2c3 + r3c2 = 20 + 12 + 8 + 10 = 50
    #   two apart: (r1c3 + r3c1) * 4 = (8 + 6) * 4 = 56          -> (50 + 56) / 100 = 1.06
    # kappa_w = 1 - 0.3 / 1.06 = 0.716981...
    table = np.array([[3, 1, 0], [0, 3, 1], [0, 1, 1]])
    assert cohen_kappa(table, "quadratic", [1, 2, 3]) == pytest.approx(1 - 0.3 / 1.06)
    # Unweighted, the same table: p_o = 0.7, p_e = (4*3 + 4*5 + 2*2) / 100 = 0.36 -> 0.34/0.64.
    assert cohen_kappa(table) == pytest.approx(0.34 / 0.64)


def test_weighted_kappa_uses_real_distances_and_ignores_the_scale_factor():
    table = np.array([[3, 1, 0], [0, 3, 1], [0, 1, 1]])
    # Scores 2, 4, 6 are the same scale stretched: the constant factor cancels out.
    assert cohen_kappa(table, "quadratic", [2, 4, 6]) == pytest.approx(
        cohen_kappa(table, "quadratic", [1, 2, 3])
    )
    # With two categories the quadratic weights are 0/1: weighted kappa is plain kappa.
    two = np.array([[20, 5], [10, 15]])
    assert cohen_kappa(two, "quadratic", [0, 1]) == pytest.approx(cohen_kappa(two))


def test_kappa_is_one_for_perfect_agreement_and_can_go_negative():
    assert cohen_kappa(np.array([[7, 0], [0, 3]])) == pytest.approx(1.0)
    # Systematic disagreement: p_o = 0, p_e = 0.5 -> -1.
    assert cohen_kappa(np.array([[0, 5], [5, 0]])) == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "table",
    [
        np.zeros((2, 2), dtype=np.int64),  # no pairs at all (an empty day, or one judge only)
        np.array([[10, 0], [0, 0]]),  # both judges gave every record the same value: p_e = 1
    ],
)
def test_kappa_is_undefined_rather_than_invented(table):
    assert cohen_kappa(table) is None
    assert cohen_kappa(table, "quadratic") is None
    assert spearman_rho(table) is None


def test_spearman_of_the_textbook_example():
    # Wikipedia, "Spearman's rank correlation coefficient": IQ against hours of TV per week, ten people,
    # sum of squared rank differences 194, rho = 1 - 6*194 / (10*99) = -29/165 = -0.175757...
    iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110]
    tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17]
    values = sorted(set(iq) | set(tv))
    table = contingency(Counter(zip(iq, tv, strict=True)), values)
    assert spearman_rho(table) == pytest.approx(-29 / 165)


def test_spearman_with_ties_uses_mid_ranks():
    # x = 1, 2, 3, 4, 5 and y = 1, 2, 3, 3, 4: y's mid-ranks 1, 2, 3.5, 3.5, 5.
    # Pearson of (1..5) and (1, 2, 3.5, 3.5, 5): deviations x -2 -1 0 1 2, y -2 -1 .5 .5 2
    # cov = 4 + 1 + 0 + .5 + 4 = 9.5; var_x = 10; var_y = 4 + 1 + .25 + .25 + 4 = 9.5
    # rho = 9.5 / sqrt(10 * 9.5) = sqrt(0.95)
    pairs = Counter({(1, 1): 1, (2, 2): 1, (3, 3): 1, (4, 3): 1, (5, 4): 1})
    table = contingency(pairs, [1, 2, 3, 4, 5])
    assert spearman_rho(table) == pytest.approx(0.95**0.5)


def test_spearman_is_one_for_any_increasing_relation_and_minus_one_for_a_decreasing_one():
    up = contingency(Counter({(1, 2): 3, (2, 5): 2, (3, 9): 1}), list(range(1, 11)))
    down = contingency(Counter({(1, 9): 3, (2, 5): 2, (3, 2): 1}), list(range(1, 11)))
    assert spearman_rho(up) == pytest.approx(1.0)
    assert spearman_rho(down) == pytest.approx(-1.0)


# --- agreement with people: intervals, precision and recall ------------------------------------------------

# Cohen (1968), the worked example Fleiss, Cohen & Everitt (1969) use for their standard errors (also the
# example of R psych's cohen.kappa): proportions over n = 200, rows rater A, columns rater B.
#   0.44 0.07 0.09        row sums 0.60 0.30 0.10
#   0.05 0.20 0.05        column sums 0.50 0.30 0.20
#   0.01 0.03 0.06
COHEN_1968 = np.array([[88, 14, 18], [10, 40, 10], [2, 6, 12]])


def units_of(table: np.ndarray) -> np.ndarray:
    """One single-pair table per item, as calibration hands them to the bootstrap."""
    cells = [(i, j) for i in range(table.shape[0]) for j in range(table.shape[1]) for _ in range(table[i, j])]
    units = np.zeros((len(cells), *table.shape), dtype=np.int64)
    for n, (i, j) in enumerate(cells):
        units[n, i, j] = 1
    return units


def large_sample_interval(table: np.ndarray, weights: np.ndarray) -> tuple[float, float, float]:
    """kappa and its 95 % interval from Fleiss, Cohen & Everitt's (1969) large-sample variance, with
    agreement weights ``weights`` (1 on the diagonal): written out here independently of app.report.stats."""
    n = table.sum()
    p = table / n
    r, c = p.sum(axis=1), p.sum(axis=0)
    po, pe = (weights * p).sum(), (weights * np.outer(r, c)).sum()
    kappa = (po - pe) / (1 - pe)
    wr = (weights * c[None, :]).sum(axis=1)  # mean weight of row i over the columns' marginals
    wc = (weights * r[:, None]).sum(axis=0)
    spread = (p * (weights - (wr[:, None] + wc[None, :]) * (1 - kappa)) ** 2).sum()
    se = np.sqrt((spread - (kappa - pe * (1 - kappa)) ** 2) / (n * (1 - pe) ** 2))
    return kappa, kappa - 1.96 * se, kappa + 1.96 * se


def test_kappa_of_cohens_1968_example():
    # p_o = 0.44 + 0.20 + 0.06 = 0.70; p_e = 0.6*0.5 + 0.3*0.3 + 0.1*0.2 = 0.41;
    # kappa = 0.29 / 0.59 = 0.4915 (0.492 in Fleiss, Cohen & Everitt 1969).
    assert cohen_kappa(COHEN_1968) == pytest.approx(0.29 / 0.59)


@pytest.mark.parametrize("weights", ["none", "quadratic"])
def test_bootstrap_interval_matches_the_large_sample_interval(weights):
    # Unweighted: SE 0.0510, interval [0.392, 0.591]; quadratic (agreement weights 1, 0.75, 0): kappa 0.4545,
    # SE 0.0665, interval [0.324, 0.585]. 2,000 redraws of 200 items land within 0.015 of both ends.
    k = COHEN_1968.shape[0]
    agreement = (
        np.eye(k) if weights == "none" else 1 - np.subtract.outer(range(k), range(k)) ** 2 / (k - 1) ** 2
    )
    kappa, low, high = large_sample_interval(COHEN_1968, agreement)
    assert cohen_kappa(COHEN_1968, weights) == pytest.approx(kappa)
    interval = bootstrap_kappa_interval(units_of(COHEN_1968), weights)
    assert interval is not None
    assert interval[0] == pytest.approx(low, abs=0.015)
    assert interval[1] == pytest.approx(high, abs=0.015)


def test_quadratic_weighted_kappa_is_the_moment_formula():
    # Quadratic weighted kappa equals 2 cov(x, y) / (var x + var y + (mean x - mean y)^2) with population
    # moments (Fleiss & Cohen 1973): checked on scores of a 1-10 scale.
    rng = np.random.default_rng(5)
    x = rng.integers(1, 11, 400)
    y = np.clip(x + rng.integers(-2, 3, 400), 1, 10)
    values = list(range(1, 11))
    table = contingency(Counter(zip(x.tolist(), y.tolist(), strict=True)), values)
    moments = 2 * np.cov(x, y, bias=True)[0, 1] / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)
    assert cohen_kappa(table, "quadratic", values) == pytest.approx(moments)


def test_bootstrap_is_reproducible_for_a_seed_and_draws_items_not_pairs():
    units = units_of(COHEN_1968)
    assert bootstrap_kappa_interval(units, seed=3) == bootstrap_kappa_interval(units, seed=3)
    assert bootstrap_kappa_interval(units, seed=3) != bootstrap_kappa_interval(units, seed=4)
    # The same 200 pairs as 100 items of two pairs each: the same kappa from half the evidence, so a wider
    # interval (drawing pairs would give the same width as above).
    paired = units[0::2] + units[1::2]
    narrow, wide = bootstrap_kappa_interval(units), bootstrap_kappa_interval(paired)
    assert narrow is not None
    assert wide is not None
    assert wide[1] - wide[0] > 1.2 * (narrow[1] - narrow[0])


def test_no_interval_when_kappa_is_mostly_undefined_on_the_redraws():
    # One 'unsafe' among 30: most redraws lose it, and kappa with it.
    table = np.array([[29, 0], [0, 1]])
    assert bootstrap_kappa_interval(units_of(table)) is None
    assert bootstrap_kappa_interval(units_of(np.array([[1, 0], [0, 0]]))) is None  # a single item


def test_precision_and_recall_of_each_value():
    # Rows: people, columns: judge. unsafe: people 25 (20 caught), judge 30 (20 right):
    # precision 20/30, recall 20/25; safe: precision 15/20, recall 15/25.
    table = np.array([[15, 10], [5, 20]])
    (safe_p, safe_r), (unsafe_p, unsafe_r) = precision_recall(table)
    assert (unsafe_p, unsafe_r) == (pytest.approx(20 / 30), pytest.approx(20 / 25))
    assert (safe_p, safe_r) == (pytest.approx(15 / 20), pytest.approx(15 / 25))
    assert precision_recall(np.array([[4, 0], [0, 0]]))[1] == (None, None)
