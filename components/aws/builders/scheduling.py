"""Where GPU pods may run: derived from the node group's own labels and taints, so the node group,
the device plugin, the model loader and vLLM always agree.

The labels are the configured ``nodeGroup.labels`` plus the stack's own ``llm-judge/stack: <stack>``
(``node_selector``): a common label such as ``role: ai-gpu`` may be on other teams' GPU nodes in a shared
cluster, where a second device plugin would register their GPUs again and the model loader would fill
their disks. Nothing the stack installs may act on what it did not create."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from components.config.aws_node_group import STACK_LABEL, NodeGroupConfig
from components.config.k8s_values import ResourcesConfig, label_value_of

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_kubernetes.core.v1 import (
        ProbeArgsDict,
        ResourceRequirementsArgsDict,
        SecurityContextArgsDict,
        TolerationArgsDict,
    )

# Container paths, each backed by its own emptyDir volume (not the host's shared temp directories).
TMP_MOUNT = "/tmp"  # noqa: S108
SHM_MOUNT = "/dev/shm"  # noqa: S108

PART_OF = {"app.kubernetes.io/part-of": "llm-judge", "app.kubernetes.io/managed-by": "pulumi"}


def node_selector(node_group: NodeGroupConfig, stack: str) -> dict[str, str]:
    """The labels of this stack's GPU nodes, every one of which each GPU pod selects: the one place
    that says so (the node group's labels and its autoscaler node-template tags are built from it)."""
    return {**node_group.labels, STACK_LABEL: label_value_of(stack)}


def tolerations(node_group: NodeGroupConfig) -> list[TolerationArgsDict]:
    return [
        {"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect} for t in node_group.taints
    ]


def await_annotations(timeout_seconds: int, skip: bool = False) -> dict[str, str]:
    """pulumi-kubernetes waits 10 minutes for workloads by default; a GPU node scale-up plus a first
    model download can take longer, and a pod that is not ready by then fails ``pulumi up``."""
    if skip:
        return {"pulumi.com/skipAwait": "true"}
    return {"pulumi.com/timeoutSeconds": str(timeout_seconds)}


def restricted_container(
    run_as_user: int, run_as_group: int, read_only_root: bool = True
) -> SecurityContextArgsDict:
    """A container security context that satisfies the Kubernetes 'restricted' profile."""
    return {
        "run_as_non_root": True,
        "run_as_user": run_as_user,
        "run_as_group": run_as_group,
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": read_only_root,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def http_probe(path: str, port: str, period: int, failures: int, timeout: int = 5) -> ProbeArgsDict:
    return {
        "http_get": {"path": path, "port": port},
        "period_seconds": period,
        "failure_threshold": failures,
        "timeout_seconds": timeout,
    }


def container_resources(
    resources: ResourcesConfig, extra: dict[str, str] | None = None
) -> ResourceRequirementsArgsDict:
    """A container's ``resources`` from config (``extra``, e.g. GPUs, goes into requests and limits)."""
    block = resources.manifest(extra)
    out: ResourceRequirementsArgsDict = {}
    if "requests" in block:
        out["requests"] = block["requests"]
    if "limits" in block:
        out["limits"] = block["limits"]
    return out


def failures_for(window_seconds: int, period_seconds: int) -> int:
    """Failure threshold so that ``threshold * period >= window``."""
    return max(1, math.ceil(window_seconds / period_seconds))
