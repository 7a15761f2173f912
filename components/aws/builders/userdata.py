"""EC2 user data of the GPU launch template: a MIME multipart document with one nodeadm NodeConfig.

On the EKS AL2023 AMIs, nodeadm reads ``application/node.eks.aws`` parts. ``localStorage`` makes it
assemble every instance-store NVMe disk into one array (``RAID0``; ``RAID10`` and ``Mount`` also
exist), format it XFS and mount it at ``/mnt/k8s-disks/0``, bind-mounting the kubelet, containerd and
pod-log directories onto it. No shell script is involved, so there is nothing to make idempotent.

There is deliberately no ``spec.cluster`` block: the launch template sets no custom AMI, so EKS
merges its own NodeConfig (cluster name, endpoint, CA, CIDR) with this one. The document is
deterministic (fixed boundary) so the launch template only changes when the content does.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import yaml

LocalStorageStrategy = Literal["RAID0", "RAID10", "Mount"]

BOUNDARY = "//LLM-JUDGE-NODEADM//"
NODECONFIG_CONTENT_TYPE = "application/node.eks.aws"
NODEADM_MOUNT_ROOT = "/mnt/k8s-disks"
RAID_MOUNT_PATH = f"{NODEADM_MOUNT_ROOT}/0"
"""Where nodeadm mounts the RAID array (the first and only filesystem under ``mountPath``)."""


def node_config(strategy: LocalStorageStrategy = "RAID0") -> dict[str, Any]:
    """The NodeConfig this node group adds to what EKS supplies (nodeadm's YAML inside the user data,
    not a provider argument: a plain dict)."""
    return {
        "apiVersion": "node.eks.aws/v1alpha1",
        "kind": "NodeConfig",
        "spec": {"instance": {"localStorage": {"strategy": strategy}}},
    }


def mime_user_data(parts: list[tuple[str, str]]) -> str:
    """A MIME multipart/mixed document from ``(content_type, body)`` parts, with CRLF-free LF lines
    (what EKS's own examples use and cloud-init/nodeadm accept)."""
    lines = ["MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{BOUNDARY}"', ""]
    for content_type, body in parts:
        lines += [f"--{BOUNDARY}", f"Content-Type: {content_type}", "", body.rstrip("\n"), ""]
    lines.append(f"--{BOUNDARY}--")
    return "\n".join(lines) + "\n"


def gpu_node_user_data(strategy: LocalStorageStrategy = "RAID0") -> str:
    """The user data document (plain text) of the GPU launch template."""
    body = "---\n" + yaml.safe_dump(node_config(strategy), sort_keys=False)
    return mime_user_data([(NODECONFIG_CONTENT_TYPE, body)])


def encode(user_data: str) -> str:
    """Base64, not gzipped: the form ``aws.ec2.LaunchTemplate.user_data`` and EKS expect."""
    return base64.b64encode(user_data.encode("ascii")).decode("ascii")
