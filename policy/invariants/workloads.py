"""Kubernetes and Cloud Run workloads: pinned images, no test hooks, and GPU pods that can actually
schedule."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .base import CONTAINER_LISTS, UNKNOWN, Resource, containers, env_entries, get, items, pod_spec

# --- images-pinned -----------------------------------------------------------------------------


def image_problem(reference: str) -> str | None:
    """Why an image reference is not pinned (None if it is): no digest and a missing or `latest` tag."""
    if "@sha256:" in reference:
        return None
    last = reference.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    if tag is None:
        return "has no tag, which means `latest`"
    if tag == "latest":
        return "is `latest`"
    return None


def check_images(resource_type: str, props: Mapping[str, Any], name: str) -> Iterator[str]:
    for where, container in containers(resource_type, props):
        image = get(container, "image")
        if isinstance(image, str) and (problem := image_problem(image)):
            yield f"{where} image {image!r} {problem}: pin a version tag or a digest"


# --- no-test-hooks --------------------------------------------------------------------------------

# The tests' fault-injection hooks: LOADER_CRASH_AT makes the loader kill itself at a chosen point
# (app/loader/crash.py), and any future one follows the name. The stack config refuses them in extraEnv
# too (components/config/gcp_jobs.py); this catches whatever else would put one in a workload.
_TEST_HOOK = re.compile(r"_CRASH_AT$")


def check_test_hooks(resource_type: str, props: Mapping[str, Any], name: str) -> Iterator[str]:
    for where, container in containers(resource_type, props):
        for env in env_entries(resource_type, container):
            env_name = get(env, "name")
            if isinstance(env_name, str) and _TEST_HOOK.search(env_name.upper()):
                yield (
                    f"{where} env {env_name} is a test-only fault-injection hook (the process kills itself "
                    "on purpose): a deployment never sets it"
                )


# --- gpu-pods-tolerate-gpu-taint ----------------------------------------------------------------

GPU_RESOURCE = "nvidia.com/gpu"
_EKS_EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "NO_EXECUTE": "NoExecute",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
}
_REPELLING = ("NoSchedule", "NoExecute")


@dataclass(frozen=True)
class _GpuGroup:
    name: str
    labels: Mapping[str, Any]
    taints: tuple[tuple[str, str, str], ...]  # (key, value, Kubernetes effect)


def _gpu_groups(resources: Sequence[Resource]) -> list[_GpuGroup]:
    """EKS node groups on a GPU AMI (``AL2023_x86_64_NVIDIA``, ``AL2_x86_64_GPU``, Bottlerocket NVIDIA)."""
    groups = []
    for r in resources:
        ami = r.props.get("amiType")
        if r.type != "aws:eks/nodeGroup:NodeGroup" or not isinstance(ami, str):
            continue
        if "NVIDIA" not in ami and "GPU" not in ami:
            continue
        taints = tuple(
            (
                str(t.get("key")),
                str(t.get("value") or ""),
                _EKS_EFFECTS.get(str(t.get("effect")), str(t.get("effect"))),
            )
            for t in items(r.props.get("taints"))
            if isinstance(t, Mapping)
        )
        labels = r.props.get("labels")
        groups.append(_GpuGroup(r.name, labels if isinstance(labels, Mapping) else {}, taints))
    return groups


def tolerates(tolerations: list[Any], taint: tuple[str, str, str]) -> bool:
    """Kubernetes' matching: same key (or an empty key with Exists), same effect (or none), and
    Exists or an equal value."""
    key, value, effect = taint
    for t in tolerations:
        if not isinstance(t, Mapping):
            continue
        operator = t.get("operator") or "Equal"
        if t.get("effect") not in (None, "", effect):
            continue
        if not t.get("key"):
            if operator == "Exists":
                return True
            continue
        if t.get("key") == key and (operator == "Exists" or str(t.get("value") or "") == value):
            return True
    return False


def _requests_gpus(spec: Mapping[str, Any]) -> bool:
    for key in CONTAINER_LISTS:
        for container in items(spec.get(key)):
            resources = get(container, "resources")
            for kind in ("limits", "requests"):
                amounts = get(resources, kind)
                if isinstance(amounts, Mapping) and GPU_RESOURCE in amounts:
                    return True
    return False


def _targets(spec: Mapping[str, Any], group: _GpuGroup) -> bool:
    """The pod's nodeSelector picks this group's nodes: every label it asks for, the group's nodes carry."""
    selector = spec.get("nodeSelector")
    if not isinstance(selector, Mapping) or not selector:
        return False
    return all(group.labels.get(key) == value for key, value in selector.items())


def check_gpu_tolerations(resources: Sequence[Resource]) -> Iterator[tuple[Resource, str]]:
    groups = _gpu_groups(resources)
    if not groups:
        return
    for r in resources:
        spec = pod_spec(r.type, r.props)
        if not isinstance(spec, Mapping):
            continue
        if spec.get("tolerations") is UNKNOWN:
            continue
        tolerations = items(spec.get("tolerations"))
        targeted = [g for g in groups if _targets(spec, g)]
        if not targeted and _requests_gpus(spec):
            # Requests GPUs without choosing a group: it must fit at least one of them.
            if not any(
                all(tolerates(tolerations, t) for t in g.taints if t[2] in _REPELLING) for g in groups
            ):
                taints = sorted({f"{k}={v}:{e}" for g in groups for k, v, e in g.taints if e in _REPELLING})
                yield (
                    r,
                    f"requests {GPU_RESOURCE} but tolerates none of the GPU node groups' taints "
                    f"({', '.join(taints)}): it would never schedule",
                )
            continue
        for group in targeted:
            missing = [
                f"{k}={v}:{e}"
                for k, v, e in group.taints
                if e in _REPELLING and not tolerates(tolerations, (k, v, e))
            ]
            if missing:
                yield (
                    r,
                    (
                        f"selects the GPU node group {group.name} but does not tolerate its taint(s) "
                        f"{', '.join(missing)}: it would never schedule"
                    ),
                )
