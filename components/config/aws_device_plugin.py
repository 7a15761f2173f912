"""``devicePlugin``: NVIDIA's device plugin, which makes the GPU nodes' GPUs schedulable
(``nvidia.com/gpu``)."""

from __future__ import annotations

from .base import ConfigModel
from .k8s_values import ImageDigest, ImageRepo, ImageTag, image_ref


class DevicePluginConfig(ConfigModel):
    """``devicePlugin``: NVIDIA's device plugin, which advertises ``nvidia.com/gpu`` (the AL2023 GPU
    AMI has none). Turn off where the cluster already runs one (e.g. the GPU operator)."""

    enabled: bool = True
    image: ImageRepo = "nvcr.io/nvidia/k8s-device-plugin"
    # renovate: datasource=docker depName=nvcr.io/nvidia/k8s-device-plugin
    tag: ImageTag = "v0.20.0"
    """The newest tag seen in NVIDIA/k8s-device-plugin (components/lifecycle.py has its source and date;
    a ``v0.20.1`` named elsewhere was not found upstream)."""
    digest: ImageDigest | None = None
    """Content digest of ``image:tag`` (``sha256:...``); set: the pods run ``image:tag@digest`` (README
    "Pinning images by digest" says how to look it up)."""

    @property
    def image_ref(self) -> str:
        return image_ref(self.image, self.tag, self.digest)
