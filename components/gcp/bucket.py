"""The conversation-history bucket: created (private, uniform access, per-prefix lifecycle) or existing."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from components.config import ConfigError
from components.config.gcp_bucket import BucketConfig

from .builders.storage import lifecycle_rules, uniform_access_problem

TYPE = "llm-judge:gcp:HistoryBucket"


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
            # bucket-level access. Looked up synchronously, before any grant or job is registered, so a
            # bad bucket stops the run as a config error instead of bindings failing half-way through `up`.
            found = gcp.storage.get_bucket(name=cfg.existing_name, opts=pulumi.InvokeOptions(parent=self))
            problem = uniform_access_problem(cfg.existing_name, bool(found.uniform_bucket_level_access))
            if problem:
                raise ConfigError([problem])
            self.name = pulumi.Output.from_input(cfg.existing_name)
            self.url = pulumi.Output.from_input(f"gs://{cfg.existing_name}")
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
