"""Agreement statistics over contingency tables (numpy).

Everything is computed from a table of counts (rows: judge A's value, columns: judge B's), never from
per-record arrays: a day of a million paired records is a 2x2, 5x5 or 10x10 table, so memory does not
grow with the day. The definitions are the textbook ones:

* Cohen's kappa: ``1 - sum(w * O) / sum(w * E)`` with ``O`` the observed and ``E`` the chance-expected
  proportions (outer product of the marginals) and ``w`` the disagreement weights: ``0`` on the diagonal
  and ``1`` elsewhere (plain kappa, Cohen 1960), or ``(v_i - v_j)^2`` (quadratic weighted kappa, Cohen
  1968). Scaling ``w`` by a constant leaves kappa unchanged, so the usual ``/(k-1)^2`` is left out and
  the weights use the values' real distances.
* Spearman's rho: the Pearson correlation of the two judges' mid-ranks (ties get the mean of the ranks
  they span), with each cell of the table weighing its count.

Both are undefined when there is nothing to compare (no pairs, or no variance: every record got the same
value from a judge); they are then ``None``, which the report shows as "n/a" rather than a made-up 0 or 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["cohen_kappa", "contingency", "spearman_rho"]


def contingency(
    pairs: Counter[tuple[str, str]] | Counter[tuple[int, int]] | Counter[tuple[bool, bool]],
    values: Sequence[object],
) -> NDArray[np.int64]:
    """The table of ``pairs`` counts over ``values`` (rows: first judge, columns: second)."""
    position = {value: i for i, value in enumerate(values)}
    table = np.zeros((len(values), len(values)), dtype=np.int64)
    for (a, b), count in pairs.items():
        table[position[a], position[b]] += count
    return table


def cohen_kappa(
    table: NDArray[np.int64],
    weights: Literal["none", "quadratic"] = "none",
    values: Sequence[float] | None = None,
) -> float | None:
    """Cohen's kappa of a square contingency table; ``quadratic`` weighs a disagreement by the squared
    distance of the two values (``values``, default 0..k-1). None when undefined (see the module doc)."""
    counts = np.asarray(table, dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return None
    k = counts.shape[0]
    if weights == "quadratic":
        v = np.asarray(values if values is not None else range(k), dtype=np.float64)
        w = (v[:, None] - v[None, :]) ** 2
    else:
        w = 1.0 - np.eye(k)
    observed = counts / total
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    expected_disagreement = float((w * expected).sum())
    if expected_disagreement == 0.0:
        return None
    return 1.0 - float((w * observed).sum()) / expected_disagreement


def _mid_ranks(marginal: NDArray[np.float64]) -> NDArray[np.float64]:
    """The mid-rank (1-based) of each value given how many records have each value, in value order."""
    before = np.cumsum(marginal) - marginal
    return before + (marginal + 1.0) / 2.0


def spearman_rho(table: NDArray[np.int64]) -> float | None:
    """Spearman's rho of a contingency table whose rows and columns are in ascending value order."""
    counts = np.asarray(table, dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return None
    rank_a = _mid_ranks(counts.sum(axis=1))
    rank_b = _mid_ranks(counts.sum(axis=0))
    mean = (total + 1.0) / 2.0  # the mean of the ranks 1..n, ties or not
    da = rank_a - mean
    db = rank_b - mean
    covariance = float((counts * np.outer(da, db)).sum())
    var_a = float((counts.sum(axis=1) * da**2).sum())
    var_b = float((counts.sum(axis=0) * db**2).sum())
    if var_a == 0.0 or var_b == 0.0:
        return None
    return covariance / float(np.sqrt(var_a * var_b))
