"""The docs' kubectl commands name workloads that exist, where they are. Every ``deploy/<name>`` and
``ds/<name>`` (or ``deployment/``, ``daemonset/``) in README.md and docs/*.md is a Deployment or
DaemonSet the dev plan renders, or one a chart the stack installs creates, named from the Helm release's
values the way the chart's templates name it; the command's ``-n <namespace>``, where it gives one, is
the namespace it is in (the release's, for a chart's). Placeholders (``<stack>``, ``<service>``,
``$NS``) stand for the dev stack's values."""

from __future__ import annotations

import re

import pytest

from tests.components.aws.helpers import DAEMONSET, DEPLOYMENT, render_aws
from tools.plan_runtime import REPO_ROOT, Plan

RELEASE = "kubernetes:helm.sh/v3:Release"
REFERENCE = re.compile(r"\b(deploy|deployment|ds|daemonset)/([A-Za-z0-9<>._-]+)")
NAMESPACE_FLAG = re.compile(r"(?:-n|--namespace)[ =]([A-Za-z0-9<>$._-]+)")
KIND = {"deploy": "Deployment", "deployment": "Deployment", "ds": "DaemonSet", "daemonset": "DaemonSet"}


def chart_workloads(plan: Plan) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of what each installed chart creates (the charts' templates, at the
    pinned versions), in its release's namespace."""
    found: set[tuple[str, str, str]] = set()
    for release in plan.of_type(RELEASE):
        chart, values = release.inputs["chart"], release.inputs.get("values", {})
        if chart == "cluster-autoscaler":  # templates/_helpers.tpl cluster-autoscaler.fullname
            assert values.get("fullnameOverride"), "without it the name is <release>-aws-cluster-autoscaler"
            names = {values["fullnameOverride"]}
        elif chart == "keda":  # values operator.name, webhooks.name
            operator = values.get("operator", {}).get("name", "keda-operator")
            names = {operator, f"{operator}-metrics-apiserver", "keda-admission-webhooks"}
        elif chart == "keda-add-ons-http":  # {{ .Chart.Name }}-<component>
            names = {f"{chart}-{c}" for c in ("interceptor", "external-scaler", "controller-manager")}
        else:
            pytest.fail(f"{release.name}: no naming rule for chart {chart!r} in this test")
        found |= {("Deployment", release.inputs["namespace"], name) for name in names}
    return found


def references() -> list[tuple[str, int, str, str | None, str]]:
    """(file, line, kind, namespace, name) of each workload reference on a line that runs kubectl; the
    namespace is the last ``-n`` before the reference on that line (None: the command gives none)."""
    found = []
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "kubectl" in line:
                for m in REFERENCE.finditer(line):
                    flags = NAMESPACE_FLAG.findall(line, 0, m.start())
                    namespace = flags[-1] if flags else None
                    found.append((str(path.relative_to(REPO_ROOT)), number, KIND[m[1]], namespace, m[2]))
    return found


def test_every_workload_the_docs_name_is_one_the_stack_creates():
    plan = render_aws("dev")
    service = plan.one(DEPLOYMENT).inputs["metadata"]["name"]
    judge_namespace = plan.one(DEPLOYMENT).inputs["metadata"]["namespace"]
    placeholders = {
        "<stack>": plan.stack,
        "<service>": service,
        "<judge-service>": service,
        "$NS": judge_namespace,
    }
    known = {
        (kind, r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"])
        for kind, type_token in (("Deployment", DEPLOYMENT), ("DaemonSet", DAEMONSET))
        for r in plan.of_type(type_token)
    } | chart_workloads(plan)

    def filled(text: str) -> str:
        for placeholder, value in placeholders.items():
            text = text.replace(placeholder, value)
        return text

    refs = references()
    assert len(refs) >= 6, refs  # the runbooks' commands were found at all
    assert sum(namespace is not None for *_, namespace, _ in refs) >= 6, refs
    wrong = []
    for file, number, kind, namespace, name in refs:
        name = filled(name)
        where = {ns for k, ns, n in known if (k, n) == (kind, name)}
        if not where:
            wrong.append(f"{file}:{number}: {kind} {name}")
        elif namespace is not None and filled(namespace) not in where:
            wrong.append(f"{file}:{number}: {kind} {name} is in {sorted(where)}, not in {filled(namespace)}")
    assert not wrong, f"no such workload (known: {sorted(known)}): {wrong}"
