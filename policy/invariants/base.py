"""What every invariant works with: the shape of a policy, the UNKNOWN marker, safe lookups into
resource inputs, and where a Kubernetes workload or a Cloud Run job keeps its containers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# --- the shape of a policy ------------------------------------------------------------------------


class Unknown:
    """A value the engine does not know yet (pulumi-policy raises on reading one; the wiring turns it
    into this marker)."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()
ResourceCheck = Callable[[str, Mapping[str, Any], str], Iterator[str]]


@dataclass(frozen=True)
class Resource:
    """What a stack-wide check sees of each resource."""

    type: str
    props: Mapping[str, Any]
    name: str
    urn: str = ""


StackCheck = Callable[[Sequence[Resource]], Iterator[tuple[Resource, str]]]


@dataclass(frozen=True)
class Invariant:
    name: str
    description: str
    check: ResourceCheck


@dataclass(frozen=True)
class StackInvariant:
    name: str
    description: str
    check: StackCheck


def get(value: Any, *path: str | int) -> Any:
    """``value[path[0]][path[1]]...``; None where a step is missing, UNKNOWN where one is unknown."""
    for step in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            if not is_list(value) or step >= len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, Mapping):
                return None
            value = value.get(step)
    return value


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def items(value: Any) -> list[Any]:
    return list(value) if is_list(value) else []


_WORKLOAD_POD_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Any:
    """The pod spec of a Kubernetes workload resource (None for anything else)."""
    if not resource_type.startswith("kubernetes:"):
        return None
    path = _WORKLOAD_POD_PATHS.get(resource_type.rsplit(":", 1)[-1])
    return None if path is None else get(props, *path)


def containers(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(where, container)`` of a Kubernetes workload or a Cloud Run job or service."""
    spec = pod_spec(resource_type, props)
    if spec is not None and spec is not UNKNOWN:
        for key in CONTAINER_LISTS:
            for i, container in enumerate(items(get(spec, key))):
                yield f"{key}[{i}]", container
    elif resource_type in ("gcp:cloudrunv2/job:Job", "gcp:cloudrunv2/service:Service"):
        path = ("template", "template") if resource_type.endswith("Job") else ("template",)
        for i, container in enumerate(items(get(props, *path, "containers"))):
            yield f"{'.'.join(path)}.containers[{i}]", container


def env_entries(resource_type: str, container: Any) -> Iterable[Any]:
    """A container's environment entries: ``env`` in Kubernetes, ``envs`` on Cloud Run."""
    key = "envs" if resource_type.startswith("gcp:cloudrun") else "env"
    return items(get(container, key))
