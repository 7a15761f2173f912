"""The policy pack: every invariant of the ``invariants`` package as a mandatory pulumi-policy policy.

Run by the Pulumi CLI (``pulumi preview --policy-pack policy``) as ``python -m pulumi.policy <engine>
policy`` in ``policy/venv``, with this directory first on ``sys.path``. Only wiring lives here: the
props pulumi-policy hands over (proxies that raise on values unknown during a preview) become plain
data with ``UNKNOWN`` in place of what is not known, then the pure checks run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from invariants import (
    RESOURCE_INVARIANTS,
    STACK_INVARIANTS,
    UNKNOWN,
    Invariant,
    Resource,
    StackInvariant,
)
from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError


def plain(value: Any) -> Any:
    """pulumi-policy's props as plain dicts and lists; an unknown leaf (or subtree) becomes UNKNOWN."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = UNKNOWN
        return out
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items: list[Any] = []
        for i in range(len(value)):
            try:
                items.append(plain(value[i]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def resource_policy(invariant: Invariant) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in invariant.check(args.resource_type, plain(args.props), args.name):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=invariant.name,
        description=invariant.description,
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate,
    )


def stack_policy(invariant: StackInvariant) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [Resource(r.resource_type, plain(r.props), r.name, r.urn) for r in args.resources]
        for resource, message in invariant.check(resources):
            report_violation(message, resource.urn or None)

    return StackValidationPolicy(
        name=invariant.name,
        description=invariant.description,
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate,
    )


PolicyPack(
    name="llm-judge-invariants",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        *(resource_policy(invariant) for invariant in RESOURCE_INVARIANTS),
        *(stack_policy(invariant) for invariant in STACK_INVARIANTS),
    ],
)
