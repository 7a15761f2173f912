"""What `make plan` prints and writes, from hand-made plans: tree, manifests, schema validation."""

from __future__ import annotations

import json

import pytest

from tools import manifests as k8s
from tools.mocks import kubernetes_auto_name
from tools.plan import display_type, tree_lines
from tools.plan_runtime import Plan, PlannedResource, render

P = "urn:pulumi:dev::llm-judge::"


def _res(
    type_: str, name: str, parent: str | None = None, inputs: dict | None = None, chain: str = ""
) -> PlannedResource:
    return PlannedResource(
        urn=f"{P}{chain}{type_}::{name}", type=type_, name=name, parent=parent, inputs=inputs or {}
    )


def _deployment(**spec) -> PlannedResource:
    return _res(
        "kubernetes:apps/v1:Deployment",
        "vllm",
        inputs={
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"namespace": "llm-judge", "labels": {"app": "vllm"}},
            "spec": {
                "selector": {"matchLabels": {"app": "vllm"}},
                "template": {
                    "metadata": {"labels": {"app": "vllm"}},
                    "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.11.0"}]},
                },
                **spec,
            },
        },
    )


def test_types_are_shown_in_pulumi_previews_short_form():
    assert display_type("aws:iam/role:Role") == "aws:iam:Role"
    assert display_type("aws:ec2/launchTemplate:LaunchTemplate") == "aws:ec2:LaunchTemplate"
    assert display_type("kubernetes:apps/v1:Deployment") == "kubernetes:apps/v1:Deployment"
    assert display_type("llm-judge:aws:GpuNodeGroup") == "llm-judge:aws:GpuNodeGroup"


def test_tree_nests_children_under_their_parent():
    comp = _res("llm-judge:aws:GpuNodeGroup", "gpu")
    role = _res("aws:iam/role:Role", "gpu-role", comp.urn, chain="llm-judge:aws:GpuNodeGroup$")
    plan = Plan("dev", [comp, role, _res("kubernetes:core/v1:Namespace", "ns")], {})

    lines = tree_lines(plan)

    assert lines[1].split()[1:] == ["pulumi:pulumi:Stack", "llm-judge-dev", "create"]
    assert lines[2].split()[1:] == ["├─", "llm-judge:aws:GpuNodeGroup", "gpu", "create"]
    assert lines[3].split()[1:] == ["│", "└─", "aws:iam:Role", "gpu-role", "create"]
    assert lines[4].split()[1:] == ["└─", "kubernetes:core/v1:Namespace", "ns", "create"]


def test_manifest_is_the_object_with_auto_name_and_without_pulumi_fields():
    resource = _deployment(replicas=1)
    resource.inputs["__internal"] = "x"

    (manifest,) = k8s.manifests(Plan("dev", [resource], {}))

    assert list(manifest.obj)[:3] == ["apiVersion", "kind", "metadata"]
    assert "__internal" not in manifest.obj
    assert manifest.obj["metadata"]["name"] == kubernetes_auto_name(resource.type, "vllm")
    assert manifest.filename == f"deployment_llm-judge_{manifest.obj['metadata']['name']}.yaml"
    assert manifest.to_yaml().startswith(f"# Rendered offline from {resource.urn}\n")
    assert k8s.validate(manifest, "1.33") is None


def test_helm_releases_patches_and_components_are_not_manifests():
    patch = _res(
        "kubernetes:apps/v1:DeploymentPatch", "p", inputs={"apiVersion": "apps/v1", "kind": "Deployment"}
    )
    helm = _res("kubernetes:helm.sh/v3:Release", "h", inputs={"chart": "x"})
    comp = PlannedResource(f"{P}llm-judge:aws:X::c", "llm-judge:aws:X", "c", None, {}, custom=False)

    assert k8s.manifests(Plan("dev", [patch, helm, comp], {})) == []


def test_schema_validation_names_the_bad_field():
    (manifest,) = k8s.manifests(Plan("dev", [_deployment(replicas="two")], {}))

    problem = k8s.validate(manifest, "1.33")

    assert problem is not None
    assert "spec.replicas" in problem


def test_strict_validation_rejects_an_unknown_field():
    (manifest,) = k8s.manifests(Plan("dev", [_deployment(replica=1)], {}))

    assert k8s.validate(manifest, "1.33") is not None


def test_kubernetes_version_defaults_when_the_config_has_none():
    assert k8s.kubernetes_version(Plan("dev", [], {})) == k8s.DEFAULT_KUBERNETES_VERSION
    k8s.check_version_supported(k8s.DEFAULT_KUBERNETES_VERSION)


def _containers(obj: dict) -> list[dict]:
    pod = obj.get("spec", {}).get("template", {}).get("spec", obj.get("spec", {}))
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_manifests_are_in_the_order_a_person_writes_them(stack):
    found = k8s.manifests(render(stack))
    assert found

    for manifest in found:
        keys = list(manifest.obj)
        head = (
            ["apiVersion", "kind", "metadata", "spec"]
            if "spec" in keys
            else ["apiVersion", "kind", "metadata"]
        )
        assert keys[: len(head)] == head, f"{manifest.filename}: {keys}"
        assert next(iter(manifest.obj["metadata"])) == "name", manifest.filename
        for container in _containers(manifest.obj):
            assert list(container)[:2] == ["name", "image"], f"{manifest.filename}: {list(container)}"


def test_key_order_does_not_depend_on_the_order_the_inputs_arrived_in():
    forward = _deployment(replicas=1)
    backward = _res(
        forward.type, forward.name, inputs=json.loads(json.dumps(forward.inputs), object_pairs_hook=_reversed)
    )

    (one,) = k8s.manifests(Plan("dev", [forward], {}))
    (other,) = k8s.manifests(Plan("dev", [backward], {}))

    assert list(backward.inputs) != list(forward.inputs)
    assert one.to_yaml() == other.to_yaml()


def _reversed(pairs: list[tuple[str, object]]) -> dict:
    return dict(reversed(pairs))


def test_label_and_resource_maps_are_sorted_not_ranked_like_fields():
    """A label called `name` or `image` is data: it must not jump ahead of the others."""
    obj = k8s.conventional_order(
        {"metadata": {"labels": {"zone": "a", "name": "b", "image": "c"}, "name": "x"}, "kind": "Pod"}
    )

    assert list(obj) == ["kind", "metadata"]
    assert list(obj["metadata"]) == ["name", "labels"]
    assert list(obj["metadata"]["labels"]) == ["image", "name", "zone"]
