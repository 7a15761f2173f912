"""The stack's invariants, as pure functions of a resource's type, inputs and name.

Each is true of every resource this program registers, and each states a rule of the project rather
than today's list of resources, so that whatever is added later is held to it:

- no-project-storage-or-primitive-roles: no basic role (owner, editor, viewer) anywhere, no storage
  role above the bucket and no log writer above a resource (project, folder, organization), no public
  principal in any IAM grant;
- buckets-uniform-and-private: every GCS bucket has uniform bucket-level access and enforced public
  access prevention, and no ACL resource undoes either;
- autoscaling-writes-scoped: an IAM policy lets nothing resize an Auto Scaling group or terminate its
  instances unless the statement picks the groups out by tag (``aws:ResourceTag/...``, on a tag EKS
  does not put on every managed group of a cluster) or by name;
- s3-access-scoped: an IAM policy allows S3 only as s3:GetObject on one bucket's ``prefix/*`` and
  s3:ListBucket on that bucket under an ``s3:prefix`` condition; no AWS managed S3 policy is attached;
- imdsv2-required: launch templates and instances require IMDSv2 tokens; EKS node groups use a launch
  template (EKS's default one allows IMDSv1);
- images-pinned: every container image (Kubernetes workloads, Cloud Run) has a digest or a tag other
  than `latest`;
- no-test-hooks: no container (Kubernetes workloads, Cloud Run) sets a test's fault-injection hook
  (`LOADER_CRASH_AT`, any `*_CRASH_AT`) in its environment;
- gpu-pods-tolerate-gpu-taint (stack-wide): every pod that requests GPUs or selects a GPU node group's
  labels tolerates that group's taints, or it would never schedule (and a GPU node would idle);
- secrets-never-plain: secret-named environment variables come from a secret reference, credential
  flags carry no literal value, and no credential-shaped text appears outside the fields made to
  hold secrets.

This package imports nothing but the standard library: ``__main__.py`` wires it into pulumi-policy's
``PolicyPack`` (in the pack's own venv), and the project's tests run it against the offline plans.
Values the engine does not know yet (a preview before a dependency exists) arrive as ``UNKNOWN``
and are never a violation: the same policy runs again on the known value during ``pulumi up``.

A note on secrets: pulumi-policy unwraps secret values before a policy sees them, so "was this
value marked secret?" cannot be asked here; the offline plan's masking tests (tests/tools) cover that
the program marks them. What can be asked here is whether secret material travels in plain fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .access import check_buckets, check_iam
from .autoscaling import check_autoscaling_writes
from .base import UNKNOWN, Invariant, Resource, StackInvariant, Unknown
from .imds import check_imdsv2
from .s3 import check_s3_scope
from .secrets import check_secrets
from .workloads import check_gpu_tolerations, check_images, check_test_hooks, image_problem, tolerates

__all__ = [
    "RESOURCE_INVARIANTS",
    "STACK_INVARIANTS",
    "UNKNOWN",
    "Invariant",
    "Resource",
    "StackInvariant",
    "Unknown",
    "image_problem",
    "stack_violations",
    "tolerates",
    "violations",
]

# --- the pack ------------------------------------------------------------------------------------

RESOURCE_INVARIANTS = (
    Invariant(
        "no-project-storage-or-primitive-roles",
        "No basic roles, no storage role or log writer above a resource, no public principal in IAM grants.",
        check_iam,
    ),
    Invariant(
        "buckets-uniform-and-private",
        "GCS buckets have uniform bucket-level access and enforced public access prevention; no ACLs.",
        check_buckets,
    ),
    Invariant(
        "autoscaling-writes-scoped",
        "IAM policies let nothing resize or empty Auto Scaling groups but those picked out by tag or name.",
        check_autoscaling_writes,
    ),
    Invariant(
        "s3-access-scoped",
        "IAM policies only read S3 under one bucket prefix (GetObject, ListBucket); no managed S3 policy.",
        check_s3_scope,
    ),
    Invariant(
        "imdsv2-required",
        "Launch templates and instances require IMDSv2; EKS node groups use a launch template.",
        check_imdsv2,
    ),
    Invariant(
        "images-pinned",
        "Every container image has a digest or a version tag (never `latest`, never no tag).",
        check_images,
    ),
    Invariant(
        "no-test-hooks",
        "No container sets a test's fault-injection hook (LOADER_CRASH_AT, any *_CRASH_AT) in its env.",
        check_test_hooks,
    ),
    Invariant(
        "secrets-never-plain",
        "Secret material travels only by reference: no literal secret env values, flags or credentials.",
        check_secrets,
    ),
)
STACK_INVARIANTS = (
    StackInvariant(
        "gpu-pods-tolerate-gpu-taint",
        "Pods that request GPUs or select a GPU node group tolerate that group's taints.",
        check_gpu_tolerations,
    ),
)


def violations(resource_type: str, props: Mapping[str, Any], name: str) -> list[tuple[str, str]]:
    """``(invariant name, message)`` of every resource invariant this resource breaks."""
    return [(inv.name, msg) for inv in RESOURCE_INVARIANTS for msg in inv.check(resource_type, props, name)]


def stack_violations(resources: Sequence[Resource]) -> list[tuple[str, Resource, str]]:
    """``(invariant name, resource, message)`` of every stack-wide invariant the stack breaks."""
    return [(inv.name, r, msg) for inv in STACK_INVARIANTS for r, msg in inv.check(resources)]
