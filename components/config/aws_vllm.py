"""``vllm``: the OpenAI-compatible server Deployment: image, port, replicas, GPUs per replica,
resources, the security context and how long a cold start may take. What it serves is ``model``
(aws_model.py); the flags the stack sets from typed config are kept out of ``extraArgs``."""

from __future__ import annotations

from pydantic import Field, model_validator

from .base import ConfigModel, Problems
from .k8s_values import (
    ImageDigest,
    ImageRepo,
    ImageTag,
    Quantity,
    ResourcesConfig,
    container_resources,
    image_ref,
)

# vLLM flags the stack sets itself from typed config; extraArgs may not repeat them.
MANAGED_VLLM_FLAGS = (
    "--model",
    "--served-model-name",
    "--max-model-len",
    "--gpu-memory-utilization",
    "--port",
)


class VllmConfig(ConfigModel):
    """``vllm``: the OpenAI-compatible server Deployment."""

    image: ImageRepo = "vllm/vllm-openai"
    # renovate: datasource=docker depName=vllm/vllm-openai
    tag: ImageTag = "v0.33.0"
    """vLLM 0.33.0 is the newest release; its image is built on CUDA 13, which the AL2023 NVIDIA AMI's
    580 driver runs. Use the ``-cu129`` variant of the tag on nodes with an older driver."""
    digest: ImageDigest | None = None
    """Content digest of ``image:tag`` (``sha256:...``, the multi-arch index digest the registry
    reports). Set: pods run ``image:tag@digest``, so a moved tag cannot change what runs (pin it in
    prod; README "Pinning images by digest" says how to look it up). Unset: the tag alone."""
    port: int = Field(default=8000, ge=1024, le=65535)
    replicas: int = Field(default=1, ge=0)
    gpus: int = Field(default=1, ge=1)
    """GPUs per replica (``nvidia.com/gpu``). More than one also needs ``--tensor-parallel-size``."""
    resources: ResourcesConfig = Field(default_factory=lambda: container_resources("2", "8Gi", None, "16Gi"))
    shm_size: Quantity = "8Gi"
    """Size of the memory-backed ``/dev/shm`` (PyTorch/NCCL shared memory)."""
    extra_args: list[str] = Field(default_factory=list)
    """More vLLM flags, passed as given (e.g. ``["--enable-prefix-caching"]``)."""
    run_as_user: int = Field(default=2000, ge=1)
    """Non-root uid; 2000 is the ``vllm`` user the vllm/vllm-openai image ships (HOME /home/vllm)."""
    run_as_group: int = Field(default=0, ge=0)
    """Primary gid. 0 is the ``vllm`` user's group in the image (``useradd --uid 2000 --gid 0``), which
    owns its writable paths (``/home/vllm``, the uv cache in ``/opt/uv``); root *group*, not root."""
    read_only_root_filesystem: bool = True
    """Root filesystem read-only; caches and /tmp are emptyDirs."""
    cold_start_seconds: int = Field(default=1800, ge=60)
    """How long the startup probe lets vLLM load and compile before the kubelet restarts it."""
    await_timeout_seconds: int = Field(default=3600, ge=60)
    """How long ``pulumi up`` waits for the Deployment (node scale-up + model download + cold start)."""
    skip_await: bool = False
    """Do not wait for the Deployment to become ready (e.g. GPU quota not yet granted)."""

    @property
    def image_ref(self) -> str:
        return image_ref(self.image, self.tag, self.digest)

    @model_validator(mode="after")
    def _check(self) -> VllmConfig:
        p = Problems()
        for i, arg in enumerate(self.extra_args):
            # vLLM's argument parser reads `--served_model_name` as `--served-model-name`.
            flag = arg.split("=", 1)[0].replace("_", "-")
            p.check(
                flag not in MANAGED_VLLM_FLAGS,
                f"extraArgs[{i}]",
                f"{flag} is set by the stack from typed config (model.*, vllm.port); set it there",
            )
        p.check(
            self.await_timeout_seconds >= self.cold_start_seconds,
            "awaitTimeoutSeconds",
            f"{self.await_timeout_seconds} is shorter than coldStartSeconds {self.cold_start_seconds}: "
            "pulumi up would give up on a Deployment that is still allowed to start",
        )
        p.raise_if_any()
        return self
