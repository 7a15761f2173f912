"""``llm-judge:aws`` validation: every bad value fails before any resource is registered, with one
message per problem that names the full config key."""

from __future__ import annotations

import pytest

from components.aws import instance_types
from components.aws.builders.scheduling import node_selector
from components.config import ConfigError, load_stack_config
from tests.components.aws.helpers import aws_block, merged, render_aws


def problems(aws_overrides: dict) -> list[str]:
    config = {"aws": merged(aws_block("dev"), aws_overrides), "gcp": {"enabled": False}}
    with pytest.raises(ConfigError) as info:
        load_stack_config(config)
    return info.value.problems


def only_problem(aws_overrides: dict) -> str:
    found = problems(aws_overrides)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_are_valid(stack):
    cfg = load_stack_config({"aws": aws_block(stack), "gcp": {"enabled": False}})
    assert cfg.aws.enabled


def test_dev_is_small_and_spot_prod_is_on_demand_and_larger():
    dev = load_stack_config({"aws": aws_block("dev"), "gcp": {"enabled": False}}).aws
    prod = load_stack_config({"aws": aws_block("prod"), "gcp": {"enabled": False}}).aws
    assert (dev.node_group.capacity_type, prod.node_group.capacity_type) == ("SPOT", "ON_DEMAND")
    assert dev.node_group.min_size == 0, "dev should scale to zero when idle"
    assert prod.node_group.min_size >= 1, "prod keeps a judge warm"
    assert prod.node_group.max_size > dev.node_group.max_size
    assert prod.autoscaling.max_replicas > dev.autoscaling.max_replicas
    assert dev.cluster.name != prod.cluster.name


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"nodeGroup": {"minSize": 3, "desiredSize": 3, "maxSize": 2}}, "llm-judge:aws.nodeGroup.minSize"),
        (
            {"nodeGroup": {"minSize": 1, "desiredSize": 5, "maxSize": 2}},
            "llm-judge:aws.nodeGroup.desiredSize",
        ),
        ({"cluster": {"create": True}}, "llm-judge:aws.cluster.privateSubnetIds"),
        ({"nodeGroup": {"instanceTypes": ["m5.2xlarge"]}}, "llm-judge:aws.nodeGroup.instanceTypes[0]"),
        (
            {"nodeGroup": {"instanceTypes": ["g5.xlarge", "p3.2xlarge"]}},
            "llm-judge:aws.nodeGroup.instanceTypes[1]",
        ),
        ({"model": {"gpuMemoryUtilization": 0}}, "llm-judge:aws.model.gpuMemoryUtilization"),
        ({"model": {"gpuMemoryUtilization": 1.2}}, "llm-judge:aws.model.gpuMemoryUtilization"),
        ({"namespace": "LLM_Judge"}, "llm-judge:aws.namespace"),
        ({"serviceName": "9-judge"}, "llm-judge:aws.serviceName"),
        ({"hfTokenSecretName": "HF Secret"}, "llm-judge:aws.hfTokenSecretName"),
        ({"nodeGroup": {"minsize": 0}}, "llm-judge:aws.nodeGroup.minsize"),
        ({"nodeGroup": {"maxSize": "2"}}, "llm-judge:aws.nodeGroup.maxSize"),
        ({"vllm": {"replicas": 1.5}}, "llm-judge:aws.vllm.replicas"),
        ({"vllm": {"extraArgs": ["--enforce-eager", "--port=9000"]}}, "llm-judge:aws.vllm.extraArgs[1]"),
        ({"vllm": {"tag": "latest"}}, "llm-judge:aws.vllm.tag"),
        ({"vllm": {"image": "vllm/vllm-openai:v0.33.0"}}, "llm-judge:aws.vllm.image"),
        ({"vllm": {"gpus": 2}}, "llm-judge:aws.vllm.gpus"),
        ({"vllm": {"replicas": 3}}, "llm-judge:aws.vllm.replicas"),
        ({"vllm": {"resources": {"requests": {"memory": "20Gi"}, "limits": {"memory": "16Gi"}}}}, None),
        ({"vllm": {"shmSize": "8 GB"}}, "llm-judge:aws.vllm.shmSize"),
        ({"model": {"repoId": "Qwen//bad--id"}}, "llm-judge:aws.model.repoId"),
        ({"cluster": {"version": "1.33.2"}}, "llm-judge:aws.cluster.version"),
        ({"cluster": {"name": "-bad"}}, "llm-judge:aws.cluster.name"),
        ({"cluster": {"vpcId": "vpc-0123456789abcdef0"}}, "llm-judge:aws.cluster.vpcId"),
        ({"cluster": {"create": True}}, "llm-judge:aws.cluster.vpcId"),
        ({"nodeGroup": {"labels": {"role": "ai gpu"}}}, "llm-judge:aws.nodeGroup.labels"),
        ({"nodeGroup": {"labels": {"kubernetes.io/role": "gpu"}}}, "llm-judge:aws.nodeGroup.labels"),
        ({"nodeGroup": {"labels": {"topology.k8s.io/pool": "gpu"}}}, "llm-judge:aws.nodeGroup.labels"),
        ({"vllm": {"extraArgs": ["--served_model_name", "x"]}}, "llm-judge:aws.vllm.extraArgs[0]"),
        ({"nodeGroup": {"taints": [{"key": "sku", "value": "gpu", "effect": "NO_SCHEDULE"}]}}, None),
        ({"nodeGroup": {"nodeRoleArn": "my-role"}}, "llm-judge:aws.nodeGroup.nodeRoleArn"),
        ({"nodeGroup": {"subnetIds": ["subnet-xyz"]}}, "llm-judge:aws.nodeGroup.subnetIds[0]"),
        ({"nodeGroup": {"capacityType": "spot"}}, "llm-judge:aws.nodeGroup.capacityType"),
        ({"modelLoader": {"image": "example.com/loader:latest"}}, "llm-judge:aws.modelLoader.image"),
        ({"modelLoader": {"hostModelsDir": "models"}}, "llm-judge:aws.modelLoader.hostModelsDir"),
        ({"networkPolicy": {"clientPodLabels": {}}}, "llm-judge:aws.networkPolicy.clientPodLabels"),
        ({"region": "us-east"}, "llm-judge:aws.region"),
        ({"vllm": {"digest": "sha256:abc"}}, "llm-judge:aws.vllm.digest"),
        ({"vllm": {"digest": "0" * 64}}, "llm-judge:aws.vllm.digest"),
        ({"devicePlugin": {"digest": "sha256:" + "A" * 64}}, "llm-judge:aws.devicePlugin.digest"),
    ],
)
def test_each_bad_value_is_reported_under_its_key(overrides, key):
    found = problems(overrides)
    assert all(p.startswith("llm-judge:aws.") for p in found), found
    if key is not None:
        assert any(p.startswith(key + ":") for p in found), found


def test_min_above_max_is_one_problem_not_two():
    message = only_problem({"nodeGroup": {"minSize": 3, "desiredSize": 3, "maxSize": 2}})
    assert message == "llm-judge:aws.nodeGroup.minSize: 3 is greater than maxSize 2"


def test_requests_above_limits_name_the_request():
    message = only_problem(
        {"vllm": {"resources": {"requests": {"memory": "20Gi"}, "limits": {"memory": "16Gi"}}}}
    )
    assert message.startswith("llm-judge:aws.vllm.resources.requests.memory:"), message


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("ai gpu", "the name must be 1-63 of [A-Za-z0-9-_.], starting and ending alphanumeric"),
        ("-pool", "the name must be 1-63 of [A-Za-z0-9-_.], starting and ending alphanumeric"),
        ("p" * 64, "the name must be 1-63 of [A-Za-z0-9-_.], starting and ending alphanumeric"),
        ("example.com/", "the name must be 1-63 of [A-Za-z0-9-_.], starting and ending alphanumeric"),
        ("Example.com/team", "the prefix must be a DNS subdomain"),
        ("exa_mple.com/team", "the prefix must be a DNS subdomain"),
    ],
)
def test_an_invalid_label_or_taint_key_is_refused_naming_it(key, why):
    """The kubelet refuses to start with an invalid --node-labels key, and the API rejects such a taint."""
    label = only_problem({"nodeGroup": {"labels": {"role": "ai-gpu", key: "v"}}})
    assert label.startswith(f"llm-judge:aws.nodeGroup.labels: label key {key!r}: {why} (got "), label
    taint = only_problem({"nodeGroup": {"taints": [{"key": key, "value": "gpu"}]}})
    assert taint == f"llm-judge:aws.nodeGroup.taints[0].key: label key {key!r}: {why}"


def test_taint_effect_uses_kubernetes_spelling():
    message = only_problem(
        {"nodeGroup": {"taints": [{"key": "sku", "value": "gpu", "effect": "NO_SCHEDULE"}]}}
    )
    assert message.startswith("llm-judge:aws.nodeGroup.taints[0].effect:"), message
    assert "NoSchedule" in message


def test_g4dn_is_rejected_with_the_reason():
    message = only_problem({"nodeGroup": {"instanceTypes": ["g4dn.xlarge"]}})
    assert message.startswith("llm-judge:aws.nodeGroup.instanceTypes[0]:"), message
    assert "T4" in message, message


def test_an_instance_type_without_instance_store_nvme_says_so():
    message = only_problem({"nodeGroup": {"instanceTypes": ["m5.2xlarge"]}})
    assert "instance-store NVMe" in message


def test_gpu_memory_utilisation_of_exactly_one_is_allowed():
    cfg = load_stack_config({"aws": merged(aws_block("dev"), {"model": {"gpuMemoryUtilization": 1}})})
    assert cfg.aws.model.gpu_memory_utilization == 1


def test_mixed_gpu_counts_are_refused():
    message = only_problem({"nodeGroup": {"instanceTypes": ["g5.xlarge", "g5.12xlarge"]}})
    assert message.startswith("llm-judge:aws.nodeGroup.instanceTypes:"), message


def test_several_problems_give_one_message_each():
    found = problems(
        {
            "namespace": "Bad_NS",
            "nodeGroup": {"minSize": 5, "maxSize": 2},
            "model": {"gpuMemoryUtilization": 2.0},
        }
    )
    keys = {p.split(":")[1].split(":")[0] for p in found}
    assert {"aws.namespace", "aws.nodeGroup.minSize", "aws.model.gpuMemoryUtilization"} <= keys, found


def test_invalid_config_fails_before_any_resource_is_registered():
    with pytest.raises(ConfigError) as info:
        render_aws(overrides={"nodeGroup": {"minSize": 4, "maxSize": 1}})
    assert any(p.startswith("llm-judge:aws.nodeGroup.minSize:") for p in info.value.problems)


def test_every_supported_type_has_nvme_and_a_gpu():
    for t in instance_types.SUPPORTED.values():
        assert t.nvme_gb > 0, t
        assert t.gpus >= 1, t
        assert t.name.split(".")[0] not in instance_types.REJECTED_FAMILIES


def test_node_labels_the_kubelet_may_set_are_accepted():
    labels = {"role": "ai-gpu", "node.kubernetes.io/pool": "judge", "example.com/team": "evals"}
    cfg = load_stack_config({"aws": merged(aws_block("dev"), {"nodeGroup": {"labels": labels}})})
    assert cfg.aws.node_group.labels == labels


def _accepts(kind, value: str) -> bool:
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return False
    return True


def test_length_limits_hold_exactly_at_the_limit():
    """Kubernetes' limits, checked on both sides: 63 for labels and label names and values, 253 for DNS
    subdomains (and a label key's prefix)."""
    from components.config.k8s_values import (
        DnsLabel,
        DnsSubdomain,
        ServiceName,
        label_key_problem,
        label_value_problem,
    )

    subdomain = ".".join(["a" * 63] * 3) + "." + "b" * 61  # 253 characters
    assert len(subdomain) == 253
    assert (_accepts(DnsLabel, "a" * 63), _accepts(DnsLabel, "a" * 64)) == (True, False)
    assert (_accepts(DnsSubdomain, subdomain), _accepts(DnsSubdomain, subdomain + "b")) == (True, False)
    assert (label_value_problem("k", "v" * 63), bool(label_value_problem("k", "v" * 64))) == (None, True)
    assert (label_key_problem("n" * 63), bool(label_key_problem("n" * 64))) == (None, True)
    assert label_key_problem(f"{subdomain}/name") is None
    assert (
        label_key_problem(f"{subdomain}b/name")
        == f"label key '{subdomain}b/name': the prefix must be a DNS subdomain"
    )
    assert (_accepts(ServiceName, "judge9"), _accepts(ServiceName, "9judge")) == (True, False)


def test_no_labels_of_ones_own_leave_the_gpu_pods_on_the_stacks_nodes():
    # Empty labels were refused while they were the whole nodeSelector (the device plugin and the model
    # loader would have run on every node); the stack's own label now selects the group by itself.
    node_group = load_stack_config(
        {"aws": merged(aws_block("dev"), {"nodeGroup": {"labels": {}}}), "gcp": {"enabled": False}}
    ).aws.node_group
    assert node_selector(node_group, "dev") == {"llm-judge/stack": "dev"}


@pytest.mark.parametrize(
    ("key", "value"), [("llm-judge/stack", "dev"), ("k8s.amazonaws.com/accelerator", "a10g")]
)
def test_a_label_of_the_stacks_own_is_refused_naming_the_key(key, value):
    message = only_problem({"nodeGroup": {"labels": {"role": "ai-gpu", key: value}}})
    assert message.startswith(f"llm-judge:aws.nodeGroup.labels: label key {key!r} is the stack's own")
