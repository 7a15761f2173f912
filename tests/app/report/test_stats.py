"""The agreement statistics against published and hand-worked examples (the arithmetic is shown)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from app.report.stats import cohen_kappa, contingency, spearman_rho


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
