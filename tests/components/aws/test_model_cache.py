"""ModelCache: the model-loader DaemonSet and the Hugging Face token Secret."""

from __future__ import annotations

import json

import pytest

from components.aws.builders.userdata import RAID_MOUNT_PATH
from tests.components.aws.helpers import DAEMONSET, container, one, pod_spec, render_aws

SECRET = "kubernetes:core/v1:Secret"
TOKEN = "hf_offlineTestToken0123456789abcdef"


@pytest.fixture(scope="module")
def without_token():
    return render_aws("dev")


@pytest.fixture(scope="module")
def with_token():
    return render_aws("dev", hfToken=TOKEN)


def loader(plan):
    return one(plan, DAEMONSET, "model-cache-ds")


def test_loader_runs_the_project_loader_serve_command(without_token):
    c = container(loader(without_token), "model-loader")
    assert c["command"] == ["python", "-m", "app.model_loader"]
    assert c["args"] == [
        "serve",
        "--models-dir",
        "/models",
        "--repo-id",
        "Qwen/Qwen2.5-7B-Instruct-AWQ",
        "--port",
        "8080",
    ]


def test_revision_is_passed_when_pinned():
    plan = render_aws("dev", {"model": {"revision": "b" * 40}})
    args = container(loader(plan), "model-loader")["args"]
    assert args[args.index("--revision") + 1] == "b" * 40


def test_readiness_means_model_complete_liveness_means_alive(without_token):
    c = container(loader(without_token), "model-loader")
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def test_cache_is_a_host_path_on_the_nvme_raid(without_token):
    (models,) = [v for v in pod_spec(loader(without_token))["volumes"] if v["name"] == "models"]
    assert models["hostPath"]["path"].startswith(RAID_MOUNT_PATH + "/")
    assert models["hostPath"]["type"] == "DirectoryOrCreate"


def test_loader_runs_non_root_and_only_the_init_step_is_root_with_chown_only(without_token):
    ds = loader(without_token)
    main = container(ds, "model-loader")["securityContext"]
    assert main["runAsNonRoot"] is True
    assert main["runAsUser"] == 10001
    assert main["capabilities"] == {"drop": ["ALL"]}
    assert main["readOnlyRootFilesystem"] is True
    init = container(ds, "own-cache-dir", init=True)
    assert init["command"] == ["chown", "-R", "10001:10001", "/models"], "no shell, idempotent"
    assert init["securityContext"]["runAsUser"] == 0
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
    assert init["securityContext"]["allowPrivilegeEscalation"] is False


def test_no_secret_and_no_token_env_without_a_token(without_token):
    assert without_token.of_type(SECRET) == []
    env = {e["name"] for e in container(loader(without_token), "model-loader")["env"]}
    assert "HF_TOKEN" not in env


def test_token_comes_from_a_secret_the_stack_creates(with_token):
    secret = one(with_token, SECRET, "-hf-token").inputs
    assert secret["metadata"]["name"] == "hf-secret"
    assert secret["metadata"]["namespace"] == "llm-judge"
    assert secret["stringData"] == {"token": "[secret]"}
    (env,) = [e for e in container(loader(with_token), "model-loader")["env"] if e["name"] == "HF_TOKEN"]
    assert env["valueFrom"] == {"secretKeyRef": {"name": "hf-secret", "key": "token"}}


def test_the_token_appears_nowhere_in_the_plan(with_token):
    text = json.dumps([r.to_json() for r in with_token.resources]) + json.dumps(with_token.outputs)
    assert TOKEN not in text


def test_await_timeout_annotation(without_token):
    annotations = loader(without_token).inputs["metadata"]["annotations"]
    assert int(annotations["pulumi.com/timeoutSeconds"]) >= 600


def test_a_prebuilt_loader_image_skips_the_build():
    image = "ghcr.io/example/llm-judge-model-loader:1.2.3"
    plan = render_aws("dev", {"modelLoader": {"image": image}})
    assert plan.of_type("docker-build:index:Image") == []
    assert plan.of_type("aws:ecr/repository:Repository") == []
    assert container(loader(plan), "model-loader")["image"] == image


def test_built_loader_image_is_pinned_by_digest(without_token):
    image = container(loader(without_token), "model-loader")["image"]
    assert ".dkr.ecr." in image
    assert "@sha256:" in image
    build = one(without_token, "docker-build:index:Image", "-image").inputs
    assert build["dockerfile"] == {"location": "build/Dockerfile.model-loader"}
    assert build["push"] is True
