"""``bucket``: the conversation-history bucket (one the stack creates, or an existing one), its
per-prefix retention and versioning. Retention of raw/ and batch/ is checked against what the daily
judge still has to read."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from .base import ConfigModel, Problems, pattern

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$")


def _bucket_name(value: str) -> str:
    if not _BUCKET.match(value) or value.startswith("goog") or ".." in value:
        raise ValueError(
            "must be a bucket name: 3-63 of a-z 0-9 . _ -, starting and ending with a letter or digit"
        )
    return value


BucketName = Annotated[str, AfterValidator(_bucket_name)]
ObjectPrefix = Annotated[
    str, AfterValidator(pattern(_PREFIX, "an object name prefix ending in '/', such as 'raw/'"))
]


class LifecycleRule(ConfigModel):
    """Delete objects under ``prefix`` once they are ``deleteAfterDays`` old."""

    prefix: ObjectPrefix
    delete_after_days: int = Field(ge=1, le=36500)


def _default_lifecycle() -> list[LifecycleRule]:
    return [
        LifecycleRule(prefix="raw/", delete_after_days=90),
        LifecycleRule(prefix="batch/", delete_after_days=30),
        LifecycleRule(prefix="deadletter/", delete_after_days=30),
        # The loader's chunk manifests: only needed while Kafka still holds their offsets, and as long
        # as the raw/ objects they describe (a re-read of old offsets then rebuilds identical objects).
        LifecycleRule(prefix="_loader/", delete_after_days=90),
    ]


# A prefix whose objects must outlive the daily judge: it reads yesterday's raw/ and Vertex may hold
# a queued batch job for up to 72 h before it reads batch/ and writes its output there.
PIPELINE_PREFIXES = ("raw/", "batch/")
MIN_PIPELINE_RETENTION_DAYS = 4


class BucketConfig(ConfigModel):
    """``bucket``: the conversation-history bucket (raw/, deadletter/, batch/, judgements/)."""

    name: BucketName | None = None
    """Name of the bucket the stack creates. None: ``<project>-llm-judge-history``."""
    existing_name: BucketName | None = None
    """Use this existing bucket instead of creating one. It must have uniform bucket-level access (the
    stack's prefix-scoped IAM conditions need it); its lifecycle stays as it is."""
    location: str | None = None
    """Bucket location (region or multi-region). None: the stack's ``region``, next to Vertex AI."""
    lifecycle: list[LifecycleRule] = Field(default_factory=_default_lifecycle)
    """Per-prefix retention of a created bucket."""
    versioning: bool = False
    """Object versioning. Off: raw/ objects are written once (create-only) and everything else can be
    rebuilt from raw/, so old versions would only cost money."""
    noncurrent_version_days: int = Field(default=7, ge=1, le=3650)
    """With versioning on: delete a replaced version after this many days."""
    force_destroy: bool = False
    """Let ``pulumi destroy`` delete a bucket that still holds objects (dev only)."""

    @model_validator(mode="after")
    def _check(self) -> BucketConfig:
        p = Problems()
        if self.existing_name is not None:
            p.check(self.name is None, "name", "set either name (create) or existingName (use), not both")
            for key in ("lifecycle", "versioning", "location", "force_destroy", "noncurrent_version_days"):
                if key in self.model_fields_set:
                    alias = type(self).model_fields[key].alias or key
                    p.add(alias, "only applies to a bucket the stack creates (existingName is set)")
        seen: set[str] = set()
        for i, rule in enumerate(self.lifecycle):
            p.check(rule.prefix not in seen, f"lifecycle[{i}].prefix", f"{rule.prefix!r} has two rules")
            seen.add(rule.prefix)
            if any(rule.prefix.startswith(x) or x.startswith(rule.prefix) for x in PIPELINE_PREFIXES):
                p.check(
                    rule.delete_after_days >= MIN_PIPELINE_RETENTION_DAYS,
                    f"lifecycle[{i}].deleteAfterDays",
                    f"{rule.delete_after_days} days is too short for {rule.prefix!r}: the daily judge reads "
                    f"yesterday's raw/ and Vertex AI may queue a batch for 72 h (at least "
                    f"{MIN_PIPELINE_RETENTION_DAYS} days)",
                )
        p.raise_if_any()
        return self
