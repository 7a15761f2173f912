"""GCP access: no basic roles, no storage roles above the bucket, no log writer above a resource, no
public principals; buckets with uniform access and enforced public access prevention, and no ACLs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from .base import UNKNOWN, items

# --- no-project-storage-or-primitive-roles ---------------------------------------------------------

BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
PUBLIC_PRINCIPALS = frozenset({"allUsers", "allAuthenticatedUsers"})
# Cloud Run ships a job's stdout/stderr to Cloud Logging without any role on its account; a log writer
# on the project could write any entry, including the ones the stack's log-based metrics count.
LOG_WRITER = "roles/logging.logWriter"
_IAM_TYPE = re.compile(r"^gcp:[^:]+:[A-Za-z]*(IAM|Iam)(Member|Binding|Policy)$")
_ABOVE_RESOURCES = ("gcp:projects/", "gcp:folder/", "gcp:organizations/")


def _grants(props: Mapping[str, Any]) -> Iterator[tuple[Any, list[Any]]]:
    """``(role, members)`` of an IAM member, binding or whole policy (``policyData`` JSON)."""
    if "role" in props:
        members = props.get("members")
        yield props["role"], items(members) if members is not None else [props.get("member")]
        return
    policy = props.get("policyData")
    if isinstance(policy, str):
        try:
            data = json.loads(policy)
        except ValueError:
            return
        for binding in items(data.get("bindings") if isinstance(data, Mapping) else None):
            if isinstance(binding, Mapping):
                yield binding.get("role"), items(binding.get("members"))


def check_iam(resource_type: str, props: Mapping[str, Any], name: str) -> Iterator[str]:
    if not _IAM_TYPE.match(resource_type):
        return
    above_resources = resource_type.startswith(_ABOVE_RESOURCES)
    scope = resource_type.split(":")[1].split("/")[0].rstrip("s")
    for role, members in _grants(props):
        if not isinstance(role, str):
            continue
        if role in BASIC_ROLES:
            yield f"grants the basic role {role}: grant a predefined role with only the permissions needed"
        elif above_resources and role.startswith("roles/storage."):
            yield (
                f"grants {role} on a whole {scope}: "
                "grant storage roles on the bucket (gcp.storage.BucketIAMMember), with a condition per prefix"
            )
        elif above_resources and role == LOG_WRITER:
            yield (
                f"grants {role} on a whole {scope}: Cloud Run ships the jobs' stdout to Cloud Logging "
                "without it, and it would let an account write the entries the log-based metrics count"
            )
        for member in members:
            if member in PUBLIC_PRINCIPALS:
                yield f"grants {role} to {member}: nothing in this stack is public"


# --- buckets-uniform-and-private ---------------------------------------------------------------

_ACL_TYPES = re.compile(r"^gcp:storage/[A-Za-z]*(ACL|AccessControl):")


def check_buckets(resource_type: str, props: Mapping[str, Any], name: str) -> Iterator[str]:
    if _ACL_TYPES.match(resource_type):
        kind = resource_type.rsplit(":", 1)[1]
        yield f"{kind} sets ACLs, which uniform bucket-level access refuses: grant IAM roles instead"
        return
    if resource_type != "gcp:storage/bucket:Bucket":
        return
    uniform = props.get("uniformBucketLevelAccess")
    if uniform is not UNKNOWN and uniform is not True:
        yield "uniformBucketLevelAccess is not true: set it, so IAM alone decides who reads and writes"
    prevention = props.get("publicAccessPrevention")
    if prevention is not UNKNOWN and prevention != "enforced":
        yield f"publicAccessPrevention is {prevention!r}: set it to 'enforced'"
