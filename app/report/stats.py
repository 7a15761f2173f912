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

For agreement with people (``app.report.calibration``), two more:

* a bootstrap confidence interval of kappa (percentile method, Efron and Tibshirani 1993, ch. 13): the
  labelled items are drawn again with replacement, ``rounds`` times, from a seeded generator, and kappa is
  computed on each redrawn table. Items, not pairs, are what is drawn: an item labelled by two people
  contributes both of its pairs or neither, so a doubly-labelled set does not look larger than it is. The
  redrawn tables are one matrix product (draw counts per item times each item's own small table), and the
  fields of one set of items share their draws, so 1,000 rounds over a thousand items take milliseconds;
* precision and recall of each value, from the same table (rows: the reference, columns: the judge).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BOOTSTRAP_ROUNDS",
    "bootstrap_draws",
    "bootstrap_kappa_interval",
    "cohen_kappa",
    "contingency",
    "disagreement_weights",
    "interval_of",
    "kappas",
    "precision_recall",
    "redrawn_tables",
    "spearman_rho",
]

Weights = Literal["none", "quadratic"]
BOOTSTRAP_ROUNDS = 1000
# A bootstrap interval is given only when kappa is defined on at least this share of the redrawn tables
# (a rare value can vanish from a redraw, and kappa with it); otherwise the interval would describe only
# the lucky draws.
MIN_DEFINED_SHARE = 0.9


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


def disagreement_weights(
    k: int, weights: Weights = "none", values: Sequence[float] | None = None
) -> NDArray[np.float64]:
    """``0`` on the diagonal and ``1`` elsewhere (plain kappa), or ``(v_i - v_j)^2`` (quadratic) for the
    values ``values`` (default 0..k-1)."""
    if weights == "quadratic":
        v = np.asarray(values if values is not None else range(k), dtype=np.float64)
        return (v[:, None] - v[None, :]) ** 2
    return 1.0 - np.eye(k)


def kappas(tables: NDArray[np.floating] | NDArray[np.integer], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Kappa of each ``k x k`` table in ``tables`` (shape ``(..., k, k)``) with disagreement weights ``w``;
    NaN where undefined (an empty table, or no expected disagreement)."""
    counts = np.asarray(tables, dtype=np.float64)
    rows, columns = counts.sum(axis=-1), counts.sum(axis=-2)
    total = rows.sum(axis=-1)
    # sum(w * E) with E the outer product of the marginals is rows . w . columns: no k x k array per table.
    expected_disagreement = np.einsum("...i,ij,...j->...", rows, w, columns)
    observed_disagreement = np.einsum("...ij,ij->...", counts, w) * total
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 1.0 - observed_disagreement / expected_disagreement
    return np.where((total > 0) & (expected_disagreement > 0), out, np.nan)


def cohen_kappa(
    table: NDArray[np.int64],
    weights: Weights = "none",
    values: Sequence[float] | None = None,
) -> float | None:
    """Cohen's kappa of a square contingency table; ``quadratic`` weighs a disagreement by the squared
    distance of the two values (``values``, default 0..k-1). None when undefined (see the module doc)."""
    counts = np.asarray(table, dtype=np.float64)
    value = float(kappas(counts, disagreement_weights(counts.shape[0], weights, values)))
    return None if np.isnan(value) else value


def bootstrap_draws(m: int, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> NDArray[np.float32]:
    """How often each of ``m`` items is drawn in each of ``rounds`` redraws with replacement (shape
    ``(m, rounds)``: an item's counts are contiguous, so the items of one table are gathered by rows),
    from a generator seeded with ``seed``: the same arguments, the same draws. Items that have the same
    ``m`` in one computation can share them. Made a slice of rounds at a time, in float32 (exact for any
    count below 2**24): 2,000 rounds of 2,000 items hold 16 MB, and never several copies of it."""
    rng = np.random.default_rng(seed)
    counts = np.empty((m, rounds), dtype=np.float32)
    step = max(1, min(rounds, 1_000_000 // max(m, 1)))
    for start in range(0, rounds, step):
        size = min(step, rounds - start)
        drawn = rng.integers(0, m, size=(size, m))
        drawn += (np.arange(size) * m)[:, None]
        counts[:, start : start + size] = np.bincount(drawn.ravel(), minlength=size * m).reshape(size, m).T
    return counts


def bootstrap_kappa_interval(
    units: NDArray[np.int64],
    weights: Weights = "none",
    values: Sequence[float] | None = None,
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
    level: float = 0.95,
    draws: NDArray[np.float32] | None = None,
) -> tuple[float, float] | None:
    """The percentile bootstrap interval of kappa at ``level``. ``units`` has one ``k x k`` table per item
    (shape ``(m, k, k)``, usually a single pair each; an item labelled twice holds both pairs); their sum
    is the table kappa is computed on. The same ``seed`` gives the same interval (``draws``, from
    ``bootstrap_draws(m, rounds, seed)``, may be passed in to share them). None when kappa is undefined
    on too many redrawn tables, or there are fewer than two items."""
    tables = redrawn_tables(units, rounds=rounds, seed=seed, draws=draws)
    return None if tables is None else interval_of(tables, weights, values, level=level)


def redrawn_tables(
    units: NDArray[np.int64],
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
    draws: NDArray[np.float32] | None = None,
) -> NDArray[np.float64] | None:
    """The ``rounds`` redrawn tables of ``units`` (shape ``(rounds, k, k)``), None with fewer than two
    items: one redraw serves every kappa of the same items (plain and weighted)."""
    cells = np.asarray(units, dtype=np.float64)
    m, k = cells.shape[0], cells.shape[-1]
    if m < 2:
        return None
    if draws is None:
        draws = bootstrap_draws(m, rounds, seed)
    if draws.shape != (m, rounds):
        raise ValueError(f"draws of shape {draws.shape}, expected {(m, rounds)}")
    return _redrawn_tables(cells.reshape(m, k * k), draws).reshape(rounds, k, k)


def interval_of(
    tables: NDArray[np.float64],
    weights: Weights = "none",
    values: Sequence[float] | None = None,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """The percentile interval of kappa over redrawn ``tables`` (see ``bootstrap_kappa_interval``)."""
    rounds, k = tables.shape[0], tables.shape[-1]
    replicates = kappas(tables, disagreement_weights(k, weights, values))
    defined = np.sort(replicates[~np.isnan(replicates)])
    if defined.size < MIN_DEFINED_SHARE * rounds:
        return None
    tail = (1.0 - level) / 2
    return _quantile(defined, tail), _quantile(defined, 1.0 - tail)


def _redrawn_tables(flat: NDArray[np.float64], draws: NDArray[np.float32]) -> NDArray[np.float64]:
    """``draws.T @ flat`` (each redraw's table, flattened), summing the drawn items' few non-empty cells:
    an item's table holds one or two pairs, so this is a gather of the items' rows of draws and one
    addition per cell, where a dense matrix product would start BLAS threads for a few million
    multiplications by zero."""
    units, cells = np.nonzero(flat)
    order = np.argsort(cells, kind="stable")
    units, cells = units[order], cells[order]
    present, starts = np.unique(cells, return_index=True)
    counts = flat[units, cells]
    rows = draws[units] if bool((counts == 1.0).all()) else draws[units] * counts[:, None]
    tables = np.zeros((draws.shape[1], flat.shape[1]))
    tables[:, present] = np.add.reduceat(rows, starts, axis=0, dtype=np.float64).T
    return tables


def _quantile(ordered: NDArray[np.float64], q: float) -> float:
    """numpy's default ("linear") quantile of already sorted values."""
    position = q * (ordered.size - 1)
    below = int(np.floor(position))
    above = min(below + 1, ordered.size - 1)
    return float(ordered[below] + (ordered[above] - ordered[below]) * (position - below))


def precision_recall(table: NDArray[np.int64]) -> list[tuple[float | None, float | None]]:
    """(precision, recall) of each value of a table whose rows are the reference and columns the judge:
    precision = agreed / times the judge gave the value, recall = agreed / times the reference has it;
    None when that count is zero."""
    counts = np.asarray(table, dtype=np.float64)
    agreed = np.diag(counts)
    given, held = counts.sum(axis=0), counts.sum(axis=1)
    return [
        (None if g == 0 else float(a / g), None if h == 0 else float(a / h))
        for a, g, h in zip(agreed, given, held, strict=True)
    ]


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
