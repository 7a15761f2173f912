"""``model`` and ``modelLoader``: what the judge serves (a Hugging Face repo at a revision, its context
length and GPU memory share) and the DaemonSet that puts its weights on each GPU node's NVMe before
vLLM starts (``python -m app.model_loader``). Where the weights come from is decided here."""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from app.model_loader.mirror_layout import S3Location

from .base import ConfigModel, Problems
from .k8s_values import ResourcesConfig, container_resources


class ModelConfig(ConfigModel):
    """``model``: what vLLM serves and the model loader downloads."""

    repo_id: str = "Qwen/Qwen2.5-7B-Instruct-AWQ"
    """Hugging Face repo id."""
    revision: str | None = None
    """Branch, tag or commit; pin a commit in prod so every node caches the same weights."""
    served_model_name: str | None = None
    """Name clients send as ``model``; None means the repo id."""
    source: str = "hub"
    """Where the model loader downloads the weights: ``hub`` (Hugging Face), or an S3 mirror in the
    stack's region, ``s3://bucket/prefix``, that ``python -m app.model_loader mirror --to`` fills (see
    docs/model-loader.md). With a mirror, the loader's service account gets, through EKS Pod Identity,
    ``s3:GetObject`` on ``prefix/*`` and ``s3:ListBucket`` conditioned on that prefix, nothing else."""
    fallback_to_hub: bool = True
    """With an S3 source: download from the hub what the mirror lacks or cannot deliver (the nodes then
    need the hub, and the hub's token if the repo is gated)."""
    max_model_len: int = Field(default=4096, ge=256, le=1_048_576)
    gpu_memory_utilization: float = 0.90
    """Fraction of GPU memory vLLM may use, in (0, 1]."""

    @property
    def effective_served_name(self) -> str:
        return self.served_model_name or self.repo_id

    @property
    def s3_source(self) -> S3Location | None:
        """The S3 mirror the nodes read, None when they read the hub."""
        return None if self.source == "hub" else S3Location.parse(self.source)

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        p = Problems()
        p.check(
            0 < self.gpu_memory_utilization <= 1,
            "gpuMemoryUtilization",
            f"{self.gpu_memory_utilization} is outside (0, 1]",
        )
        from app.model_loader.layout import model_dir_name

        try:
            model_dir_name(self.repo_id)
        except ValueError as exc:
            p.add("repoId", str(exc).removeprefix("Value error, "))
        if self.source != "hub":
            try:
                location = S3Location.parse(self.source)
            except ValueError as exc:
                p.add("source", f"{exc}; or 'hub'")
            else:
                p.check(
                    bool(location.prefix),
                    "source",
                    f"{self.source!r} names no prefix: give s3://{location.bucket}/<prefix>, the only part"
                    " of the bucket the model loader may read",
                )
        p.check(
            self.served_model_name is None or bool(self.served_model_name.strip()),
            "servedModelName",
            "must not be blank",
        )
        p.raise_if_any()
        return self


class ModelLoaderConfig(ConfigModel):
    """``modelLoader``: the DaemonSet filling each GPU node's NVMe cache (``python -m app.model_loader``)."""

    image: str | None = None
    """Pre-built model-loader image (``repo:tag`` or ``repo@sha256:...``). None: the stack builds
    build/Dockerfile.model-loader with pulumi-docker-build and pushes it to an ECR repository."""
    port: int = Field(default=8080, ge=1024, le=65535)
    resources: ResourcesConfig = Field(default_factory=lambda: container_resources("500m", "1Gi", "2", "4Gi"))
    host_models_dir: str = "/mnt/k8s-disks/0/models"
    """Host directory of the cache: under the RAID0 array nodeadm mounts at /mnt/k8s-disks/0."""
    wait_timeout_seconds: int = Field(default=3600, ge=60)
    """How long vLLM's init container waits for the loader to finish on its node."""
    await_timeout_seconds: int = Field(default=900, ge=60)
    """How long ``pulumi up`` waits for the DaemonSet (pods on existing GPU nodes ready)."""

    @model_validator(mode="after")
    def _check(self) -> ModelLoaderConfig:
        p = Problems()
        p.check(
            self.host_models_dir.startswith("/") and ".." not in self.host_models_dir.split("/"),
            "hostModelsDir",
            "must be an absolute path without '..'",
        )
        if self.image is not None:
            p.check(
                bool(re.match(r"^[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})$", self.image))
                and not self.image.endswith(":latest"),
                "image",
                "must be a pinned image reference (repo:tag or repo@sha256:digest, not :latest)",
            )
        p.raise_if_any()
        return self
