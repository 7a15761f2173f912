"""The checkov skips the builders put on their objects: numbered as checkov reads them, each with a
reason, and the digest skips present exactly while an image is pinned by tag alone."""

from __future__ import annotations

import pytest

from components.aws.builders.checkov import digest_skip, skip_annotations
from components.config.aws_device_plugin import DevicePluginConfig
from components.config.aws_vllm import VllmConfig
from tests.components.aws.helpers import DAEMONSET, DEPLOYMENT, container, one, render_aws

DIGEST = "sha256:" + "1" * 64


def test_skips_become_numbered_annotations_with_check_and_reason():
    assert skip_annotations({"CKV_A": "why a", "CKV_B": "why b"}) == {
        "checkov.io/skip1": "CKV_A=why a",
        "checkov.io/skip2": "CKV_B=why b",
    }


def test_a_skip_without_a_reason_is_refused():
    with pytest.raises(ValueError, match="reason"):
        skip_annotations({"CKV_A": " "})


def test_digest_skips_name_the_keys_that_lack_a_digest():
    skips = digest_skip({"vllm.digest": "vllm/vllm-openai:v1", "modelLoader.image": f"r/l:t@{DIGEST}"})

    assert set(skips) == {"CKV_K8S_43", "CKV_K8S_15"}
    assert "llm-judge:aws.vllm.digest" in skips["CKV_K8S_43"]
    assert "modelLoader" not in skips["CKV_K8S_43"]
    assert digest_skip({"vllm.digest": f"vllm/vllm-openai:v1@{DIGEST}"}) == {}


def _skipped(resource) -> dict[str, str]:
    annotations = resource.inputs["metadata"].get("annotations", {})
    return dict(v.split("=", 1) for k, v in annotations.items() if k.startswith("checkov.io/skip"))


def test_committed_stacks_skip_the_digest_checks_of_the_tag_pinned_images():
    plan = render_aws("prod")

    assert {"CKV_K8S_43", "CKV_K8S_15"} <= set(_skipped(one(plan, DEPLOYMENT, "inference-deploy")))
    assert {"CKV_K8S_43", "CKV_K8S_15"} <= set(_skipped(one(plan, DAEMONSET, "device-plugin-ds")))
    # The model loader image is built by the stack and referenced by digest.
    assert "CKV_K8S_43" not in _skipped(one(plan, DAEMONSET, "model-cache-ds"))


def test_pinning_by_digest_runs_the_digest_and_drops_its_skips():
    plan = render_aws("prod", {"vllm": {"digest": DIGEST}, "devicePlugin": {"digest": DIGEST}})
    deployment = one(plan, DEPLOYMENT, "inference-deploy")
    plugin = one(plan, DAEMONSET, "device-plugin-ds")

    assert container(deployment, "vllm")["image"] == f"vllm/vllm-openai:{VllmConfig().tag}@{DIGEST}"
    assert container(plugin, "nvidia-device-plugin-ctr")["image"].endswith(
        f":{DevicePluginConfig().tag}@{DIGEST}"
    )
    for resource in (deployment, plugin):
        assert not {"CKV_K8S_43", "CKV_K8S_15"} & set(_skipped(resource)), resource.name


def test_the_uid_skip_follows_the_configured_uid():
    assert "CKV_K8S_40" in _skipped(one(render_aws("dev"), DEPLOYMENT, "inference-deploy"))
    high = render_aws("dev", {"vllm": {"runAsUser": 10001}})
    assert "CKV_K8S_40" not in _skipped(one(high, DEPLOYMENT, "inference-deploy"))
