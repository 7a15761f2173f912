"""The model-loader DaemonSet: one pod per GPU node keeps the model complete on that node's NVMe.

Its container runs the project's loader (``python -m app.model_loader serve``): it downloads or
verifies the model under the host directory, then stays up; ``/readyz`` answers 200 only when the
model is complete on this node, so "DaemonSet ready" means "every GPU node has the model".

The hostPath directory is created by the kubelet as root; the loader image runs as uid 10001. A tiny
init container (root, only the CHOWN capability, read-only root filesystem, no shell) hands the
directory to that uid, so the long-running container stays non-root and the seed's ``chmod 777``
is not needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    from pulumi_kubernetes.core.v1 import ContainerArgsDict, EnvVarArgsDict, VolumeArgsDict

    from .k8s_types import DaemonSetParts, SecretParts

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


def daemonset(cfg: AwsConfig, image: str, with_hf_token: bool) -> DaemonSetParts:
    ml = cfg.model_loader
    env: list[EnvVarArgsDict] = [
        {"name": "HOME", "value": TMP_MOUNT},
        {"name": "HF_HOME", "value": f"{TMP_MOUNT}/hf-home"},
    ]
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
            "template": {
                "metadata": {"labels": SELECTOR},
                "spec": {
                    "node_selector": node_selector(cfg.node_group),
                    "tolerations": tolerations(cfg.node_group),
                    "automount_service_account_token": False,
                    "enable_service_links": False,
                    "security_context": {"seccomp_profile": {"type": "RuntimeDefault"}},
                    "termination_grace_period_seconds": 30,
                    "init_containers": [chown],
                    "containers": [loader],
                    "volumes": [models_volume(cfg), {"name": "tmp", "empty_dir": {"size_limit": "2Gi"}}],
                },
            },
        },
    }
