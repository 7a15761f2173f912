"""The Kubernetes versions this stack accepts for ``aws.cluster.version``, with EKS's support dates.

The one list every version-keyed table of the stack uses (manifest validation, and add-ons whose
release follows the Kubernetes minor version, such as the cluster-autoscaler): add a version here and
to those tables together.

Dates are from the Amazon EKS Kubernetes release calendar
(https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar),
checked on ``CALENDAR_CHECKED``; 1.35's dates are from https://endoflife.date/amazon-eks, which tracks
that calendar. Standard support lasts 14 months from the EKS release, extended support 12 more; after
that EKS upgrades the control plane itself and refuses new clusters on the version. Versions whose
extended support had ended when the calendar was checked (1.31 and older) are not accepted. 1.36's
release and end of standard support were read from the same calendar on 2026-12-05; its end of
extended support is the 12-month rule applied to them (the calendar row did not show it). 1.37 is
accepted without dates: kubernetes-validate has its schema, but EKS had not released it; the plan warns
until someone records them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class EksVersion:
    version: str
    eks_release: dt.date | None
    end_of_standard_support: dt.date | None
    end_of_extended_support: dt.date | None

    @property
    def dated(self) -> bool:
        return self.end_of_standard_support is not None and self.end_of_extended_support is not None


CALENDAR_CHECKED = dt.date(2026, 11, 30)
SOURCE = (
    "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar"
)

CALENDAR: tuple[EksVersion, ...] = (
    EksVersion("1.32", dt.date(2025, 1, 23), dt.date(2026, 3, 23), dt.date(2027, 3, 23)),
    EksVersion("1.33", dt.date(2025, 5, 29), dt.date(2026, 7, 29), dt.date(2027, 7, 29)),
    EksVersion("1.34", dt.date(2025, 10, 2), dt.date(2026, 12, 2), dt.date(2027, 12, 2)),
    EksVersion("1.35", dt.date(2026, 1, 27), dt.date(2027, 3, 27), dt.date(2028, 3, 27)),
    EksVersion("1.36", dt.date(2026, 6, 2), dt.date(2027, 8, 2), dt.date(2028, 8, 2)),
    EksVersion("1.37", None, None, None),
)

DEFAULT_VERSION = "1.35"
"""The newest version with recorded dates that was in standard support on ``CALENDAR_CHECKED`` with
the most of it left (until 2027-03-27); 1.34's ended two days after that check."""

ACCEPTED_VERSIONS: tuple[str, ...] = tuple(v.version for v in CALENDAR)

_BY_VERSION = {v.version: v for v in CALENDAR}


def lookup(version: str) -> EksVersion | None:
    return _BY_VERSION.get(version)


def support_warnings(version: str, today: dt.date) -> list[str]:
    """What the plan should warn about ``version`` on ``today`` (empty while in standard support).

    Warnings, not errors: an existing cluster past a date keeps running (EKS upgrades its control
    plane), and a stack file must not stop rendering because the calendar moved on."""
    found = lookup(version)
    key = "llm-judge:aws.cluster.version"
    if found is None:
        return []
    if not found.dated:
        return [
            f"{key}: EKS support dates of {version} are not recorded in components/config/eks_versions.py; "
            "check them with `aws eks describe-cluster-versions` and add them"
        ]
    assert found.end_of_standard_support is not None
    assert found.end_of_extended_support is not None
    if today >= found.end_of_extended_support:
        return [
            f"{key}: {version} left EKS extended support on {found.end_of_extended_support}: EKS upgrades "
            "such control planes itself and creates no new clusters on it; set the cluster's actual "
            "version (aws eks describe-cluster) and upgrade the nodes"
        ]
    if today >= found.end_of_standard_support:
        return [
            f"{key}: {version} left EKS standard support on {found.end_of_standard_support}; extended "
            f"support (until {found.end_of_extended_support}) costs extra per cluster hour: upgrade the "
            "cluster and this key"
        ]
    return []
