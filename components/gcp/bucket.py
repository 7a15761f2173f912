"""The conversation-history bucket: created (private, uniform access, per-prefix lifecycle) or existing."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from components.config.gcp import BucketConfig

from .builders.storage import lifecycle_rules, uniform_access_problem

TYPE = "llm-judge:gcp:HistoryBucket"


def require_uniform_access(bucket: gcp.storage.GetBucketResult) -> str:
    """The bucket's name, or a clean stop (``pulumi.RunError``, no traceback) saying how to fix it."""
    problem = uniform_access_problem(bucket.name, bool(bucket.uniform_bucket_level_access))
    if problem:
        raise pulumi.RunError(problem)
    return bucket.name


class HistoryBucket(pulumi.ComponentResource):
    name: pulumi.Output[str]
    url: pulumi.Output[str]
    created: bool

    def __init__(
        self,
        name: str,
        cfg: BucketConfig,
        *,
        project: str,
        bucket_name: str,
        location: str,
        protect: bool,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(TYPE, name, None, opts)
        self.created = cfg.existing_name is None
        if cfg.existing_name is not None:
            # The prefix-scoped grants are IAM conditions, which GCS only accepts on buckets with uniform
            # bucket-level access; without the lookup the bindings would fail half-way through `up`.
            lookup = pulumi.InvokeOutputOptions(parent=self, depends_on=list(depends_on))
            found = gcp.storage.get_bucket_output(name=cfg.existing_name, opts=lookup)
            self.name = found.apply(require_uniform_access)
            self.url = self.name.apply(lambda n: f"gs://{n}")
        else:
            bucket = gcp.storage.Bucket(
                f"{name}-bucket",
                name=bucket_name,
                project=project,
                location=(cfg.location or location).upper(),
                uniform_bucket_level_access=True,
                public_access_prevention="enforced",
                versioning={"enabled": cfg.versioning},
                lifecycle_rules=lifecycle_rules(cfg),
                force_destroy=cfg.force_destroy,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on), protect=protect),
            )
            self.name = bucket.name
            self.url = bucket.url
        self.register_outputs({"name": self.name, "url": self.url})
