"""The vLLM judge: Deployment, Service, ServiceAccount and NetworkPolicy, as plain objects.

Departures from the seed's Helm values (docs/aws.md explains each): the model is served from the
loader's layout path with ``HF_HUB_OFFLINE=1``; no ``--quantization awq`` (vLLM reads the
quantization from the model config and picks the faster awq_marlin kernel) and no
``VLLM_ATTENTION_BACKEND=XFORMERS`` (the backend was removed); the model is the positional argument
of ``vllm serve`` (``--model`` is deprecated there); an init container waits for the model on the
node; a startup probe covers a cold load; the pod runs as the image's non-root ``vllm`` user with a
read-only root filesystem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.model_loader.layout import served_model_path
from components.config.aws import AwsConfig

from .checkov import digest_skip, skip_annotations
from .model_cache import LOADER_UID, MODELS_MOUNT, loader_args, models_volume
from .network_policy import DNS_EGRESS, interceptor_peer
from .scheduling import (
    PART_OF,
    SHM_MOUNT,
    TMP_MOUNT,
    await_annotations,
    container_resources,
    failures_for,
    http_probe,
    node_selector,
    restricted_container,
    tolerations,
)

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_kubernetes.apps.v1 import DeploymentSpecArgsDict
    from pulumi_kubernetes.core.v1 import ContainerArgsDict, EnvVarArgsDict
    from pulumi_kubernetes.networking.v1 import NetworkPolicyPeerArgsDict

    from .k8s_types import DeploymentParts, NetworkPolicyParts, ServiceAccountParts, ServiceParts

COMPONENT_LABEL = {"app.kubernetes.io/component": "judge-inference"}
VLLM_HOME = "/home/vllm"
"""HOME of the image's ``vllm`` user; an emptyDir here holds the torch/triton/vLLM caches."""
GPU_RESOURCE = "nvidia.com/gpu"
STARTUP_PERIOD_SECONDS = 10
HIGH_UID = 10000
"""checkov's CKV_K8S_40 wants uids from here up, clear of the host's own users."""


def selector(cfg: AwsConfig) -> dict[str, str]:
    return {"app": cfg.service_name}


def model_path(cfg: AwsConfig) -> str:
    return served_model_path(MODELS_MOUNT, cfg.model.repo_id)


def vllm_args(cfg: AwsConfig) -> list[str]:
    """``vllm serve`` arguments, from typed config, then the escape hatch."""
    m, v = cfg.model, cfg.vllm
    return [
        model_path(cfg),
        "--served-model-name",
        m.effective_served_name,
        "--max-model-len",
        str(m.max_model_len),
        "--gpu-memory-utilization",
        f"{m.gpu_memory_utilization:g}",
        "--port",
        str(v.port),
        *v.extra_args,
    ]


def vllm_env() -> list[EnvVarArgsDict]:
    return [
        {"name": "HF_HUB_OFFLINE", "value": "1"},
        {"name": "HOME", "value": VLLM_HOME},
        # torch resolves the user name at import; USER keeps that working for any runAsUser.
        {"name": "USER", "value": "vllm"},
        {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
        {"name": "DO_NOT_TRACK", "value": "1"},
    ]


def checkov_skips(cfg: AwsConfig, loader_image: str) -> dict[str, str]:
    skips = digest_skip({"vllm.digest": cfg.vllm.image_ref, "modelLoader.image": loader_image})
    if cfg.vllm.run_as_user < HIGH_UID:
        skips["CKV_K8S_40"] = (
            f"uid {cfg.vllm.run_as_user} is the vllm user of the vLLM image, owner of its files "
            "(llm-judge:aws.vllm.runAsUser)"
        )
    return skips


def deployment(cfg: AwsConfig, stack: str, loader_image: str) -> DeploymentParts:
    v = cfg.vllm
    labels = {**selector(cfg), **COMPONENT_LABEL}
    gpus = {GPU_RESOURCE: str(v.gpus)}
    wait: ContainerArgsDict = {
        "name": "wait-for-model",
        "image": loader_image,
        "command": ["python", "-m", "app.model_loader"],
        "args": loader_args(cfg, "wait", "--timeout", str(cfg.model_loader.wait_timeout_seconds)),
        # The loader image's own user: it owns the cache files and has a passwd entry in that image.
        "security_context": restricted_container(LOADER_UID, LOADER_UID),
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "volume_mounts": [{"name": "models", "mount_path": MODELS_MOUNT, "read_only": True}],
    }
    server: ContainerArgsDict = {
        "name": "vllm",
        "image": v.image_ref,
        "command": ["vllm", "serve"],
        "args": vllm_args(cfg),
        "ports": [{"name": "http", "container_port": v.port, "protocol": "TCP"}],
        "env": vllm_env(),
        "resources": container_resources(v.resources, extra=gpus),
        "startup_probe": http_probe(
            "/health",
            "http",
            STARTUP_PERIOD_SECONDS,
            failures_for(v.cold_start_seconds, STARTUP_PERIOD_SECONDS),
        ),
        "readiness_probe": http_probe("/health", "http", period=10, failures=3),
        "liveness_probe": http_probe("/health", "http", period=15, failures=4, timeout=10),
        "security_context": restricted_container(v.run_as_user, v.run_as_group, v.read_only_root_filesystem),
        "volume_mounts": [
            {"name": "models", "mount_path": MODELS_MOUNT, "read_only": True},
            {"name": "shm", "mount_path": SHM_MOUNT},
            {"name": "home", "mount_path": VLLM_HOME},
            {"name": "tmp", "mount_path": TMP_MOUNT},
        ],
    }
    spec: DeploymentSpecArgsDict = {
        "replicas": v.replicas,
        # One GPU per replica and nodes with no spare GPU: a rolling update's surge pod could never
        # schedule, so the old pod goes first.
        "strategy": {"type": "Recreate"},
        "selector": {"match_labels": selector(cfg)},
        "template": {
            "metadata": {"labels": labels, "annotations": scrape_annotations(cfg)},
            "spec": {
                "service_account_name": cfg.service_name,
                "automount_service_account_token": False,
                "enable_service_links": False,
                "node_selector": node_selector(cfg.node_group, stack),
                "tolerations": tolerations(cfg.node_group),
                "security_context": {
                    "run_as_non_root": True,
                    "run_as_user": v.run_as_user,
                    # The image's vllm user is 2000:0 and its writable paths are group 0's.
                    "run_as_group": v.run_as_group,
                    "seccomp_profile": {"type": "RuntimeDefault"},
                },
                "termination_grace_period_seconds": 60,
                "init_containers": [wait],
                "containers": [server],
                "volumes": [
                    models_volume(cfg),
                    {"name": "shm", "empty_dir": {"medium": "Memory", "size_limit": v.shm_size}},
                    {"name": "home", "empty_dir": {"size_limit": "10Gi"}},
                    {"name": "tmp", "empty_dir": {"size_limit": "2Gi"}},
                ],
            },
        },
    }
    if cfg.autoscaling.enabled:
        # KEDA's HPA owns the count; Pulumi only sets where it starts: minReplicas, so a judge that may
        # sleep (0) is created asleep and the first `up` waits for no GPU node. Without the field the
        # API server would default it to 1. `ignored_fields` keeps later `up`s off it.
        spec["replicas"] = cfg.autoscaling.min_replicas
    return {
        "metadata": {
            "name": cfg.service_name,
            "namespace": cfg.namespace,
            "labels": {**labels, **PART_OF},
            "annotations": {
                **await_annotations(v.await_timeout_seconds, v.skip_await),
                **skip_annotations(checkov_skips(cfg, loader_image)),
            },
        },
        "spec": spec,
    }


def ignored_fields(cfg: AwsConfig) -> list[str]:
    """``ignore_changes`` of the Deployment. With autoscaling, ``spec.replicas``: once KEDA's HPA has
    scaled the Deployment, the field's manager is the HPA's and pulumi-kubernetes drops an ignored
    field that another manager owns from its server-side apply (provider/pkg/await/await.go,
    ``handleSSAIgnoreFields``), so a later `up` neither resets the count nor conflicts with the HPA."""
    return ["spec.replicas"] if cfg.autoscaling.enabled else []


def scrape_annotations(cfg: AwsConfig) -> dict[str, str]:
    """The common ``prometheus.io/*`` convention, for a Prometheus without the Operator (its usual
    ``kubernetes-pods`` job scrapes annotated pods); the Operator's PodMonitor ignores them."""
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(cfg.vllm.port),
        "prometheus.io/path": "/metrics",
    }


def service(cfg: AwsConfig) -> ServiceParts:
    return {
        "metadata": {
            "name": cfg.service_name,
            "namespace": cfg.namespace,
            "labels": {**selector(cfg), **COMPONENT_LABEL, **PART_OF},
            # pulumi-kubernetes would wait for a ready endpoint, i.e. for vLLM; the Deployment's own
            # await (with its long timeout) already covers that.
            "annotations": await_annotations(0, skip=True),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector(cfg),
            "ports": [{"name": "http", "port": cfg.vllm.port, "target_port": "http", "protocol": "TCP"}],
        },
    }


def service_account(cfg: AwsConfig) -> ServiceAccountParts:
    return {
        "metadata": {
            "name": cfg.service_name,
            "namespace": cfg.namespace,
            "labels": {**selector(cfg), **COMPONENT_LABEL, **PART_OF},
        },
        "automount_service_account_token": False,
    }


def _namespace_peer(namespace: str) -> NetworkPolicyPeerArgsDict:
    return {"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": namespace}}}


def network_policy(cfg: AwsConfig) -> NetworkPolicyParts:
    """Ingress: only judge-client pods, only on the server port. Egress: DNS to kube-dns only (the
    model is local and HF_HUB_OFFLINE is set, so vLLM never needs the network)."""
    np = cfg.network_policy
    client: NetworkPolicyPeerArgsDict = {"pod_selector": {"match_labels": dict(np.client_pod_labels)}}
    if np.client_namespace_labels is not None:
        client["namespace_selector"] = {"match_labels": dict(np.client_namespace_labels)}
    peers = [client]
    if cfg.autoscaling.enabled and cfg.autoscaling.wake.enabled:
        # Woken-up traffic arrives from the HTTP add-on's interceptor pods (not the rest of KEDA's
        # namespace); who may call through the interceptor is its own policy's business (docs/aws.md).
        peers.append(interceptor_peer(cfg.autoscaling.keda.namespace))
    if cfg.autoscaling.enabled or cfg.prometheus.operator:
        # Prometheus scrapes /metrics on the same port (vLLM has no separate metrics port).
        peers.append(_namespace_peer(cfg.prometheus.namespace))
    return {
        "metadata": {
            "name": cfg.service_name,
            "namespace": cfg.namespace,
            "labels": {**selector(cfg), **COMPONENT_LABEL, **PART_OF},
        },
        "spec": {
            "pod_selector": {"match_labels": selector(cfg)},
            "policy_types": ["Ingress", "Egress"],
            "ingress": [{"from_": peers, "ports": [{"port": cfg.vllm.port, "protocol": "TCP"}]}],
            "egress": [DNS_EGRESS],
        },
    }
