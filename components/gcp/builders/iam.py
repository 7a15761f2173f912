"""Who may do what: every IAM grant of the GCP half, as data.

Storage roles are granted on the bucket, never on the project, and writes are scoped to the prefixes
each principal owns with IAM conditions (the bucket has uniform bucket-level access, which conditions
need). The only project-level grant is the one that has no narrower resource: Vertex AI job
creation. Secret access is granted on the Kafka secrets themselves (components/gcp/kafka_credentials.py)
and ``roles/run.invoker`` on each job (components/gcp/job.py).

No log-writing role: the apps print JSON lines to stdout/stderr and Cloud Run ships them to Cloud
Logging itself, with no role on the job's account. ``roles/logging.logWriter`` on the project would
only let either account write entries of its choosing anywhere in the project, including the entries
the log-based metrics count (a forged ``loader summary``), so it is never granted (the policy pack
refuses it above a resource: policy/invariants/access.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from . import layout

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_gcp.storage import BucketIAMMemberConditionArgsDict

Principal = Literal["loader", "batch", "invoker", "vertex"]

PRIMITIVE_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})


@dataclass(frozen=True)
class BucketGrant:
    principal: Principal
    role: str
    prefixes: tuple[str, ...] | None
    """Object prefixes the grant is limited to; None: the whole bucket."""
    why: str

    @property
    def key(self) -> str:
        """Short, stable part of the Pulumi resource name."""
        return f"{self.principal}-{self.role.rsplit('.', 1)[-1].lower()}"


@dataclass(frozen=True)
class ProjectGrant:
    principal: Principal
    role: str
    why: str

    @property
    def key(self) -> str:
        return f"{self.principal}-{self.role.split('/', 1)[1].replace('.', '-').lower()}"


BUCKET_GRANTS: tuple[BucketGrant, ...] = (
    BucketGrant(
        "loader",
        "roles/storage.legacyBucketReader",
        None,
        "read the bucket's metadata (the loader checks the bucket exists at start) and list object names",
    ),
    BucketGrant(
        "loader",
        "roles/storage.objectCreator",
        layout.LOADER_OWNED,
        "write new raw/, dead-letter and chunk-manifest objects; create-only: no replace, no delete",
    ),
    BucketGrant(
        "loader",
        "roles/storage.objectViewer",
        layout.LOADER_OWNED,
        "read back its own objects: after a 412 it compares the stored object, and adopts a manifest",
    ),
    BucketGrant(
        "batch",
        "roles/storage.objectViewer",
        None,
        "read raw/ (input, excerpts), batch/ (predictions), judgements/ and reports/ (resume, trend); list",
    ),
    BucketGrant(
        "batch",
        "roles/storage.objectUser",
        (layout.BATCH, layout.JUDGEMENTS, layout.REPORTS),
        "write and replace batch input, manifests, judgements and reports (--force re-runs replace them)",
    ),
    # Vertex AI's service agent also holds roles/aiplatform.serviceAgent on the project, which in the
    # same project covers these and more: the three grants below restrict nothing then. They are what
    # Vertex needs when that role is not there (an organisation that trims it, a bucket in another
    # project), so together they must be enough on their own, bucket metadata included.
    BucketGrant(
        "vertex",
        "roles/storage.legacyBucketReader",
        None,
        "Vertex AI's service agent reads the bucket's metadata (storage.buckets.get) and lists names",
    ),
    BucketGrant(
        "vertex",
        "roles/storage.objectViewer",
        (layout.BATCH,),
        "Vertex AI's service agent reads the batch input files",
    ),
    BucketGrant(
        "vertex",
        "roles/storage.objectCreator",
        (layout.BATCH,),
        "Vertex AI's service agent writes predictions under batch/<date>/output/",
    ),
)

PROJECT_GRANTS: tuple[ProjectGrant, ...] = (
    ProjectGrant("batch", "roles/aiplatform.user", "create and poll Vertex AI batch prediction jobs"),
)

SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"  # noqa: S105 - a role name
RUN_INVOKER = "roles/run.invoker"


def object_prefix_clause(bucket: str, prefix: str) -> str:
    return f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}")'


def condition(grant: BucketGrant, bucket: str) -> BucketIAMMemberConditionArgsDict | None:
    """The IAM condition of a prefix-scoped grant (None for a whole-bucket grant)."""
    if grant.prefixes is None:
        return None
    return prefix_condition(grant, grant.prefixes, bucket)


def prefix_condition(
    grant: BucketGrant, prefixes: Sequence[str], bucket: str
) -> BucketIAMMemberConditionArgsDict:
    """The IAM condition limiting ``grant`` to object names under ``prefixes`` of ``bucket``."""
    # Listing is checked against the bucket, which no object-name condition matches: principals that
    # list hold an unconditional bucket-level role for it (legacyBucketReader or objectViewer).
    clauses = [object_prefix_clause(bucket, p) for p in prefixes]
    title = f"{grant.principal} {' '.join(prefixes)}"
    return {
        "title": title[:100],
        "description": grant.why[:256],
        "expression": " || ".join(clauses),
    }


def member(email: str) -> str:
    return f"serviceAccount:{email}"


def check_no_primitive(roles: list[str]) -> None:
    bad = sorted(set(roles) & PRIMITIVE_ROLES)
    if bad:
        raise ValueError(f"primitive roles are never granted: {bad}")


check_no_primitive([g.role for g in BUCKET_GRANTS] + [g.role for g in PROJECT_GRANTS])
