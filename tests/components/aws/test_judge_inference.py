"""JudgeInference: the vLLM Deployment, Service, ServiceAccount and NetworkPolicy."""

from __future__ import annotations

import pytest

from app.model_loader.layout import served_model_path
from components.aws.builders.model_cache import MODELS_MOUNT
from tests.components.aws.helpers import DEPLOYMENT, container, one, pod_spec, render_aws

SERVICE = "kubernetes:core/v1:Service"
ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


@pytest.fixture(scope="module")
def dev():
    return render_aws("dev")


@pytest.fixture(scope="module")
def deployment(dev):
    return one(dev, DEPLOYMENT, "inference-deploy")


@pytest.fixture(scope="module")
def vllm(deployment):
    return container(deployment, "vllm")


def flag(args, name):
    return args[args.index(name) + 1]


def test_image_is_the_pinned_current_vllm(vllm):
    assert vllm["image"] == "vllm/vllm-openai:v0.33.0"


def test_model_path_is_the_loader_layout_path(vllm):
    assert vllm["command"] == ["vllm", "serve"]
    assert vllm["args"][0] == served_model_path(MODELS_MOUNT, "Qwen/Qwen2.5-7B-Instruct-AWQ")
    assert vllm["args"][0] == "/models/Qwen_Qwen2.5-7B-Instruct-AWQ"


def test_args_come_from_typed_config(vllm):
    args = vllm["args"]
    assert flag(args, "--served-model-name") == "Qwen/Qwen2.5-7B-Instruct-AWQ"
    assert flag(args, "--max-model-len") == "4096"
    assert flag(args, "--gpu-memory-utilization") == "0.9"
    assert flag(args, "--port") == "8000"


def test_no_forced_awq_kernel_and_no_xformers(vllm):
    assert "--quantization" not in vllm["args"]
    assert not [a for a in vllm["args"] if a.startswith("--quantization=")]
    assert "VLLM_ATTENTION_BACKEND" not in {e["name"] for e in vllm["env"]}


def test_serves_offline(vllm):
    env = {e["name"]: e.get("value") for e in vllm["env"]}
    assert env["HF_HUB_OFFLINE"] == "1"
    assert "HF_TOKEN" not in env, "vLLM reads a local path and never needs the Hugging Face token"


def test_extra_args_are_appended_after_the_managed_ones():
    plan = render_aws("dev", {"vllm": {"extraArgs": ["--enable-prefix-caching", "--max-num-seqs=32"]}})
    args = container(one(plan, DEPLOYMENT, "inference-deploy"), "vllm")["args"]
    assert args[-2:] == ["--enable-prefix-caching", "--max-num-seqs=32"]


def test_served_model_name_override():
    plan = render_aws("dev", {"model": {"servedModelName": "judge"}})
    args = container(one(plan, DEPLOYMENT, "inference-deploy"), "vllm")["args"]
    assert flag(args, "--served-model-name") == "judge"
    assert plan.outputs["aws_judge_served_model_name"] == "judge"


def test_gpu_is_requested_and_limited(vllm):
    assert vllm["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_volumes_models_read_only_and_shm_in_memory(deployment, vllm):
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    mounts = {m["name"]: m for m in vllm["volumeMounts"]}
    assert volumes["models"]["hostPath"]["path"] == "/mnt/k8s-disks/0/models"
    assert mounts["models"] == {"name": "models", "mountPath": "/models", "readOnly": True}
    assert volumes["shm"]["emptyDir"]["medium"] == "Memory"
    assert mounts["shm"]["mountPath"] == "/dev/shm"


def test_init_container_waits_for_the_model_on_this_node(deployment):
    wait = container(deployment, "wait-for-model", init=True)
    assert wait["command"] == ["python", "-m", "app.model_loader"]
    args = wait["args"]
    assert args[0] == "wait"
    assert flag(args, "--models-dir") == MODELS_MOUNT
    assert flag(args, "--repo-id") == "Qwen/Qwen2.5-7B-Instruct-AWQ"
    assert int(flag(args, "--timeout")) >= 600
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in wait["volumeMounts"]
    # Same image as the loader DaemonSet: the layout and completeness check are the loader's own code.
    loader = one(render_aws("dev"), "kubernetes:apps/v1:DaemonSet", "model-cache-ds")
    assert wait["image"] == container(loader, "model-loader")["image"]


def test_revision_is_passed_to_the_wait(deployment):
    plan = render_aws("dev", {"model": {"revision": "a" * 40}})
    args = container(one(plan, DEPLOYMENT, "inference-deploy"), "wait-for-model", init=True)["args"]
    assert flag(args, "--revision") == "a" * 40


def test_probes_on_health_and_startup_covers_a_cold_load(vllm):
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert vllm[probe]["httpGet"] == {"path": "/health", "port": "http"}
    startup = vllm["startupProbe"]
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 30 * 60


def test_startup_window_follows_config():
    plan = render_aws("dev", {"vllm": {"coldStartSeconds": 3600, "awaitTimeoutSeconds": 5400}})
    startup = container(one(plan, DEPLOYMENT, "inference-deploy"), "vllm")["startupProbe"]
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 3600


def test_recreate_strategy_and_await_timeout(deployment):
    assert deployment.inputs["spec"]["strategy"] == {"type": "Recreate"}
    timeout = int(deployment.inputs["metadata"]["annotations"]["pulumi.com/timeoutSeconds"])
    assert timeout >= 30 * 60, "pulumi up must survive a node scale-up, a first download and a cold load"


def test_skip_await_switch():
    plan = render_aws("dev", {"vllm": {"skipAwait": True}})
    annotations = one(plan, DEPLOYMENT, "inference-deploy").inputs["metadata"]["annotations"]
    pulumi_annotations = {k: v for k, v in annotations.items() if k.startswith("pulumi.com/")}
    assert pulumi_annotations == {"pulumi.com/skipAwait": "true"}


def test_pod_security(deployment, vllm):
    pod = pod_spec(deployment)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = vllm["securityContext"]
    assert sc["runAsUser"] == 2000, "the vllm user the image ships"
    # vllm/vllm-openai: `useradd --uid 2000 --gid 0 ... vllm`, its writable paths group 0 (g+rwX).
    assert sc["runAsGroup"] == 0
    assert pod["securityContext"]["runAsGroup"] == 0
    assert "fsGroup" not in pod["securityContext"], "emptyDirs are world-writable; hostPath ignores fsGroup"
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    writable = {m["mountPath"] for m in vllm["volumeMounts"] if not m.get("readOnly")}
    assert {"/tmp", "/home/vllm", "/dev/shm"} <= writable
    assert {e["name"]: e["value"] for e in vllm["env"]}["HOME"] == "/home/vllm"


def test_service_is_cluster_ip_on_8000_with_the_seed_name(dev, deployment):
    svc = one(dev, SERVICE, "inference-svc").inputs
    assert svc["metadata"]["name"] == "judge-inference-service"
    assert svc["metadata"]["namespace"] == "llm-judge"
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    pod_labels = deployment.inputs["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()


def test_service_account_without_token(dev, deployment):
    sa = one(dev, ACCOUNT, "inference-sa").inputs
    assert sa["automountServiceAccountToken"] is False
    assert pod_spec(deployment)["serviceAccountName"] == sa["metadata"]["name"]


def _namespace(name: str) -> dict:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def test_network_policy_admits_only_judge_clients_and_dns(deployment):
    plan = render_aws("dev", {"autoscaling": {"enabled": False}, "prometheus": {"operator": False}})
    np = one(plan, NETPOL, "inference-netpol").inputs["spec"]
    pod_labels = deployment.inputs["spec"]["template"]["metadata"]["labels"]
    assert np["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert np["policyTypes"] == ["Ingress", "Egress"]
    (rule,) = np["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app": "judge-service"}}}]
    assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]
    (egress,) = np["egress"]
    assert sorted((p["protocol"], p["port"]) for p in egress["ports"]) == [("TCP", 53), ("UDP", 53)]
    (peer,) = egress["to"]
    assert peer["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}


def test_network_policy_admits_the_wake_interceptor_and_prometheus_when_they_are_used(dev):
    (rule,) = one(dev, NETPOL, "inference-netpol").inputs["spec"]["ingress"]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": {"app": "judge-service"}}},
        # the HTTP add-on's interceptor pods (not all of KEDA's namespace) forward woken-up requests
        {
            **_namespace("keda"),
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/component": "interceptor",
                    "app.kubernetes.io/name": "http-add-on",
                    "app.kubernetes.io/part-of": "keda-add-ons-http",
                }
            },
        },
        _namespace("monitoring"),  # Prometheus scrapes /metrics on the same port
    ]
    assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]


def test_network_policy_can_admit_clients_from_other_namespaces():
    plan = render_aws("dev", {"networkPolicy": {"clientNamespaceLabels": {"team": "evals"}}})
    (rule,) = one(plan, NETPOL, "inference-netpol").inputs["spec"]["ingress"]
    assert rule["from"][0]["namespaceSelector"] == {"matchLabels": {"team": "evals"}}


def test_exports_the_in_cluster_urls(dev):
    prod = render_aws("prod")
    # dev may be at zero replicas: callers go through the HTTP add-on's interceptor, which wakes it.
    assert (
        dev.outputs["aws_judge_base_url"]
        == "http://judge-inference-service-wake.llm-judge.svc.cluster.local:8080/v1"
    )
    direct = "http://judge-inference-service.llm-judge.svc.cluster.local:8000/v1"
    assert dev.outputs["aws_judge_service_base_url"] == direct
    assert prod.outputs["aws_judge_base_url"] == direct
    assert dev.outputs["aws_judge_service_dns"] == "judge-inference-service.llm-judge.svc.cluster.local"
