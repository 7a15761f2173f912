"""Which cluster-autoscaler to run on which Kubernetes minor version.

The autoscaler's own rule: run the release whose minor matches the cluster's (it is built and tested
against that minor's scheduler). Each row pins the last ``cluster-autoscaler`` chart of
kubernetes.github.io/autoscaler whose ``appVersion`` has that minor (from the chart repository's
``index.yaml``) and the newest patch image of the minor seen released. A version outside the table is
refused by the config (``llm-judge:aws.cluster.version``) instead of guessed: add a row when EKS adds a
minor. Rows exist only for versions the stack accepts at all (``components/config/eks_versions.py``); a
test keeps the two tables in step.
"""

from __future__ import annotations

from dataclasses import dataclass

CHART_REPO = "https://kubernetes.github.io/autoscaler"
CHART = "cluster-autoscaler"
IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler"


@dataclass(frozen=True)
class AutoscalerRelease:
    kubernetes: str
    chart_version: str
    """Chart version (its ``appVersion`` is ``<kubernetes>.x``)."""
    image_tag: str


RELEASES: dict[str, AutoscalerRelease] = {
    row.kubernetes: row
    for row in (
        AutoscalerRelease("1.32", "9.46.6", "v1.32.3"),
        AutoscalerRelease("1.33", "9.51.0", "v1.33.1"),
        AutoscalerRelease("1.34", "9.53.0", "v1.34.2"),
        AutoscalerRelease("1.35", "9.56.0", "v1.35.0"),
    )
}


def for_kubernetes(version: str) -> AutoscalerRelease | None:
    return RELEASES.get(version)


def covered() -> str:
    minors = sorted(RELEASES, key=lambda v: tuple(map(int, v.split("."))))
    return f"{minors[0]} to {minors[-1]}"
