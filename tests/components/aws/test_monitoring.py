"""Alerts and metrics on AWS: PodMonitors that select the real pods and ports, a PrometheusRule with
the four alerts (valid PromQL, runbook links that exist), and the custom resources checked against
their operators' schemas offline."""

from __future__ import annotations

import re

import pytest

from components.aws.builders import judge_scaling, monitoring
from components.config import load_stack_config
from tests.components.aws.helpers import DAEMONSET, DEPLOYMENT, aws_block, container, one, render_aws
from tests.support.requires import require_module
from tools import crd_validate
from tools.plan_runtime import REPO_ROOT

POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
VLLM_METRICS = {
    # vLLM v0.33's names (vllm/v1/metrics/loggers.py); gpu_cache_usage_perc was renamed kv_cache_usage_perc.
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:kv_cache_usage_perc",
    "vllm:e2e_request_latency_seconds_bucket",
}


@pytest.fixture(scope="module")
def dev():
    return render_aws("dev")


def _pod_labels(resource) -> dict:
    return resource.inputs["spec"]["template"]["metadata"]["labels"]


def test_pod_monitors_select_the_pods_and_their_named_ports(dev):
    for suffix, kind, workload, name in (
        ("vllm-podmonitor", DEPLOYMENT, "inference-deploy", "vllm"),
        ("loader-podmonitor", DAEMONSET, "model-cache-ds", "model-loader"),
    ):
        pm = one(dev, POD_MONITOR, suffix).inputs
        pod = one(dev, kind, workload)
        assert pm["spec"]["selector"]["matchLabels"].items() <= _pod_labels(pod).items(), suffix
        ports = {p["name"] for p in container(pod, name)["ports"]}
        (endpoint,) = pm["spec"]["podMetricsEndpoints"]
        assert endpoint["port"] in ports, suffix
        assert endpoint["path"] == "/metrics", suffix
        assert pm["metadata"]["labels"]["release"] == "kube-prometheus-stack", "the Prometheus's selector"


def test_the_rule_has_the_four_alerts_with_thresholds_from_config(dev):
    rules = {r["alert"]: r for r in one(dev, RULE, "rules").inputs["spec"]["groups"][0]["rules"]}
    assert set(rules) == {
        "JudgeUnavailable",
        "JudgeRequestsWaiting",
        "JudgeKvCacheNearlyFull",
        "ModelLoaderNotReady",
    }
    assert rules["JudgeUnavailable"]["for"] == "20m", "dev: a wake-up from zero is not an outage"
    assert render_aws("prod").of_type(RULE)[0].inputs["spec"]["groups"][0]["rules"][0]["for"] == "5m"
    assert rules["ModelLoaderNotReady"]["for"] == "60m", "modelLoader.waitTimeoutSeconds (3600 s)"
    assert "> 20" in rules["JudgeRequestsWaiting"]["expr"]
    assert "> 0.95" in rules["JudgeKvCacheNearlyFull"]["expr"]
    assert 'pod=~"model-loader-.+"' in rules["ModelLoaderNotReady"]["expr"]


def test_every_expression_is_valid_promql_on_metrics_that_exist(dev):
    promql_parser = require_module("promql_parser", "promql-parser")
    cfg = load_stack_config({"aws": aws_block("dev")}).aws
    expressions = [r["expr"] for r in monitoring.alert_rules(cfg)] + list(judge_scaling.queries(cfg).values())
    used: set[str] = set()
    for expr in expressions:
        promql_parser.parse(expr)
        used |= set(re.findall(r"vllm:[a-z0-9_]+", expr))
    assert used == VLLM_METRICS


def test_runbook_links_point_at_sections_of_docs_aws(dev):
    docs = (REPO_ROOT / "docs" / "aws.md").read_text()
    anchors = {f"runbook-{m.lower()}" for m in re.findall(r"^#### Runbook: (\w+)$", docs, re.MULTILINE)}
    rules = one(dev, RULE, "rules").inputs["spec"]["groups"][0]["rules"]
    assert rules
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        assert url.startswith("docs/aws.md#"), url
        assert url.split("#", 1)[1] in anchors, (
            f"{rule['alert']}: no '#### Runbook: {rule['alert']}' in docs/aws.md"
        )
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


def test_monitoring_is_off_without_the_operator():
    plan = render_aws("prod", {"prometheus": {"operator": False}})
    assert plan.of_type(POD_MONITOR) == []
    assert plan.of_type(RULE) == []


def test_the_crd_validator_rejects_what_the_operators_would():
    cfg = load_stack_config({"aws": aws_block("dev")}).aws
    good = judge_scaling.scaled_object(cfg)
    bad = judge_scaling.scaled_object(cfg)
    bad["spec"]["minReplicaCount"] = "0"  # a string where the CRD wants an integer
    rule = monitoring.prometheus_rule(cfg)
    no_groups = {**rule, "spec": {"groups": [{"rules": []}]}}  # a group without its required name
    route = judge_scaling.interceptor_route(cfg)
    typo = {**route, "spec": {**route["spec"], "scaledownPeriod": 300}}  # an HTTPScaledObject field
    two_ports = {
        **route,
        "spec": {**route["spec"], "target": {"service": "s", "port": 1, "portName": "http"}},
    }
    seconds = {**route, "spec": {**route["spec"], "timeouts": {"readiness": 120}}}
    no_metric = {**route, "spec": {**route["spec"], "scalingMetric": {}}}
    results = crd_validate.validate(
        [
            ("good", good),
            ("bad", bad),
            ("rule", rule),
            ("no-groups", no_groups),
            ("route", route),
            ("typo", typo),
            ("two-ports", two_ports),
            ("seconds", seconds),
            ("no-metric", no_metric),
        ]
    )
    assert results["good"] is None
    assert results["rule"] is None
    assert results["route"] is None
    assert "minReplicaCount" in (results["bad"] or "")
    assert "name" in (results["no-groups"] or "")
    assert "spec.scaledownPeriod: not a field" in (results["typo"] or "")
    assert "exactly one of 'port' or 'portName'" in (results["two-ports"] or "")
    assert "spec.timeouts.readiness: must be a Go duration" in (results["seconds"] or "")
    assert "at least one of 'concurrency' or 'requestRate'" in (results["no-metric"] or "")
