"""The stack's invariants, as pure functions of a resource's type, inputs and name.

Each is true of every resource this program registers, and each states a rule of the project rather
than today's list of resources, so that whatever is added later is held to it:

- no-project-storage-or-primitive-roles: no basic role (owner, editor, viewer) anywhere, no storage
  role above the bucket (project, folder, organization), no public principal in any IAM grant;
- buckets-uniform-and-private: every GCS bucket has uniform bucket-level access and enforced public
  access prevention, and no ACL resource undoes either;
- imdsv2-required: launch templates and instances require IMDSv2 tokens; EKS node groups use a launch
  template (EKS's default one allows IMDSv1);
- images-pinned: every container image (Kubernetes workloads, Cloud Run) has a digest or a tag other
  than `latest`;
- gpu-pods-tolerate-gpu-taint (stack-wide): every pod that requests GPUs or selects a GPU node group's
  labels tolerates that group's taints, or it would never schedule (and a GPU node would idle);
- secrets-never-plain: secret-named environment variables come from a secret reference, credential
  flags carry no literal value, and no credential-shaped text appears outside the fields made to
  hold secrets.

This module imports nothing but the standard library: ``__main__.py`` wires it into pulumi-policy's
``PolicyPack`` (in the pack's own venv), and the project's tests run it against the offline plans.
Values the engine does not know yet (a preview before a dependency exists) arrive as ``UNKNOWN``
and are never a violation: the same policy runs again on the known value during ``pulumi up``.

A note on secrets: pulumi-policy unwraps secret values before a policy sees them, so "was this
value marked secret?" cannot be asked here; the offline plan's masking tests (tests/tools) cover that
the program marks them. What can be asked here is whether secret material travels in plain fields.
"""

from __future__ import annotations

import json
import re
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


def _get(value: Any, *path: str | int) -> Any:
    """``value[path[0]][path[1]]...``; None where a step is missing, UNKNOWN where one is unknown."""
    for step in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            if not _is_list(value) or step >= len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, Mapping):
                return None
            value = value.get(step)
    return value


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _items(value: Any) -> list[Any]:
    return list(value) if _is_list(value) else []


# --- no-project-storage-or-primitive-roles ---------------------------------------------------------

BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
PUBLIC_PRINCIPALS = frozenset({"allUsers", "allAuthenticatedUsers"})
_IAM_TYPE = re.compile(r"^gcp:[^:]+:[A-Za-z]*(IAM|Iam)(Member|Binding|Policy)$")
_ABOVE_RESOURCES = ("gcp:projects/", "gcp:folder/", "gcp:organizations/")


def _grants(props: Mapping[str, Any]) -> Iterator[tuple[Any, list[Any]]]:
    """``(role, members)`` of an IAM member, binding or whole policy (``policyData`` JSON)."""
    if "role" in props:
        members = props.get("members")
        yield props["role"], _items(members) if members is not None else [props.get("member")]
        return
    policy = props.get("policyData")
    if isinstance(policy, str):
        try:
            data = json.loads(policy)
        except ValueError:
            return
        for binding in _items(data.get("bindings") if isinstance(data, Mapping) else None):
            if isinstance(binding, Mapping):
                yield binding.get("role"), _items(binding.get("members"))


def check_iam(resource_type: str, props: Mapping[str, Any], name: str) -> Iterator[str]:
    if not _IAM_TYPE.match(resource_type):
        return
    above_resources = resource_type.startswith(_ABOVE_RESOURCES)
    for role, members in _grants(props):
        if not isinstance(role, str):
            continue
        if role in BASIC_ROLES:
            yield f"grants the basic role {role}: grant a predefined role with only the permissions needed"
        elif above_resources and role.startswith("roles/storage."):
            yield (
                f"grants {role} on a whole {resource_type.split(':')[1].split('/')[0].rstrip('s')}: "
                "grant storage roles on the bucket (gcp.storage.BucketIAMMember), with a condition per prefix"
            )
        for member in members:
            if member in PUBLIC_PRINCIPALS:
                yield f"grants {role} to {member}: nothing in this stack is public"


# --- buckets-uniform-and-private ---------------------------------------------------------------

_ACL_TYPES = re.compile(r"^gcp:storage/[A-Za-z]*(ACL|AccessControl):")


def check_buckets(resource_type: str, props: Mapping[str, Any], name: str) -> Iterator[str]:
    if _ACL_TYPES.match(resource_type):
        kind = resource_type.rsplit(":", 1)[1]
        yield f"{kind} sets ACLs, which uniform bucket-level access refuses: grant IAM roles instead"
        return
    if resource_type != "gcp:storage/bucket:Bucket":
        return
    uniform = props.get("uniformBucketLevelAccess")
    if uniform is not UNKNOWN and uniform is not True:
        yield "uniformBucketLevelAccess is not true: set it, so IAM alone decides who reads and writes"
    prevention = props.get("publicAccessPrevention")
    if prevention is not UNKNOWN and prevention != "enforced":
        yield f"publicAccessPrevention is {prevention!r}: set it to 'enforced'"


# --- imdsv2-required ---------------------------------------------------------------------------

_METADATA_TYPES = ("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance")


def check_imdsv2(resource_type: str, props: Mapping[str, Any], name: str) -> Iterator[str]:
    if resource_type == "aws:eks/nodeGroup:NodeGroup":
        if props.get("launchTemplate") is None:
            yield "has no launch template, so EKS's default one applies, which allows IMDSv1: give it one"
        return
    if resource_type not in _METADATA_TYPES:
        return
    options = props.get("metadataOptions")
    if options is UNKNOWN:
        return
    endpoint = _get(options, "httpEndpoint")
    tokens = _get(options, "httpTokens")
    if endpoint == "disabled" or tokens in ("required", UNKNOWN):
        return
    yield (
        f"metadataOptions.httpTokens is {tokens!r}: set it to 'required' (IMDSv2 only), or a pod that "
        "reaches the instance metadata service can take the node's role credentials"
    )


# --- images-pinned -----------------------------------------------------------------------------

_WORKLOAD_POD_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Any:
    """The pod spec of a Kubernetes workload resource (None for anything else)."""
    if not resource_type.startswith("kubernetes:"):
        return None
    path = _WORKLOAD_POD_PATHS.get(resource_type.rsplit(":", 1)[-1])
    return None if path is None else _get(props, *path)


def containers(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(where, container)`` of a Kubernetes workload or a Cloud Run job or service."""
    spec = pod_spec(resource_type, props)
    if spec is not None and spec is not UNKNOWN:
        for key in _CONTAINER_LISTS:
            for i, container in enumerate(_items(_get(spec, key))):
                yield f"{key}[{i}]", container
    elif resource_type in ("gcp:cloudrunv2/job:Job", "gcp:cloudrunv2/service:Service"):
        path = ("template", "template") if resource_type.endswith("Job") else ("template",)
        for i, container in enumerate(_items(_get(props, *path, "containers"))):
            yield f"{'.'.join(path)}.containers[{i}]", container


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
        image = _get(container, "image")
        if isinstance(image, str) and (problem := image_problem(image)):
            yield f"{where} image {image!r} {problem}: pin a version tag or a digest"


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
            for t in _items(r.props.get("taints"))
            if isinstance(t, Mapping)
        )
        labels = r.props.get("labels")
        groups.append(_GpuGroup(r.name, labels if isinstance(labels, Mapping) else {}, taints))
    return groups


def _tolerates(tolerations: list[Any], taint: tuple[str, str, str]) -> bool:
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
    for key in _CONTAINER_LISTS:
        for container in _items(spec.get(key)):
            resources = _get(container, "resources")
            for kind in ("limits", "requests"):
                amounts = _get(resources, kind)
                if isinstance(amounts, Mapping) and GPU_RESOURCE in amounts:
                    return True
    return False


def _targets(spec: Mapping[str, Any], group: _GpuGroup) -> bool:
    selector = spec.get("nodeSelector")
    return bool(group.labels) and isinstance(selector, Mapping) and group.labels.items() <= selector.items()


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
        tolerations = _items(spec.get("tolerations"))
        targeted = [g for g in groups if _targets(spec, g)]
        if not targeted and _requests_gpus(spec):
            # Requests GPUs without choosing a group: it must fit at least one of them.
            if not any(
                all(_tolerates(tolerations, t) for t in g.taints if t[2] in _REPELLING) for g in groups
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
                if e in _REPELLING and not _tolerates(tolerations, (k, v, e))
            ]
            if missing:
                yield (
                    r,
                    (
                        f"selects the GPU node group {group.name} but does not tolerate its taint(s) "
                        f"{', '.join(missing)}: it would never schedule"
                    ),
                )


# --- secrets-never-plain -------------------------------------------------------------------------

_SECRET_NAME = re.compile(
    r"(^|_)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)($|_)"
)
_NOT_A_SECRET_NAME = re.compile(
    r"_(FILE|PATH|DIR|URL|URI|ENDPOINT|ID|NAME|ARN)$|^GOOGLE_APPLICATION_CREDENTIALS$"
)
_SECRET_FLAGS = re.compile(r"^--(api-key|token|hf-token|password|secret|access-key)(=.+)?$")
CREDENTIAL_PATTERNS = {
    "a Hugging Face token": re.compile(r"\bhf_[A-Za-z0-9]{30,}"),
    "an AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a GCP service account key": re.compile(r'"private_key_id"\s*:'),
    "a GitHub token": re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    "an OpenAI-style API key": re.compile(r"\bsk-[A-Za-z0-9_-]{32,}"),
}
# The fields made to hold secret material (the providers mark them secret in their schemas).
SECRET_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "kubernetes:core/v1:Secret": (("data",), ("stringData",)),
    "gcp:secretmanager/secretVersion:SecretVersion": (("secretData",),),
    "aws:secretsmanager/secretVersion:SecretVersion": (("secretString",), ("secretBinary",)),
    "docker-build:index:Image": (("registries", "*", "password"),),
}


def _env_entries(resource_type: str, container: Any) -> Iterable[Any]:
    key = "envs" if resource_type.startswith("gcp:cloudrun") else "env"
    return _items(_get(container, key))


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, (*path, str(k)))
    elif _is_list(value):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, str(i)))


def _in_secret_field(resource_type: str, path: tuple[str, ...]) -> bool:
    for field in SECRET_FIELDS.get(resource_type, ()):
        if len(path) >= len(field) and all(f in ("*", p) for f, p in zip(field, path, strict=False)):
            return True
    return False


def check_secrets(resource_type: str, props: Mapping[str, Any], name: str) -> Iterator[str]:
    for where, container in containers(resource_type, props):
        for env in _env_entries(resource_type, container):
            env_name = _get(env, "name")
            if not isinstance(env_name, str) or not _SECRET_NAME.search(env_name.upper()):
                continue
            if _NOT_A_SECRET_NAME.search(env_name.upper()):
                continue
            value = _get(env, "value")
            if isinstance(value, str) and value:
                yield (
                    f"{where} env {env_name} holds a literal value: take it from a secret "
                    "(valueFrom.secretKeyRef, or valueSource.secretKeyRef on Cloud Run)"
                )
        args = [a for key in ("command", "args") for a in _items(_get(container, key))]
        for i, arg in enumerate(args):
            if not isinstance(arg, str) or not (match := _SECRET_FLAGS.match(arg)):
                continue
            if match.group(2) or (i + 1 < len(args) and isinstance(args[i + 1], str)):
                flag = arg.split("=", 1)[0]
                yield f"{where} passes {flag} on the command line: read it from an env var set from a secret"
    for path, text in _strings(props):
        if _in_secret_field(resource_type, path):
            continue
        for what, pattern in CREDENTIAL_PATTERNS.items():
            if pattern.search(text):
                where = ".".join(path) or "(value)"
                yield f"{where} holds what looks like {what}: keep it in a secret and refer to it"


# --- the pack ------------------------------------------------------------------------------------

RESOURCE_INVARIANTS = (
    Invariant(
        "no-project-storage-or-primitive-roles",
        "No basic roles, no storage roles above the bucket, no public principals in IAM grants.",
        check_iam,
    ),
    Invariant(
        "buckets-uniform-and-private",
        "GCS buckets have uniform bucket-level access and enforced public access prevention; no ACLs.",
        check_buckets,
    ),
    Invariant(
        "imdsv2-required",
        "Launch templates and instances require IMDSv2; EKS node groups use a launch template.",
        check_imdsv2,
    ),
    Invariant(
        "images-pinned",
        "Every container image has a digest or a version tag (never `latest`, never no tag).",
        check_images,
    ),
    Invariant(
        "secrets-never-plain",
        "Secret material travels only by reference: no literal secret env values, flags or credentials.",
        check_secrets,
    ),
)
STACK_INVARIANTS = (
    StackInvariant(
        "gpu-pods-tolerate-gpu-taint",
        "Pods that request GPUs or select a GPU node group tolerate that group's taints.",
        check_gpu_tolerations,
    ),
)


def violations(resource_type: str, props: Mapping[str, Any], name: str) -> list[tuple[str, str]]:
    """``(invariant name, message)`` of every resource invariant this resource breaks."""
    return [(inv.name, msg) for inv in RESOURCE_INVARIANTS for msg in inv.check(resource_type, props, name)]


def stack_violations(resources: Sequence[Resource]) -> list[tuple[str, Resource, str]]:
    """``(invariant name, resource, message)`` of every stack-wide invariant the stack breaks."""
    return [(inv.name, r, msg) for inv in STACK_INVARIANTS for r, msg in inv.check(resources)]
