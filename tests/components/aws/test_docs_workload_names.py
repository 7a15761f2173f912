"""The docs' kubectl commands name workloads that exist. Every ``deploy/<name>`` and ``ds/<name>`` (or
``deployment/``, ``daemonset/``) in README.md and docs/*.md is a Deployment or DaemonSet the dev plan
renders, or one a chart the stack installs creates, named from the Helm release's values the way the
chart's templates name it. Placeholders (``<stack>``, ``<service>``) stand for the dev stack's values."""

from __future__ import annotations

import re

import pytest

from tests.components.aws.helpers import DAEMONSET, DEPLOYMENT, render_aws
from tools.plan_runtime import REPO_ROOT, Plan

RELEASE = "kubernetes:helm.sh/v3:Release"
REFERENCE = re.compile(r"\b(deploy|deployment|ds|daemonset)/([A-Za-z0-9<>._-]+)")
KIND = {"deploy": "Deployment", "deployment": "Deployment", "ds": "DaemonSet", "daemonset": "DaemonSet"}


def chart_workloads(plan: Plan) -> set[tuple[str, str]]:
    """(kind, name) of what each installed chart creates (the charts' templates, at the pinned versions)."""
    found: set[tuple[str, str]] = set()
    for release in plan.of_type(RELEASE):
        chart, values = release.inputs["chart"], release.inputs.get("values", {})
        if chart == "cluster-autoscaler":  # templates/_helpers.tpl cluster-autoscaler.fullname
            assert values.get("fullnameOverride"), "without it the name is <release>-aws-cluster-autoscaler"
            found.add(("Deployment", values["fullnameOverride"]))
        elif chart == "keda":  # values operator.name, webhooks.name
            operator = values.get("operator", {}).get("name", "keda-operator")
            found |= {("Deployment", n) for n in (operator, f"{operator}-metrics-apiserver")}
            found.add(("Deployment", "keda-admission-webhooks"))
        elif chart == "keda-add-ons-http":  # {{ .Chart.Name }}-<component>
            found |= {
                ("Deployment", f"{chart}-{c}")
                for c in ("interceptor", "external-scaler", "controller-manager")
            }
        else:
            pytest.fail(f"{release.name}: no naming rule for chart {chart!r} in this test")
    return found


def references() -> list[tuple[str, int, str, str]]:
    """(file, line, kind, name) of each workload reference on a line that runs kubectl."""
    found = []
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "kubectl" in line:
                found.extend(
                    (str(path.relative_to(REPO_ROOT)), number, KIND[m[1]], m[2])
                    for m in REFERENCE.finditer(line)
                )
    return found


def test_every_workload_the_docs_name_is_one_the_stack_creates():
    plan = render_aws("dev")
    service = plan.one(DEPLOYMENT).inputs["metadata"]["name"]
    placeholders = {"<stack>": plan.stack, "<service>": service, "<judge-service>": service}
    rendered = {("Deployment", r.inputs["metadata"]["name"]) for r in plan.of_type(DEPLOYMENT)}
    rendered |= {("DaemonSet", r.inputs["metadata"]["name"]) for r in plan.of_type(DAEMONSET)}
    known = rendered | chart_workloads(plan)

    refs = references()
    assert len(refs) >= 6, refs  # the runbooks' commands were found at all
    wrong = []
    for file, number, kind, name in refs:
        for placeholder, value in placeholders.items():
            name = name.replace(placeholder, value)
        if (kind, name) not in known:
            wrong.append(f"{file}:{number}: {kind} {name}")
    assert not wrong, f"no such workload (known: {sorted(known)}): {wrong}"
