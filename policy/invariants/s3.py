"""Amazon S3: the stack reads one bucket prefix and nothing else. An IAM policy may allow S3 only as
``s3:GetObject`` on ``arn:<partition>:s3:::<bucket>/<prefix>/*`` and ``s3:ListBucket`` on that bucket
under an ``s3:prefix`` condition naming such a prefix; no other S3 action (wildcards and ``NotAction``
included), no wildcard in a bucket or a prefix, and no AWS managed S3 policy attached.

Why: the model loader reads the model's S3 mirror (``model.source``); the bucket is the operator's,
and may hold other teams' data. Nothing the stack installs may read what it was not configured to read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .autoscaling import _patterns as lower_patterns
from .autoscaling import allow_statements
from .base import items

_READ = "s3:getobject"
_LIST = "s3:listbucket"
_NAME = r"[a-z0-9][a-z0-9.-]*[a-z0-9]"
_PREFIX = r"[^*?]+"  # no wildcard inside a prefix
_OBJECTS = re.compile(rf"^arn:[a-z-]+:s3:::{_NAME}/{_PREFIX}/\*$")
_BUCKET = re.compile(rf"^arn:[a-z-]+:s3:::{_NAME}$")
_LISTED = re.compile(rf"^{_PREFIX}/\*?$")
_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
)
_MANAGED_S3 = re.compile(r"^arn:[a-z-]+:iam::aws:policy/.*S3", re.IGNORECASE)


def _s3_actions(statement: Mapping[str, Any]) -> list[str]:
    if "NotAction" in statement:
        excluded = lower_patterns(statement["NotAction"])
        return (
            [] if any(p in ("*", "s3:*") for p in excluded) else ["NotAction (every S3 action not excluded)"]
        )
    return [p for p in lower_patterns(statement.get("Action")) if p == "*" or p.startswith("s3:")]


def _resources(statement: Mapping[str, Any]) -> list[Any]:
    value = statement.get("Resource")
    return items(value) if not isinstance(value, str) else [value]


def _listed_prefixes(statement: Mapping[str, Any]) -> list[Any] | None:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return None
    for operator in ("StringLike", "StringEquals"):
        clauses = condition.get(operator)
        if isinstance(clauses, Mapping) and "s3:prefix" in clauses:
            value = clauses["s3:prefix"]
            return [value] if isinstance(value, str) else items(value)
    return None


def _statement_problems(statement: Mapping[str, Any], label: str) -> Iterator[str]:
    actions = _s3_actions(statement)
    if not actions:
        return
    if "NotResource" in statement:
        yield f"{label} allows S3 with NotResource: name the bucket prefix it may read"
    for action in actions:
        if action not in (_READ, _LIST):
            yield (
                f"{label} allows {action}: the stack only reads S3 (s3:GetObject on bucket/prefix/*, "
                "s3:ListBucket on that prefix)"
            )
    if _READ in actions:
        for resource in _resources(statement):
            if not (isinstance(resource, str) and _OBJECTS.match(resource)):
                yield (
                    f"{label} allows s3:GetObject on {resource!r}: name one bucket and a key prefix, "
                    "arn:aws:s3:::<bucket>/<prefix>/*"
                )
    if _LIST in actions:
        for resource in _resources(statement):
            if not (isinstance(resource, str) and _BUCKET.match(resource)):
                yield f"{label} allows s3:ListBucket on {resource!r}: name one bucket, arn:aws:s3:::<bucket>"
        listed = _listed_prefixes(statement)
        if not listed or not all(isinstance(p, str) and _LISTED.match(p) for p in listed):
            yield (
                f"{label} allows s3:ListBucket without an s3:prefix condition naming a prefix "
                '(Condition: {"StringLike": {"s3:prefix": ["<prefix>/*"]}}): it would list the whole bucket'
            )


def check_s3_scope(resource_type: str, props: Mapping[str, Any], name: str) -> Iterator[str]:
    if resource_type in _ATTACHMENTS:
        arn = props.get("policyArn")
        if isinstance(arn, str) and _MANAGED_S3.match(arn):
            yield f"attaches {arn}: S3 on every bucket of the account; write a policy for the one prefix"
        return
    for label, statement in allow_statements(resource_type, props):
        yield from _statement_problems(statement, label)
