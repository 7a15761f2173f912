"""What the Kubernetes builders return: the parts of an object a component hands to its typed
pulumi_kubernetes resource, each part one of the SDK's own ``*ArgsDict`` TypedDicts.

The SDK's whole-object TypedDicts (``DaemonSetArgsDict`` ...) make ``metadata`` and ``spec``
optional, so a component reading them would need a check per key; these name the parts the builders
always fill. Keys inside are the SDK's snake_case names (``security_context``, ``from_``): the SDK
sends them as Kubernetes' camelCase, so ``build/plan/<stack>/manifests/`` stays ordinary YAML, and a
type checker rejects a misspelled or camelCase key that the mocks and the API server's pruning of
unknown fields would both let through.

Custom resources (KEDA, Prometheus Operator) have no SDK types: their ``spec`` stays a plain dict in
the CRD's own camelCase, checked against the CRD schemas by ``tools/crd_validate.py`` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_kubernetes.apps.v1 import DaemonSetSpecArgsDict, DeploymentSpecArgsDict
    from pulumi_kubernetes.core.v1 import ServiceSpecArgsDict
    from pulumi_kubernetes.meta.v1 import ObjectMetaArgsDict
    from pulumi_kubernetes.networking.v1 import NetworkPolicySpecArgsDict


class DaemonSetParts(TypedDict):
    metadata: ObjectMetaArgsDict
    spec: DaemonSetSpecArgsDict


class DeploymentParts(TypedDict):
    metadata: ObjectMetaArgsDict
    spec: DeploymentSpecArgsDict


class ServiceParts(TypedDict):
    metadata: ObjectMetaArgsDict
    spec: ServiceSpecArgsDict


class ServiceAccountParts(TypedDict):
    metadata: ObjectMetaArgsDict
    automount_service_account_token: bool


class SecretParts(TypedDict):
    """A Secret's metadata and type; its data is set by the component, as a Pulumi secret."""

    metadata: ObjectMetaArgsDict
    type: str


class NetworkPolicyParts(TypedDict):
    metadata: ObjectMetaArgsDict
    spec: NetworkPolicySpecArgsDict


class CustomResourceManifest(TypedDict):
    """A whole custom resource in the manifest's own keys; ``metadata`` is typed like any object's."""

    apiVersion: str
    kind: str
    metadata: ObjectMetaArgsDict
    spec: dict[str, Any]
