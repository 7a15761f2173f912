"""Tags of the AWS half: the stack tag on everything, and what a launch template stamps on the
instances, volumes and network interfaces it starts.

Provider default tags (``aws.Provider(default_tags=...)``) reach resources Pulumi creates, but not the
ones EC2 creates from a launch template: those carry only the template's ``tag_specifications``, so
every tag cost allocation needs, the stack tag included, has to be written there too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_aws.ec2 import LaunchTemplateTagSpecificationArgsDict

STACK_TAG = "llm-judge:stack"
LAUNCHED_KINDS = ("instance", "volume", "network-interface")


def stack_tags(stack: str, tags: Mapping[str, str]) -> dict[str, str]:
    """The provider's default tags: the stack tag, then the configured ``tags`` (which may not
    override it)."""
    return {**tags, STACK_TAG: stack}


def tag_specifications(name: str, tags: Mapping[str, str]) -> list[LaunchTemplateTagSpecificationArgsDict]:
    """``tag_specifications`` of a launch template: ``tags`` plus a ``Name`` per launched kind."""
    return [{"resource_type": kind, "tags": {**tags, "Name": f"{name}-{kind}"}} for kind in LAUNCHED_KINDS]
