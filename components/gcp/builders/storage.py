"""Inputs of the history bucket: per-prefix lifecycle rules and versioning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.config.gcp_bucket import BucketConfig

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_gcp.storage import BucketLifecycleRuleArgsDict


def lifecycle_rules(cfg: BucketConfig) -> list[BucketLifecycleRuleArgsDict]:
    """One Delete rule per configured prefix (``matches_prefixes``), plus a rule that removes replaced
    versions when versioning is on (otherwise they would be kept forever)."""
    rules: list[BucketLifecycleRuleArgsDict] = [
        {
            "action": {"type": "Delete"},
            "condition": {"age": rule.delete_after_days, "matches_prefixes": [rule.prefix]},
        }
        for rule in cfg.lifecycle
    ]
    if cfg.versioning:
        rules.append(
            {
                "action": {"type": "Delete"},
                "condition": {
                    "days_since_noncurrent_time": cfg.noncurrent_version_days,
                    "with_state": "ARCHIVED",
                },
            }
        )
    return rules


def uniform_access_problem(bucket: str, uniform_access: bool) -> str | None:
    """Why an existing bucket cannot take the stack's grants, or None."""
    if uniform_access:
        return None
    return (
        f"llm-judge:gcp.bucket.existingName: bucket {bucket!r} does not have uniform bucket-level access, "
        "which the stack's prefix-scoped IAM grants (IAM conditions) need. Turn it on with `gcloud storage "
        f"buckets update gs://{bucket} --uniform-bucket-level-access` (object ACLs stop applying), or let "
        "the stack create its own bucket (remove existingName)"
    )
