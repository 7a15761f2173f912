"""AWS Auto Scaling: an IAM policy may let something resize Auto Scaling groups, or terminate their
instances, only on groups it picks out (by tag, or by name), never on every group in the account.

Why: whatever the stack installs may act only on what the stack created. The cluster-autoscaler's
role is the case in point: EKS tags every managed node group of a cluster alike, so only a tag the
stack writes on its own groups (``llm-judge:autoscaler``) keeps it off other teams' groups.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from .base import items

# The actions that change a group's size or take its instances away.
_WRITES = (
    "autoscaling:setdesiredcapacity",
    "autoscaling:terminateinstanceinautoscalinggroup",
    "autoscaling:updateautoscalinggroup",
)
_POLICY_TYPES = (
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
_GROUP_NAME = "autoScalingGroupName/"


def _documents(resource_type: str, props: Mapping[str, Any]) -> Iterator[Any]:
    if resource_type in _POLICY_TYPES:
        yield props.get("policy")
    elif resource_type == "aws:iam/role:Role":
        for inline in items(props.get("inlinePolicies")):
            if isinstance(inline, Mapping):
                yield inline.get("policy")


def _patterns(value: Any) -> list[str]:
    return [v.lower() for v in ([value] if isinstance(value, str) else items(value)) if isinstance(v, str)]


def _allowed_writes(statement: Mapping[str, Any]) -> list[str]:
    if "NotAction" in statement:
        excluded = _patterns(statement["NotAction"])
        return [w for w in _WRITES if not any(fnmatchcase(w, p) for p in excluded)]
    allowed = _patterns(statement.get("Action"))
    return [w for w in _WRITES if any(fnmatchcase(w, p) for p in allowed)]


# Tags EKS puts on the Auto Scaling group of *every* managed node group of a cluster: a condition on
# them alone picks out every group of the cluster, other teams' too (``eks:nodegroup-name`` names one).
_EVERY_GROUP_TAGS = ("aws:resourcetag/k8s.io/cluster-autoscaler/", "aws:resourcetag/eks:cluster-name")


def _picks_out(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    key = key.lower()
    return key.startswith("aws:resourcetag/") and not key.startswith(_EVERY_GROUP_TAGS)


def _scoped(statement: Mapping[str, Any]) -> bool:
    """By a tag condition on a tag that not every group of a cluster carries, or by naming every group
    (an ARN whose group name has no wildcard)."""
    condition = statement.get("Condition")
    if isinstance(condition, Mapping):
        for clauses in condition.values():
            if isinstance(clauses, Mapping) and any(_picks_out(key) for key in clauses):
                return True
    resources = [r for r in items(statement.get("Resource")) or [statement.get("Resource")] if r is not None]
    return bool(resources) and all(
        isinstance(r, str) and _GROUP_NAME in r and "*" not in r.split(_GROUP_NAME, 1)[1] for r in resources
    )


def allow_statements(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(label, statement)`` of every Allow statement of an IAM policy resource (its Sid, or its index)."""
    for document in _documents(resource_type, props):
        if not isinstance(document, str):  # UNKNOWN during a preview: checked again at `up`
            continue
        try:
            policy = json.loads(document)
        except ValueError:
            continue
        statements = policy.get("Statement") if isinstance(policy, Mapping) else None
        for i, statement in enumerate(items(statements) or [statements]):
            if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
                yield str(statement.get("Sid") or f"Statement[{i}]"), statement


def check_autoscaling_writes(resource_type: str, props: Mapping[str, Any], name: str) -> Iterator[str]:
    for label, statement in allow_statements(resource_type, props):
        writes = _allowed_writes(statement)
        if writes and not _scoped(statement):
            yield (
                f"{label} allows {', '.join(writes)} on every Auto Scaling group: add a Condition on "
                "aws:ResourceTag/<a tag only the stack's own groups carry> (or name the groups), so "
                "it cannot resize or empty another team's groups (EKS puts the cluster-autoscaler "
                "discovery tags and eks:cluster-name on every managed group of a cluster)"
            )
