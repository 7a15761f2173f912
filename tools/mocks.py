"""Pulumi's mock runtime, made faithful enough to show a stack the way ``pulumi preview`` would.

``StackMocks`` answers resource registrations with the inputs plus the computed fields a provider
would add (from the per-cloud tables ``tools/mock_outputs_aws.py`` and ``tools/mock_outputs_gcp.py``)
and data-source calls from the same tables. ``PlanMonitor`` is the SDK's mock monitor with two fixes
and a recorder: URNs carry the whole parent chain as real Pulumi's do (the SDK's mock keeps only the
nearest parent and prefixes top-level resources with the Stack type), and every registration keeps
its parent, its raw inputs (secrets still marked) and the stack's exports, so a plan can be written.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import empty_pb2, json_format
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.proto import resource_pb2

STACK_TYPE = "pulumi:pulumi:Stack"

ResourceTable = Mapping[str, Callable[[str, dict[str, Any]], dict[str, Any]]]
CallTable = Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]


def _tables() -> tuple[dict[str, Any], dict[str, Any]]:
    from tools import mock_outputs_aws, mock_outputs_gcp

    resources: dict[str, Any] = {}
    calls: dict[str, Any] = {}
    for module in (mock_outputs_aws, mock_outputs_gcp):
        resources.update(getattr(module, "RESOURCES", {}))
        calls.update(getattr(module, "CALLS", {}))
    return resources, calls


def unwrap_secrets(value: Any) -> Any:
    """The value with every secret marker removed (what a provider would see)."""
    if rpc.is_rpc_secret(value):
        return unwrap_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def kubernetes_auto_name(type_: str, name: str) -> str:
    """``metadata.name`` for an object that sets none: the Kubernetes provider auto-names it
    ``<resource name>-<8 random characters>``; a hash instead keeps plans reproducible."""
    return f"{name}-{hashlib.sha256(f'{type_}::{name}'.encode()).hexdigest()[:8]}"


def _generic_outputs(args: MockResourceArgs) -> dict[str, Any]:
    """Computed fields every resource of a family has, so the per-cloud tables stay short."""
    typ = args.typ
    out: dict[str, Any] = {}
    if typ.startswith("kubernetes:") and isinstance(args.inputs.get("metadata"), dict):
        metadata = dict(unwrap_secrets(args.inputs["metadata"]))
        if "name" not in metadata:
            metadata["name"] = kubernetes_auto_name(typ, args.name)
            out["metadata"] = metadata
    elif typ.startswith("aws:") and not typ.startswith("pulumi:"):
        service = typ.split(":")[1].split("/")[0]
        out.setdefault("arn", f"arn:aws:{service}:us-west-2:123456789012:{args.name}")
    return out


class StackMocks(pulumi.runtime.Mocks):
    """Resource outputs = inputs + computed fields; call results from the per-cloud tables."""

    def __init__(self, resources: ResourceTable | None = None, calls: CallTable | None = None):
        default_resources, default_calls = _tables()
        self.resources: dict[str, Any] = dict(default_resources if resources is None else resources)
        self.calls: dict[str, Any] = dict(default_calls if calls is None else calls)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        outputs.update(_generic_outputs(args))
        computed = self.resources.get(args.typ)
        if computed is not None:
            outputs.update(computed(args.name, unwrap_secrets(dict(args.inputs))))
        resource_id = outputs.pop("id", None) or args.resource_id or f"{args.name}-id"
        return resource_id, outputs

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        fn = self.calls.get(args.token)
        if fn is None:
            cloud = args.token.split(":")[0]
            raise LookupError(
                f"no mock result for the data source {args.token!r}: add it to CALLS in "
                f"tools/mock_outputs_{cloud}.py"
            )
        # No check failures: an empty list, not the None the SDK's annotation allows (its MockMonitor
        # iterates the second element).
        return fn(unwrap_secrets(dict(args.args))), []


@dataclass
class Registration:
    """One resource as the program registered it (raw inputs: JSON with Pulumi's signature keys)."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    raw_inputs: dict[str, Any]
    secret_outputs: list[str] = field(default_factory=list)
    read: bool = False
    dependencies: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False


def _raw(struct: Any) -> dict[str, Any]:
    return json_format.MessageToDict(struct) if struct is not None else {}


class PlanMonitor(MockMonitor):
    """The SDK's mock monitor with real URNs, recording every registration and the stack's exports."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self._lock = threading.Lock()
        self.registrations: dict[str, Registration] = {}
        self.stack_urn: str | None = None
        self.raw_outputs: dict[str, Any] = {}
        self.duplicate_urns: list[str] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # Real URNs qualify the type with every ancestor's type except the Stack's:
        # urn:pulumi:<stack>::<project>::<grandparent>$<parent>$<type>::<name>
        if parent:
            qualified_parent = parent.split("::")[2]
            if qualified_parent != STACK_TYPE:
                type_ = f"{qualified_parent}${type_}"
        return super().make_urn("", type_, name)

    def _parent(self, parent: str) -> str | None:
        return None if not parent or parent == self.stack_urn else parent

    def RegisterResource(
        self, request: resource_pb2.RegisterResourceRequest
    ) -> resource_pb2.RegisterResourceResponse:
        response = super().RegisterResource(request)
        if request.type == STACK_TYPE:
            self.stack_urn = response.urn
            return response
        reg = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=self._parent(request.parent),
            custom=bool(request.custom),
            raw_inputs=_raw(request.object),
            secret_outputs=list(request.additionalSecretOutputs),
            dependencies=list(request.dependencies),
            ignore_changes=list(request.ignoreChanges),
            delete_before_replace=bool(request.deleteBeforeReplace),
        )
        with self._lock:
            # Reported after the run (raising here would leave futures nobody awaits): the engine
            # rejects a second registration of a URN, so the plan must too.
            if reg.urn in self.registrations:
                self.duplicate_urns.append(reg.urn)
            self.registrations[reg.urn] = reg
        return response

    def ReadResource(self, request: resource_pb2.ReadResourceRequest) -> resource_pb2.ReadResourceResponse:
        response = super().ReadResource(request)
        reg = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=self._parent(request.parent),
            custom=True,
            raw_inputs=_raw(request.properties),
            secret_outputs=list(request.additionalSecretOutputs),
            read=True,
        )
        with self._lock:
            self.registrations[reg.urn] = reg
        return response

    def RegisterResourceOutputs(
        self, request: resource_pb2.RegisterResourceOutputsRequest
    ) -> empty_pb2.Empty:
        if request.urn and request.urn == self.stack_urn:
            self.raw_outputs = _raw(request.outputs)
        return super().RegisterResourceOutputs(request)
