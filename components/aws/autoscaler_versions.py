"""Which cluster-autoscaler to run on which Kubernetes minor version.

The autoscaler's own rule: run the release whose minor matches the cluster's (it is built and tested
against that minor's scheduler). Each row pins the last ``cluster-autoscaler`` chart of
kubernetes.github.io/autoscaler whose ``appVersion`` has that minor (from the chart repository's
``index.yaml``) and the newest patch image of the minor seen released. A version outside the table is
refused by the config (``llm-judge:aws.cluster.version``) instead of guessed: add a row when EKS adds a
minor. Rows exist only for versions the stack accepts at all (``components/config/eks_versions.py``); a
test keeps the two tables in step.

Read on ``CHECKED`` from the kubernetes/autoscaler repository (``SOURCE``; tags
``cluster-autoscaler-<patch>`` and ``cluster-autoscaler-chart-<version>``, each chart's ``Chart.yaml``):
the 1.35 chart 9.59.0 (2026-07-21) is the newest with ``appVersion`` 1.35.0 (9.54.0 to 9.55.0 shipped
the 1.34 image), and v1.32.7, v1.33.6, v1.34.5, v1.35.2 are the newest patches. Fixes go to the latest
minor and the three before it (the README's "n - 3"), so a row leaves that window when the fourth minor
after it ships: components/lifecycle.py dates each row by that rule. Renovate proposes new patches of a
row's minor (``renovate.json``); a new chart is approved on its dashboard, since which minor a chart
serves is its ``appVersion``, which Renovate does not read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

CHART_REPO = "https://kubernetes.github.io/autoscaler"
CHART = "cluster-autoscaler"
IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler"
SOURCE = "https://github.com/kubernetes/autoscaler/tags"
CHECKED = dt.date(2026, 12, 5)

NEWEST_MINOR = "1.36"
"""The newest autoscaler minor released when ``CHECKED`` (tag ``cluster-autoscaler-1.36.0``)."""
NEWEST_MINOR_RELEASED = dt.date(2026, 7, 1)
SUPPORTED_MINORS = 4
"""The README's support rule: the latest minor and the three before it ("n - 3") get fixes."""
MINOR_CADENCE_DAYS = 122
"""About four months between minors: Kubernetes ships three a year, the autoscaler follows each."""


@dataclass(frozen=True)
class AutoscalerRelease:
    kubernetes: str
    chart_version: str
    """Chart version (its ``appVersion`` is ``<kubernetes>.x``)."""
    image_tag: str


RELEASES: dict[str, AutoscalerRelease] = {
    row.kubernetes: row
    for row in (
        AutoscalerRelease("1.32", "9.46.6", "v1.32.7"),
        AutoscalerRelease("1.33", "9.51.0", "v1.33.6"),
        AutoscalerRelease("1.34", "9.53.0", "v1.34.5"),
        AutoscalerRelease("1.35", "9.59.0", "v1.35.2"),
    )
}


def for_kubernetes(version: str) -> AutoscalerRelease | None:
    return RELEASES.get(version)


def covered() -> str:
    minors = sorted(RELEASES, key=lambda v: tuple(map(int, v.split("."))))
    return f"{minors[0]} to {minors[-1]}"
