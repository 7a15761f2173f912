"""The model-loader DaemonSet: one pod per GPU node keeps the model complete on that node's NVMe.

Its container runs the project's loader (``python -m app.model_loader serve``): it downloads or
verifies the model under the host directory, then stays up; ``/readyz`` answers 200 only when the
model is complete on this node, so "DaemonSet ready" means "every GPU node has the model".

The hostPath directory is created by the kubelet as root; the loader image runs as uid 10001. A tiny
init container (root, only the CHOWN capability, read-only root filesystem, no shell) hands the
directory to that uid, so the long-running container stays non-root and the seed's ``chmod 777``
is not needed.

With ``model.source: s3://bucket/prefix`` the pods run as the ``model-loader`` service account, which
EKS Pod Identity gives an IAM role (the cluster-autoscaler's pattern) allowed exactly this
(``s3_read_policy``): ``s3:GetObject`` on ``arn:<partition>:s3:::bucket/prefix/*`` and ``s3:ListBucket`` on
the bucket only where ``s3:prefix`` is under ``prefix/`` (without it a missing key answers 403, not 404).
The identity is the pod's, not the node role's, so vLLM and anything else on the GPU nodes gets none of it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from app.model_loader.mirror_layout import S3Location
from components.config.aws import AwsConfig

from .checkov import digest_skip, skip_annotations
from .scheduling import (
    PART_OF,
    TMP_MOUNT,
    await_annotations,
    container_resources,
    http_probe,
    node_selector,
    restricted_container,
    tolerations,
)

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_kubernetes.core.v1 import ContainerArgsDict, EnvVarArgsDict, PodSpecArgsDict, VolumeArgsDict

    from .k8s_types import DaemonSetParts, SecretParts, ServiceAccountParts

NAME = "model-loader"
MODELS_MOUNT = "/models"
"""Where the cache is mounted in every container (loader, init containers, vLLM)."""
LOADER_UID = 10001
"""The model-loader image's non-root user (contract with build/Dockerfile.model-loader)."""
HF_TOKEN_KEY = "token"  # noqa: S105 - the key inside the Secret, not a token
SELECTOR = {"app.kubernetes.io/name": NAME}
CHECKOV_SKIPS = {
    "CKV_K8S_25": "the init container own-cache-dir adds CHOWN only, to hand the root-created hostPath "
    "cache to the loader's uid (instead of the seed's chmod 777); the loader drops every capability",
}


SERVICE_ACCOUNT = NAME
"""The model loader's service account: created, and given an AWS identity, with an S3 source only."""
S3_READ_ACTIONS = ("s3:GetObject",)
S3_LIST_ACTIONS = ("s3:ListBucket",)


def service_account(cfg: AwsConfig) -> ServiceAccountParts:
    return {
        "metadata": {"name": SERVICE_ACCOUNT, "namespace": cfg.namespace, "labels": {**SELECTOR, **PART_OF}},
        # Pods opt in (the DaemonSet does, for Pod Identity); nothing else mounts its token.
        "automount_service_account_token": False,
    }


def s3_read_policy(location: S3Location, partition: str = "aws") -> str:
    """The model loader's S3 permissions: read the mirror's prefix, list nothing outside it."""
    bucket = f"arn:{partition}:s3:::{location.bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadTheMirror",
                    "Effect": "Allow",
                    "Action": list(S3_READ_ACTIONS),
                    "Resource": f"{bucket}/{location.prefix}/*",
                },
                {
                    "Sid": "ListTheMirrorOnly",
                    "Effect": "Allow",
                    "Action": list(S3_LIST_ACTIONS),
                    "Resource": bucket,
                    "Condition": {"StringLike": {"s3:prefix": [f"{location.prefix}/*"]}},
                },
            ],
        },
        sort_keys=True,
    )


def loader_args(cfg: AwsConfig, command: str, *extra: str) -> list[str]:
    """Arguments of ``python -m app.model_loader <command>`` for this stack's model."""
    args = [command, "--models-dir", MODELS_MOUNT, "--repo-id", cfg.model.repo_id]
    if cfg.model.revision:
        args += ["--revision", cfg.model.revision]
    return [*args, *extra]


def models_volume(cfg: AwsConfig) -> VolumeArgsDict:
    # DirectoryOrCreate in every pod that mounts it: whichever pod lands first on a fresh node creates
    # it (root-owned), and the loader's init container hands it to the loader's uid either way.
    return {
        "name": "models",
        "host_path": {"path": cfg.model_loader.host_models_dir, "type": "DirectoryOrCreate"},
    }


def hf_token_secret(cfg: AwsConfig) -> SecretParts:
    """Metadata of the Secret holding ``llm-judge:hfToken`` (its data is set by the component, as a
    Pulumi secret)."""
    return {
        "metadata": {
            "name": cfg.hf_token_secret_name,
            "namespace": cfg.namespace,
            "labels": {"app.kubernetes.io/name": NAME, **PART_OF},
        },
        "type": "Opaque",
    }


def daemonset(cfg: AwsConfig, stack: str, image: str, with_hf_token: bool) -> DaemonSetParts:
    ml = cfg.model_loader
    env: list[EnvVarArgsDict] = [
        {"name": "HOME", "value": TMP_MOUNT},
        {"name": "HF_HOME", "value": f"{TMP_MOUNT}/hf-home"},
    ]
    mirror = cfg.model.s3_source
    if mirror is not None:
        source: list[EnvVarArgsDict] = [
            {"name": "MODEL_SOURCE", "value": mirror.url},
            {"name": "MODEL_SOURCE_FALLBACK", "value": "hub" if cfg.model.fallback_to_hub else "none"},
            {"name": "AWS_REGION", "value": cfg.region},
        ]
        env += source
    if with_hf_token:
        env.append(
            {
                "name": "HF_TOKEN",
                "value_from": {"secret_key_ref": {"name": cfg.hf_token_secret_name, "key": HF_TOKEN_KEY}},
            }
        )
    chown: ContainerArgsDict = {
        "name": "own-cache-dir",
        "image": image,
        "command": ["chown", "-R", f"{LOADER_UID}:{LOADER_UID}", MODELS_MOUNT],
        "security_context": {
            "run_as_non_root": False,
            "run_as_user": 0,
            "run_as_group": 0,
            "allow_privilege_escalation": False,
            "read_only_root_filesystem": True,
            "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]},
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
        "volume_mounts": [{"name": "models", "mount_path": MODELS_MOUNT}],
    }
    loader: ContainerArgsDict = {
        "name": NAME,
        "image": image,
        "command": ["python", "-m", "app.model_loader"],
        "args": loader_args(cfg, "serve", "--port", str(ml.port)),
        "ports": [{"name": "http", "container_port": ml.port, "protocol": "TCP"}],
        "env": env,
        "readiness_probe": http_probe("/readyz", "http", period=10, failures=3),
        "liveness_probe": http_probe("/healthz", "http", period=20, failures=3),
        "security_context": restricted_container(LOADER_UID, LOADER_UID),
        "resources": container_resources(ml.resources),
        "volume_mounts": [
            {"name": "models", "mount_path": MODELS_MOUNT},
            {"name": "tmp", "mount_path": TMP_MOUNT},
        ],
    }
    pod: PodSpecArgsDict = {
        "node_selector": node_selector(cfg.node_group, stack),
        "tolerations": tolerations(cfg.node_group),
        "automount_service_account_token": mirror is not None,
        "enable_service_links": False,
        "security_context": {"seccomp_profile": {"type": "RuntimeDefault"}},
        "termination_grace_period_seconds": 30,
        "init_containers": [chown],
        "containers": [loader],
        "volumes": [models_volume(cfg), {"name": "tmp", "empty_dir": {"size_limit": "2Gi"}}],
    }
    if mirror is not None:
        # EKS Pod Identity injects its token and credential variables into the pods of a service account
        # that has an association (the account has no RBAC binding, so its API token opens nothing).
        pod["service_account_name"] = SERVICE_ACCOUNT
    return {
        "metadata": {
            "name": NAME,
            "namespace": cfg.namespace,
            "labels": {**SELECTOR, **PART_OF},
            "annotations": {
                **await_annotations(ml.await_timeout_seconds),
                **skip_annotations({**CHECKOV_SKIPS, **digest_skip({"modelLoader.image": image})}),
            },
        },
        "spec": {
            "selector": {"match_labels": SELECTOR},
            "update_strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 1}},
            "template": {"metadata": {"labels": SELECTOR}, "spec": pod},
        },
    }
