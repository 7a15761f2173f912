"""Who may do what: every IAM grant of the GCP half, as data.

Storage roles are granted on the bucket, never on the project, and writes are scoped to the prefixes
each principal owns with IAM conditions (the bucket has uniform bucket-level access, which conditions
need). The only project-level grants are the ones that have no narrower resource: Vertex AI job
creation and log writing. Secret access is granted on the Kafka secrets themselves
(components/gcp/kafka_credentials.py) and ``roles/run.invoker`` on each job (components/gcp/job.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from . import layout

Principal = Literal["loader", "batch", "invoker", "vertex"]

# Listing objects is checked against the bucket, not an object, so a condition that only matches object
# names would deny it. This clause lets a prefix-scoped principal list names; reading or writing an
# object still needs the object's own prefix.
LIST_CLAUSE = 'resource.type == "storage.googleapis.com/Bucket"'

PRIMITIVE_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})


@dataclass(frozen=True)
class BucketGrant:
    principal: Principal
    role: str
    prefixes: tuple[str, ...] | None
    """Object prefixes the grant is limited to; None: the whole bucket."""
    why: str
    lists: bool = False
    """A prefix-scoped grant that must also allow listing (see LIST_CLAUSE)."""

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
        "read raw/ (input), batch/ (Vertex AI predictions) and judgements/ (resume); list the bucket",
    ),
    BucketGrant(
        "batch",
        "roles/storage.objectUser",
        (layout.BATCH, layout.JUDGEMENTS),
        "write and replace batch input, manifests and judgements (a re-run with --force replaces them)",
    ),
    BucketGrant(
        "vertex",
        "roles/storage.objectViewer",
        (layout.BATCH,),
        "Vertex AI's service agent reads the batch input files and lists the output prefix",
        lists=True,
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
    ProjectGrant("batch", "roles/logging.logWriter", "structured logs through the Cloud Logging API"),
    ProjectGrant("loader", "roles/logging.logWriter", "structured logs through the Cloud Logging API"),
)

SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"  # noqa: S105 - a role name
RUN_INVOKER = "roles/run.invoker"


def object_prefix_clause(bucket: str, prefix: str) -> str:
    return f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}")'


def condition(grant: BucketGrant, bucket: str) -> dict[str, str] | None:
    """The IAM condition of a prefix-scoped grant (None for a whole-bucket grant)."""
    if grant.prefixes is None:
        return None
    clauses = [object_prefix_clause(bucket, p) for p in grant.prefixes]
    if grant.lists:
        clauses.insert(0, LIST_CLAUSE)
    title = f"{grant.principal} {' '.join(grant.prefixes)}"
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
