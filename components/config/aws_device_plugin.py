"""The AWS half of the stack config: cluster, GPU node group, model cache and vLLM server.

Every value the seed kept in Helm values, AppConfig and Terraform variables lives here, with its
default, its bounds and its documentation. Components receive these frozen objects; the node selector
and tolerations of every GPU pod are derived from ``nodeGroup.labels``/``nodeGroup.taints`` so the
node group and its pods cannot disagree.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from components.aws import autoscaler_versions, instance_types

from . import eks_versions
from .aws_scaling import AutoscalingConfig, ClusterAutoscalerConfig, PrometheusConfig
from .base import ConfigModel, Problems, pattern

# --- Kubernetes and AWS name rules ------------------------------------------------------------

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_EKS_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]*$")
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_IMAGE_REPO = re.compile(r"^[a-z0-9]+([._/:-][a-z0-9]+)*$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_IMAGE_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/[\w+=,.@/-]+$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$")
_K8S_VERSION = re.compile(r"^1\.[0-9]{2}$")


def _eks_version(value: str) -> str:
    if not _K8S_VERSION.match(value):
        raise ValueError("must be a Kubernetes minor version such as '1.35'")
    if value not in eks_versions.ACCEPTED_VERSIONS:
        raise ValueError(
            f"{value} is not a version this stack accepts: {', '.join(eks_versions.ACCEPTED_VERSIONS)} "
            f"(the EKS versions not past extended support on {eks_versions.CALENDAR_CHECKED} that "
            "kubernetes-validate has schemas for; see components/config/eks_versions.py)"
        )
    return value


def _dns_label(value: str) -> str:
    """RFC 1123 label: namespaces, container names, most object names."""
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            "must be an RFC 1123 label: lower-case letters, digits and '-', starting and ending "
            "with a letter or digit, at most 63 characters"
        )
    return value


def _service_name(value: str) -> str:
    """Services are RFC 1035 labels: like RFC 1123, but must start with a letter."""
    _dns_label(value)
    if not value[0].isalpha():
        raise ValueError("a Service name must start with a letter (RFC 1035 label)")
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(
            "must be an RFC 1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters"
        )
    return value


def _label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"label key {key!r}: the prefix must be a DNS subdomain"
    if len(name) > 63 or not _LABEL_NAME.match(name):
        return f"label key {key!r}: the name must be 1-63 of [A-Za-z0-9-_.], starting and ending alphanumeric"
    return None


def _label_value_problem(key: str, value: str) -> str | None:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return (
            f"label {key!r}: value {value!r} must be at most 63 of [A-Za-z0-9-_.], "
            "starting and ending alphanumeric"
        )
    return None


def _kubelet_refuses(label_key: str) -> bool:
    """The NodeRestriction rule the kubelet applies to its own ``--node-labels``."""
    prefix = label_key.rpartition("/")[0]
    if prefix in ("node.kubernetes.io", "kubelet.kubernetes.io") or prefix.endswith(
        (".node.kubernetes.io", ".kubelet.kubernetes.io")
    ):
        return False
    return any(prefix == ns or prefix.endswith("." + ns) for ns in ("kubernetes.io", "k8s.io"))


def _labels(value: dict[str, str]) -> dict[str, str]:
    problems = [p for k, v in value.items() for p in (_label_key_problem(k), _label_value_problem(k, v)) if p]
    if problems:
        raise ValueError("; ".join(problems))
    return value


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError("must be a Kubernetes quantity such as '500m', '2', '8Gi'")
    return value


def _image_repo(value: str) -> str:
    if ":" in value.rsplit("/", 1)[-1] or "@" in value or not _IMAGE_REPO.match(value):
        raise ValueError("must be an image repository without tag or digest, e.g. 'vllm/vllm-openai'")
    return value


def _image_tag(value: str) -> str:
    if value == "latest" or not _IMAGE_TAG.match(value):
        raise ValueError("must be a pinned image tag (not 'latest'), e.g. 'v0.33.0'")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
ServiceName = Annotated[str, AfterValidator(_service_name)]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
Labels = Annotated[dict[str, str], AfterValidator(_labels)]
Quantity = Annotated[str, AfterValidator(_quantity)]
ImageRepo = Annotated[str, AfterValidator(_image_repo)]
ImageTag = Annotated[str, AfterValidator(_image_tag)]
ImageDigest = Annotated[
    str,
    AfterValidator(pattern(_IMAGE_DIGEST, "an image content digest: 'sha256:' and 64 lower-case hex digits")),
]
EksName = Annotated[
    str,
    AfterValidator(pattern(_EKS_NAME, "1-100 of [A-Za-z0-9-_], starting alphanumeric")),
    Field(max_length=100),
]
RoleArn = Annotated[
    str, AfterValidator(pattern(_ROLE_ARN, "an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"))
]
PolicyArn = Annotated[
    str, AfterValidator(pattern(_POLICY_ARN, "an IAM policy ARN (arn:aws:iam::aws:policy/NAME)"))
]
SubnetId = Annotated[str, AfterValidator(pattern(re.compile(r"^subnet-[0-9a-f]{8,17}$"), "a subnet id"))]
VpcId = Annotated[str, AfterValidator(pattern(re.compile(r"^vpc-[0-9a-f]{8,17}$"), "a VPC id"))]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "m": Decimal("0.001"),
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def quantity_value(quantity: str) -> Decimal:
    """The number a Kubernetes quantity stands for (``"500m"`` -> 0.5, ``"2Gi"`` -> 2147483648)."""
    match = _QUANTITY.match(quantity)
    if not match:
        raise ValueError(f"not a quantity: {quantity!r}")
    suffix = match.group(3) or ""
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"not a quantity: {quantity!r}") from exc
    return number * (_BINARY.get(suffix) or _DECIMAL[suffix])


def image_ref(repo: str, tag: str, digest: str | None) -> str:
    """``repo:tag``, or ``repo:tag@sha256:...``: the runtime pulls by digest and ignores the tag, which
    stays for the reader (and for the registry's UI)."""
    return f"{repo}:{tag}@{digest}" if digest else f"{repo}:{tag}"


# --- sections ---------------------------------------------------------------------------------


_INSTANCE_TYPE = re.compile(r"^(?P<family>[a-z]+[0-9]+(?P<attrs>[a-z-]*))\.[a-z0-9]+$")


class SystemNodesConfig(ConfigModel):
    """``cluster.systemNodes``: the small untainted managed node group a *created* cluster gets for
    CoreDNS, the cluster-autoscaler and other system pods (the GPU group is tainted and may be at zero).
    A managed node group, like the GPU one, so both share the cluster security group."""

    instance_type: Annotated[
        str, AfterValidator(pattern(_INSTANCE_TYPE, "an EC2 instance type such as 'm7i.large'"))
    ] = "m7i.large"
    ami_type: Literal["AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD"] = "AL2023_x86_64_STANDARD"
    """EKS-optimised AL2023 AMI: x86_64, or ARM_64 for Graviton types (m7g, c7g, t4g ...)."""
    disk_size: int = Field(default=50, ge=20, le=16384)
    """Root EBS volume, GiB (gp3, encrypted)."""
    min_size: int = Field(default=1, ge=1)
    desired_size: int = Field(default=2, ge=1)
    max_size: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _check(self) -> SystemNodesConfig:
        p = Problems()
        match = _INSTANCE_TYPE.match(self.instance_type)
        # Graviton families carry a "g" among the letters after the generation (m7g, c7gn, t4g, r8gd).
        graviton = bool(match and "g" in match.group("attrs"))
        arm = self.ami_type == "AL2023_ARM_64_STANDARD"
        p.check(
            graviton == arm,
            "amiType",
            f"{self.ami_type} does not run on {self.instance_type} "
            f"(use {'AL2023_ARM_64_STANDARD' if graviton else 'AL2023_x86_64_STANDARD'})",
        )
        p.raise_if_any()
        return self


class ClusterConfig(ConfigModel):
    """``cluster``: the EKS cluster the judge runs in."""

    name: EksName
    """EKS cluster name. An existing cluster is looked up by this name; with ``create`` it is created."""
    version: Annotated[str, AfterValidator(_eks_version)] = eks_versions.DEFAULT_VERSION
    """Kubernetes minor version: of the created cluster (an existing one's must match), and the schema
    rendered manifests are validated against. One of ``eks_versions.ACCEPTED_VERSIONS``."""
    create: bool = False
    """Create the cluster with pulumi-eks (greenfield stacks). False: use an existing cluster."""
    vpc_id: VpcId | None = None
    """VPC of a created cluster (required with ``create``)."""
    private_subnet_ids: list[SubnetId] = Field(default_factory=list)
    """Private subnets of a created cluster (required with ``create``); also the GPU nodes' default."""
    public_subnet_ids: list[SubnetId] = Field(default_factory=list)
    """Public subnets of a created cluster, for internet-facing load balancers (optional)."""
    endpoint_public_access: bool = True
    endpoint_private_access: bool = True
    system_nodes: SystemNodesConfig = Field(default_factory=SystemNodesConfig)
    kubeconfig_role_arn: RoleArn | None = None
    """Role that ``aws eks get-token`` assumes to talk to the cluster (``--role-arn``); none = caller.
    With ``create`` the stack gives this role an access entry with cluster-admin (EKS makes only the
    creating identity an admin); with an existing cluster the role must already have access."""
    node_monitoring_agent: bool | None = None
    """Install the EKS node monitoring agent add-on (``eks-node-monitoring-agent``), which reports GPU
    (XID, DCGM), kernel, network and storage faults as node conditions that node auto repair acts on.
    None: install it when the stack creates the cluster and ``nodeGroup.nodeRepair`` is on; an existing
    cluster's add-ons are left alone unless this is true."""

    @model_validator(mode="after")
    def _check(self) -> ClusterConfig:
        p = Problems()
        if self.create:
            p.check(self.vpc_id is not None, "vpcId", "required when create is true")
            p.check(
                bool(self.private_subnet_ids),
                "privateSubnetIds",
                "at least one subnet is required when create is true",
            )
            sn = self.system_nodes
            p.check(
                sn.min_size <= sn.max_size,
                "systemNodes.minSize",
                f"{sn.min_size} is greater than maxSize {sn.max_size}",
            )
            p.check(
                sn.min_size <= sn.desired_size <= sn.max_size,
                "systemNodes.desiredSize",
                f"{sn.desired_size} is outside [minSize {sn.min_size}, maxSize {sn.max_size}]",
            )
        else:
            for key in ("vpc_id", "private_subnet_ids", "public_subnet_ids"):
                if key in self.model_fields_set:
                    alias = type(self).model_fields[key].alias or key
                    p.add(alias, "only used when create is true (an existing cluster keeps its own network)")
        p.raise_if_any()
        return self


class TaintConfig(ConfigModel):
    """One node taint, in Kubernetes form (``sku=gpu:NoSchedule``)."""

    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"

    @model_validator(mode="after")
    def _check(self) -> TaintConfig:
        p = Problems()
        key_problem = _label_key_problem(self.key)
        p.check(key_problem is None, "key", key_problem or "")
        value_problem = _label_value_problem(self.key, self.value)
        p.check(value_problem is None, "value", value_problem or "")
        p.raise_if_any()
        return self


def _default_taints() -> list[TaintConfig]:
    return [TaintConfig(key="sku", value="gpu", effect="NoSchedule")]


class NodeGroupConfig(ConfigModel):
    """``nodeGroup``: the managed GPU node group (launch template + ``aws.eks.NodeGroup``)."""

    name: EksName = "ai-gpu"
    """Prefix of the EKS node group name (EKS appends a suffix so replacements never collide)."""
    instance_types: list[str] = Field(default_factory=lambda: ["g5.xlarge"], min_length=1)
    """GPU instance types; each must be in components/aws/instance_types.py (instance-store NVMe)."""
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    disk_size: int = Field(default=100, ge=20, le=16384)
    """Root EBS volume (GiB, gp3, encrypted): OS and images. Models live on the instance-store NVMe."""
    min_size: int = Field(default=0, ge=0)
    desired_size: int = Field(default=1, ge=0)
    """Initial size only: the cluster-autoscaler owns it afterwards (Pulumi ignores later drift)."""
    max_size: int = Field(default=1, ge=1)
    labels: Labels = Field(default_factory=lambda: {"role": "ai-gpu"})
    """Node labels; GPU pods select all of them."""
    taints: list[TaintConfig] = Field(default_factory=_default_taints)
    """Node taints; GPU pods tolerate all of them."""
    subnet_ids: list[SubnetId] = Field(default_factory=list)
    """Private subnets of the GPU nodes, in the AZs that have your GPU capacity. Required with an existing
    cluster (whose own subnets may include public ones); with a created cluster, empty means its
    ``privateSubnetIds``."""
    node_role_arn: RoleArn | None = None
    """Existing node IAM role. None: the stack creates one with the EKS worker policies."""
    extra_policy_arns: list[PolicyArn] = Field(default_factory=list)
    """More managed policies for a created node role (e.g. AmazonSSMManagedInstanceCore)."""
    metadata_hop_limit: Literal[1, 2] = 1
    """IMDSv2 hop limit. 1 keeps pods (not on the host network) from reading the node role's credentials."""
    node_repair: bool = True
    """EKS node auto repair of the GPU group: replaces (or reboots) nodes whose conditions turn
    unhealthy. Without the node monitoring agent that is only the kubelet's ``Ready``; GPU faults (XID
    errors, DCGM diagnostics) become node conditions only with the agent (``cluster.nodeMonitoringAgent``)."""
    autoscaler_tags: bool = True
    """Tag the node group and its Auto Scaling group for cluster-autoscaler discovery and scale-from-zero."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags for the node group, its instances and volumes."""

    @model_validator(mode="after")
    def _check(self) -> NodeGroupConfig:
        p = Problems()
        p.check(
            self.min_size <= self.max_size,
            "minSize",
            f"{self.min_size} is greater than maxSize {self.max_size}",
        )
        if self.min_size <= self.max_size:
            p.check(
                self.min_size <= self.desired_size <= self.max_size,
                "desiredSize",
                f"{self.desired_size} is outside [minSize {self.min_size}, maxSize {self.max_size}]",
            )
        for i, name in enumerate(self.instance_types):
            p.check(
                instance_types.lookup(name) is not None,
                f"instanceTypes[{i}]",
                instance_types.rejection_reason(name),
            )
        p.check(
            len(set(self.instance_types)) == len(self.instance_types), "instanceTypes", "lists a type twice"
        )
        known = [t for t in map(instance_types.lookup, self.instance_types) if t is not None]
        if len({t.gpus for t in known}) > 1:
            p.add(
                "instanceTypes",
                "all types must have the same GPU count (the autoscaler's node template has one "
                f"nvidia.com/gpu value); got {', '.join(f'{t.name}={t.gpus}' for t in known)}",
            )
        p.check(
            bool(self.labels),
            "labels",
            "must not be empty: they are the nodeSelector of the model loader and the device plugin, "
            "which would otherwise run (and download the model) on every node of the cluster",
        )
        for key in self.labels:
            p.check(
                not _kubelet_refuses(key),
                "labels",
                f"label key {key!r}: the kubelet refuses to set labels in the kubernetes.io and k8s.io "
                "namespaces (except node.kubernetes.io/ and kubelet.kubernetes.io/), so the nodes "
                "would never join",
            )
        seen: set[tuple[str, str]] = set()
        for i, taint in enumerate(self.taints):
            p.check(
                (taint.key, taint.effect) not in seen,
                f"taints[{i}]",
                f"duplicate taint {taint.key}:{taint.effect}",
            )
            seen.add((taint.key, taint.effect))
        p.raise_if_any()
        return self


class ModelConfig(ConfigModel):
    """``model``: what vLLM serves and the model loader downloads."""

    repo_id: str = "Qwen/Qwen2.5-7B-Instruct-AWQ"
    """Hugging Face repo id."""
    revision: str | None = None
    """Branch, tag or commit; pin a commit in prod so every node caches the same weights."""
    served_model_name: str | None = None
    """Name clients send as ``model``; None means the repo id."""
    max_model_len: int = Field(default=4096, ge=256, le=1_048_576)
    gpu_memory_utilization: float = 0.90
    """Fraction of GPU memory vLLM may use, in (0, 1]."""

    @property
    def effective_served_name(self) -> str:
        return self.served_model_name or self.repo_id

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
        p.check(
            self.served_model_name is None or bool(self.served_model_name.strip()),
            "servedModelName",
            "must not be blank",
        )
        p.raise_if_any()
        return self


class Quantities(ConfigModel):
    cpu: Quantity | None = None
    memory: Quantity | None = None


class ResourcesConfig(ConfigModel):
    """Container requests and limits (Kubernetes quantities)."""

    requests: Quantities = Field(default_factory=Quantities)
    limits: Quantities = Field(default_factory=Quantities)

    @model_validator(mode="after")
    def _check(self) -> ResourcesConfig:
        p = Problems()
        for kind in ("cpu", "memory"):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            if request and limit:
                p.check(
                    quantity_value(request) <= quantity_value(limit),
                    f"requests.{kind}",
                    f"{request} is greater than limits.{kind} {limit}",
                )
        p.raise_if_any()
        return self

    def manifest(self, extra: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
        """The ``resources`` block of a container (``extra`` goes into both requests and limits)."""
        out: dict[str, dict[str, str]] = {}
        for part in ("requests", "limits"):
            q: Quantities = getattr(self, part)
            values = {k: v for k, v in (("cpu", q.cpu), ("memory", q.memory)) if v is not None}
            values.update(extra or {})
            if values:
                out[part] = values
        return out


def _resources(cpu: str, memory: str, cpu_limit: str | None, memory_limit: str) -> ResourcesConfig:
    return ResourcesConfig(
        requests=Quantities(cpu=cpu, memory=memory), limits=Quantities(cpu=cpu_limit, memory=memory_limit)
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
    resources: ResourcesConfig = Field(default_factory=lambda: _resources("2", "8Gi", None, "16Gi"))
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


class ModelLoaderConfig(ConfigModel):
    """``modelLoader``: the DaemonSet filling each GPU node's NVMe cache (``python -m app.model_loader``)."""

    image: str | None = None
    """Pre-built model-loader image (``repo:tag`` or ``repo@sha256:...``). None: the stack builds
    build/Dockerfile.model-loader with pulumi-docker-build and pushes it to an ECR repository."""
    port: int = Field(default=8080, ge=1024, le=65535)
    resources: ResourcesConfig = Field(default_factory=lambda: _resources("500m", "1Gi", "2", "4Gi"))
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


class DevicePluginConfig(ConfigModel):
    """``devicePlugin``: NVIDIA's device plugin, which advertises ``nvidia.com/gpu`` (the AL2023 GPU
    AMI has none). Turn off where the cluster already runs one (e.g. the GPU operator)."""

    enabled: bool = True
    image: ImageRepo = "nvcr.io/nvidia/k8s-device-plugin"
    tag: ImageTag = "v0.20.1"
    digest: ImageDigest | None = None
    """Content digest of ``image:tag`` (``sha256:...``); set: the pods run ``image:tag@digest``."""

    @property
    def image_ref(self) -> str:
        return image_ref(self.image, self.tag, self.digest)


class NetworkPolicyConfig(ConfigModel):
    """``networkPolicy``: who may call the judge, and what the pods beside it may reach. Needs a
    network-policy engine (VPC CNI with ``enableNetworkPolicy``, Calico, Cilium)."""

    enabled: bool = True
    """Create the NetworkPolicies: the judge (its clients in, DNS out), the model loader (DNS and
    HTTPS out; in, only the Prometheus that scrapes it) and the device plugin (nothing in or out)."""
    client_pod_labels: Labels = Field(default_factory=lambda: {"app": "judge-service"})
    """Labels of the judge-client pods allowed to call vLLM on its port."""
    client_namespace_labels: Labels | None = None
    """Namespaces (by label) the clients run in; None: the judge's own namespace only."""

    @model_validator(mode="after")
    def _check(self) -> NetworkPolicyConfig:
        p = Problems()
        p.check(
            not self.enabled or bool(self.client_pod_labels),
            "clientPodLabels",
            "must not be empty: an empty selector admits every pod",
        )
        p.raise_if_any()
        return self


class AwsConfig(ConfigModel):
    """``llm-judge:aws``. Set ``enabled: false`` to leave the AWS half out of a stack."""

    enabled: bool = True
    region: Annotated[str, AfterValidator(pattern(_REGION, "an AWS region such as 'us-east-1'"))] = (
        "us-east-1"
    )
    cluster: ClusterConfig = Field(default_factory=lambda: ClusterConfig(name="llm-judge"))
    namespace: DnsLabel = "llm-judge"
    node_group: NodeGroupConfig = Field(default_factory=NodeGroupConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    vllm: VllmConfig = Field(default_factory=VllmConfig)
    service_name: ServiceName = "judge-inference-service"
    hf_token_secret_name: DnsSubdomain = "hf-secret"  # noqa: S105 - a Secret's name, not its value
    """Kubernetes Secret holding ``llm-judge:hfToken`` (created only when that secret is set)."""
    model_loader: ModelLoaderConfig = Field(default_factory=ModelLoaderConfig)
    device_plugin: DevicePluginConfig = Field(default_factory=DevicePluginConfig)
    network_policy: NetworkPolicyConfig = Field(default_factory=NetworkPolicyConfig)
    cluster_autoscaler: ClusterAutoscalerConfig = Field(default_factory=ClusterAutoscalerConfig)
    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags for every AWS resource of the stack."""

    def missing(self) -> list[tuple[str, str]]:
        """Keys an enabled AWS half needs that the config leaves out, as ``(relative key, message)``.
        Checked when the half is built, so a stack that switches AWS off needs none of them."""
        out: list[tuple[str, str]] = []
        if not self.cluster.create and not self.node_group.subnet_ids:
            out.append(
                (
                    "nodeGroup.subnetIds",
                    "required with an existing cluster (cluster.create is false): list the private subnets "
                    "for the GPU nodes. The cluster's own subnets may include public ones, where creating "
                    "the node group fails (Ec2SubnetInvalidConfiguration) or the nodes get public IPs",
                )
            )
        return out

    @property
    def gpu_types(self) -> list[instance_types.GpuInstanceType]:
        return [t for t in map(instance_types.lookup, self.node_group.instance_types) if t is not None]

    @model_validator(mode="after")
    def _check(self) -> AwsConfig:
        p = Problems()
        ng = self.node_group
        gpu_types = self.gpu_types
        if gpu_types and len(gpu_types) == len(ng.instance_types) and len({t.gpus for t in gpu_types}) == 1:
            per_node = gpu_types[0].gpus
            p.check(
                self.vllm.gpus <= per_node,
                "vllm.gpus",
                f"{self.vllm.gpus} GPUs per replica, but the node types have {per_node}: "
                "the pod could never schedule",
            )
            if self.vllm.gpus <= per_node:
                capacity = ng.max_size * (per_node // self.vllm.gpus)
                p.check(
                    self.vllm.replicas <= capacity,
                    "vllm.replicas",
                    f"{self.vllm.replicas} replicas need more GPUs than nodeGroup.maxSize {ng.max_size} "
                    f"nodes provide (room for {capacity})",
                )
        check_scaling(self, p)
        p.raise_if_any()
        return self


def check_scaling(cfg: AwsConfig, p: Problems) -> None:
    """Rules that span sections: replica bounds against GPUs, the autoscaler against the Kubernetes
    version, the scaling queries against a Prometheus, the GPU label against the group's GPU model."""
    ng, scaling = cfg.node_group, cfg.autoscaling
    gpu_types = cfg.gpu_types
    if scaling.enabled:
        p.check(
            cfg.prometheus.server_address is not None,
            "prometheus.serverAddress",
            "required when autoscaling.enabled is true: KEDA reads vLLM's queue from this Prometheus "
            "(e.g. http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090)",
        )
        if "replicas" in cfg.vllm.model_fields_set:
            p.add(
                "vllm.replicas",
                "KEDA owns the replica count while autoscaling.enabled is true: set "
                "autoscaling.minReplicas/maxReplicas instead",
            )
        complete = gpu_types and len(gpu_types) == len(ng.instance_types)
        if complete and len({t.gpus for t in gpu_types}) == 1 and cfg.vllm.gpus <= gpu_types[0].gpus:
            capacity = ng.max_size * (gpu_types[0].gpus // cfg.vllm.gpus)
            p.check(
                scaling.max_replicas <= capacity,
                "autoscaling.maxReplicas",
                f"{scaling.max_replicas} replicas need more GPUs than nodeGroup.maxSize {ng.max_size} x "
                f"{gpu_types[0].gpus} GPU(s) per node / vllm.gpus {cfg.vllm.gpus} provide (room for "
                f"{capacity}): raise nodeGroup.maxSize or lower maxReplicas",
            )
        if scaling.min_replicas == 0 and ng.min_size > 0:
            p.add(
                "autoscaling.minReplicas",
                f"0 saves nothing while nodeGroup.minSize is {ng.min_size}: the GPU node stays; set "
                "nodeGroup.minSize: 0 too (or minReplicas >= 1)",
            )
    ca = cfg.cluster_autoscaler
    if ca.enabled and ca.chart_version is None:
        row = autoscaler_versions.for_kubernetes(cfg.cluster.version)
        p.check(
            row is not None,
            "cluster.version",
            f"the cluster-autoscaler has no release pinned for Kubernetes {cfg.cluster.version} "
            f"(components/aws/autoscaler_versions.py covers {autoscaler_versions.covered()}): use a "
            "covered version, or pin clusterAutoscaler.chartVersion and imageTag yourself",
        )
    if ca.enabled and (ca.chart_version is None) != (ca.image_tag is None):
        p.add(
            "clusterAutoscaler.imageTag",
            "set chartVersion and imageTag together (an override of one against the other's table row "
            "would mix releases)",
        )
    if ng.autoscaler_tags and gpu_types and len({t.gpu_model for t in gpu_types}) > 1:
        p.add(
            "nodeGroup.instanceTypes",
            "all types must have the same GPU model: the node group carries one "
            "k8s.amazonaws.com/accelerator label (the cluster-autoscaler's GPU label) for all its nodes; "
            f"got {', '.join(f'{t.name}={t.gpu_model}' for t in gpu_types)} (split them into two groups)",
        )
