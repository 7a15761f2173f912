"""GPU instance types the judge can run on: each has instance-store NVMe (the model cache) and a GPU
that current vLLM kernels support well (Ampere/SM80 and newer).

Figures are from the EC2 instance-type pages (accelerated computing). ``nvme_gb`` is the total
instance-store capacity, which nodeadm's ``localStorage: RAID0`` stripes into one array.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuInstanceType:
    name: str
    gpus: int
    gpu_model: str
    gpu_memory_gib: int
    """Memory of one GPU."""
    nvme_gb: int
    """Total instance-store NVMe, in GB as EC2 lists it."""


def _family(prefix: str, gpu: str, mem: int, rows: list[tuple[str, int, int]]) -> dict[str, GpuInstanceType]:
    return {
        f"{prefix}.{size}": GpuInstanceType(f"{prefix}.{size}", gpus, gpu, mem, nvme)
        for size, gpus, nvme in rows
    }


_SIZES_G5 = [
    ("xlarge", 1, 250),
    ("2xlarge", 1, 450),
    ("4xlarge", 1, 600),
    ("8xlarge", 1, 900),
    ("12xlarge", 4, 3800),
    ("16xlarge", 1, 1900),
    ("24xlarge", 4, 3800),
    ("48xlarge", 8, 7600),
]
_SIZES_G6 = [
    ("xlarge", 1, 250),
    ("2xlarge", 1, 450),
    ("4xlarge", 1, 600),
    ("8xlarge", 1, 900),
    ("12xlarge", 4, 3760),
    ("16xlarge", 1, 1880),
    ("24xlarge", 4, 3760),
    ("48xlarge", 8, 7520),
]

SUPPORTED: dict[str, GpuInstanceType] = {
    **_family("g5", "NVIDIA A10G", 24, _SIZES_G5),
    **_family("g6", "NVIDIA L4", 24, _SIZES_G6),
    **_family("g6e", "NVIDIA L40S", 48, _SIZES_G5),
    **_family("p4d", "NVIDIA A100", 40, [("24xlarge", 8, 8000)]),
    **_family("p4de", "NVIDIA A100", 80, [("24xlarge", 8, 8000)]),
    **_family("p5", "NVIDIA H100", 80, [("4xlarge", 1, 3840), ("48xlarge", 8, 30400)]),
    **_family("p5e", "NVIDIA H200", 141, [("48xlarge", 8, 30400)]),
    **_family("p5en", "NVIDIA H200", 141, [("48xlarge", 8, 30400)]),
}
"""Instance types accepted in ``nodeGroup.instanceTypes``."""

REJECTED_FAMILIES: dict[str, str] = {
    "g4dn": "T4 GPUs (SM75) are poorly supported by current vLLM kernels (no FlashAttention, no "
    "awq_marlin); use g5, g6 or g6e",
    "g4ad": "AMD GPUs; the AL2023 NVIDIA AMI and vLLM's CUDA image need NVIDIA",
    "g5g": "Arm (Graviton) with T4G GPUs; the node group uses the x86_64 NVIDIA AMI",
    "p3": "V100 GPUs (SM70) are not supported by current vLLM",
    "p3dn": "V100 GPUs (SM70) are not supported by current vLLM",
    "g6f": "fractional GPUs are too small for this model and the device plugin sees no whole GPU",
    "gr6": "not offered in most regions; use g6",
}
"""Families we know and refuse, with the reason shown in the config error."""


ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"
"""The label the cluster-autoscaler's AWS provider treats as "this node has GPUs": while a node carries it
but does not yet advertise ``nvidia.com/gpu`` (device plugin starting), the autoscaler counts it as
an upcoming GPU node instead of adding another one."""

ACCELERATOR_VALUES: dict[str, str] = {
    "NVIDIA A10G": "nvidia-a10g",
    "NVIDIA L4": "nvidia-l4",
    "NVIDIA L40S": "nvidia-l40s",
    "NVIDIA A100": "nvidia-tesla-a100",
    "NVIDIA H100": "nvidia-h100",
    "NVIDIA H200": "nvidia-h200",
}
"""Value of ``ACCELERATOR_LABEL`` per GPU model, in the autoscaler's naming (its AWS provider knows
``nvidia-a10g`` and ``nvidia-tesla-a100`` by these names; the others follow the same scheme)."""


def accelerator(gpu: GpuInstanceType) -> str:
    return ACCELERATOR_VALUES[gpu.gpu_model]


def lookup(instance_type: str) -> GpuInstanceType | None:
    return SUPPORTED.get(instance_type)


def rejection_reason(instance_type: str) -> str:
    """Why ``instance_type`` cannot be used (it is not in ``SUPPORTED``)."""
    family = instance_type.split(".", 1)[0]
    if family in REJECTED_FAMILIES:
        return f"{instance_type} is not supported: {REJECTED_FAMILIES[family]}"
    families = sorted({name.split(".", 1)[0] for name in SUPPORTED})
    return (
        f"{instance_type} is not a supported GPU instance type with instance-store NVMe "
        f"(supported families: {', '.join(families)}; see components/aws/instance_types.py)"
    )
