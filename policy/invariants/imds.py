"""AWS instance metadata: IMDSv2 only, on every launch template, instance and node group."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import UNKNOWN, get

# Everything that starts EC2 instances with metadata options of its own (the same shape in all three).
_METADATA_TYPES = (
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/launchConfiguration:LaunchConfiguration",
    "aws:ec2/instance:Instance",
)


def check_imdsv2(resource_type: str, props: Mapping[str, Any], name: str) -> Iterator[str]:
    if resource_type == "aws:eks/nodeGroup:NodeGroup":
        if props.get("launchTemplate") is None:
            yield "has no launch template, so EKS's default one applies, which allows IMDSv1: give it one"
        return
    if resource_type not in _METADATA_TYPES:
        return
    options = props.get("metadataOptions")
    if options is UNKNOWN:
        return
    endpoint = get(options, "httpEndpoint")
    tokens = get(options, "httpTokens")
    if endpoint == "disabled" or tokens in ("required", UNKNOWN):
        return
    yield (
        f"metadataOptions.httpTokens is {tokens!r}: set it to 'required' (IMDSv2 only), or a pod that "
        "reaches the instance metadata service can take the node's role credentials"
    )
