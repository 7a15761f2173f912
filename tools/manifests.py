"""Kubernetes objects as they would be sent to the cluster, rendered from pulumi_kubernetes inputs.

A ``kubernetes:<group>/<version>:<Kind>`` resource's inputs are the object itself (``apiVersion``,
``kind``, ``metadata``, ``spec``, ``data``...). What is not part of the object is dropped: Pulumi's
internal ``__``-prefixed properties, and resources that are not single objects (Helm releases,
YAML/Kustomize groups, ``...Patch`` resources, providers). Objects without ``metadata.name`` get
the name the provider's auto-naming would give them (mocked deterministically).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import kubernetes_validate
import yaml
from kubernetes_validate.utils import all_versions, major_minor

from components.config import eks_versions

from . import crd_validate
from .mocks import kubernetes_auto_name
from .plan_runtime import Plan, PlannedResource

DEFAULT_KUBERNETES_VERSION = eks_versions.DEFAULT_VERSION
"""Used when the stack config names no cluster version (e.g. the AWS half is disabled)."""

_NOT_OBJECTS = re.compile(r"^kubernetes:(helm\.sh/|yaml|kustomize|pulumi:)|Patch$")

# The order a person writes Kubernetes YAML in (kubectl's own output and the upstream docs follow it):
# an object's apiVersion, kind, metadata, spec; a container's name, image, command, args, env...; a pod
# spec's scheduling fields before its containers and volumes. One global ranking serves every level
# because the fields that share a name across types (name, type, securityContext, ports) want the same
# place everywhere. Keys not listed follow in alphabetical order, so the output never depends on the
# order the engine's wire format happened to deliver.
_KEY_ORDER = (
    # object and metadata
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    # workload spec
    "replicas",
    "serviceName",
    "path",
    "type",
    "selector",
    "strategy",
    "updateStrategy",
    "minReadySeconds",
    "template",
    # NetworkPolicy spec and rules
    "podSelector",
    "policyTypes",
    "ingress",
    "egress",
    "from",
    "to",
    # pod spec: identity and scheduling first
    "serviceAccountName",
    "automountServiceAccountToken",
    "enableServiceLinks",
    "priorityClassName",
    "hostNetwork",
    "nodeSelector",
    "affinity",
    "tolerations",
    # container (and toleration, env var, port, mount, probe) fields
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "workingDir",
    "key",
    "operator",
    "value",
    "valueFrom",
    "effect",
    "env",
    "envFrom",
    "containerPort",
    "port",
    "targetPort",
    "protocol",
    "ports",
    "mountPath",
    "subPath",
    "readOnly",
    "resources",
    "requests",
    "limits",
    "volumeMounts",
    "httpGet",
    "exec",
    "tcpSocket",
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "failureThreshold",
    "startupProbe",
    "readinessProbe",
    "livenessProbe",
    # then the pod's security context, lifecycle, containers and volumes
    "securityContext",
    "terminationGracePeriodSeconds",
    "initContainers",
    "containers",
    "volumes",
    # inside a security context: who runs, then what it may do
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "privileged",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "capabilities",
    "seccompProfile",
)
_RANK = {key: i for i, key in enumerate(_KEY_ORDER)}
_FREE_FORM = frozenset(
    {
        "labels",
        "annotations",
        "matchLabels",
        "nodeSelector",
        "data",
        "stringData",
        "binaryData",
        "requests",
        "limits",
    }
)
"""Maps whose keys are data (label names, resource names), not fields: sorted, never ranked."""


@dataclass(frozen=True)
class Manifest:
    filename: str
    urn: str
    obj: dict[str, Any]

    def to_yaml(self) -> str:
        header = f"# Rendered offline from {self.urn}\n"
        # No folding of long strings (annotations, reasons): a person writes them on one line.
        return header + yaml.safe_dump(self.obj, sort_keys=False, default_flow_style=False, width=2**20)


def kubernetes_version(plan: Plan) -> str:
    """The cluster's Kubernetes version from the stack config (``aws.cluster.version``), else the default."""
    value: Any = plan.config
    for attr in ("aws", "cluster", "version"):
        value = getattr(value, attr, None)
    return str(value) if value else DEFAULT_KUBERNETES_VERSION


def is_kubernetes_object(resource: PlannedResource) -> bool:
    return (
        resource.custom
        and resource.type.startswith("kubernetes:")
        and not _NOT_OBJECTS.search(resource.type)
        and "apiVersion" in resource.inputs
        and "kind" in resource.inputs
        and not str(resource.inputs["kind"]).endswith("List")
    )


def conventional_order(value: Any, *, free_form: bool = False) -> Any:
    """``value`` with every mapping's keys in the conventional order (``_KEY_ORDER``), recursively.
    Lists keep their order: it is meaningful (containers, args, env)."""
    if isinstance(value, dict):
        keys = sorted(value) if free_form else sorted(value, key=lambda k: (_RANK.get(k, len(_RANK)), k))
        return {k: conventional_order(value[k], free_form=k in _FREE_FORM) for k in keys}
    if isinstance(value, list):
        return [conventional_order(v) for v in value]
    return value


def to_manifest(resource: PlannedResource) -> dict[str, Any]:
    obj = {k: v for k, v in resource.inputs.items() if not k.startswith("__")}
    metadata = dict(obj.get("metadata") or {})
    metadata.setdefault("name", kubernetes_auto_name(resource.type, resource.name))
    obj["metadata"] = metadata
    return conventional_order(obj)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-")


def manifests(plan: Plan) -> list[Manifest]:
    """One manifest per Kubernetes object, named ``<kind>_<namespace|cluster>_<name>.yaml``."""
    found: list[Manifest] = []
    used: set[str] = set()
    for resource in plan.resources:
        if not is_kubernetes_object(resource):
            continue
        obj = to_manifest(resource)
        namespace = obj["metadata"].get("namespace") or "cluster"
        stem = f"{_slug(obj['kind'])}_{_slug(namespace)}_{_slug(obj['metadata']['name'])}"
        filename = f"{stem}.yaml"
        if filename in used:
            filename = f"{stem}_{_slug(resource.name)}.yaml"
        used.add(filename)
        found.append(Manifest(filename, resource.urn, obj))
    return found


def check_version_supported(version: str) -> None:
    supported = sorted({major_minor(v) for v in all_versions()}, key=lambda v: tuple(map(int, v.split("."))))
    if major_minor(version) not in supported:
        raise ValueError(
            f"kubernetes-validate has no schemas for Kubernetes {version} "
            f"(it has {supported[0]} to {supported[-1]})"
        )


def validate(manifest: Manifest, version: str) -> str | None:
    """None if the object is valid for ``version`` (strict: unknown fields are errors), else why not.
    Custom resources go through ``tools.crd_validate`` (one at a time here; ``validate_all`` batches)."""
    if crd_validate.is_custom(manifest.obj):
        problem = crd_validate.validate([(manifest.filename, manifest.obj)])[manifest.filename]
        return f"{manifest.filename}: {problem}" if problem else None
    try:
        kubernetes_validate.validate(manifest.obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path) or "(root)"
        return f"{manifest.filename}: {path}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        return f"{manifest.filename}: {exc.message}"
    return None


def validate_all(found: list[Manifest], version: str) -> list[str]:
    """Every problem of ``found``: core kinds against Kubernetes ``version``'s schema, custom resources
    against their operators' schemas (one Node process for all of them)."""
    problems = [p for p in (validate(m, version) for m in found if not crd_validate.is_custom(m.obj)) if p]
    custom = [(m.filename, m.obj) for m in found if crd_validate.is_custom(m.obj)]
    if custom:
        for name, problem in crd_validate.validate(custom).items():
            if problem:
                problems.append(f"{name}: {problem}")
    return problems
