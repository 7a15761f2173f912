"""checkov over what this repository ships: the rendered manifests of every stack, the Dockerfiles and
the GitHub workflows. Every finding is fixed, or skipped with its reason next to what it concerns (an
annotation from the object's builder, a comment in the Dockerfile) or, for project-wide decisions, in
`.checkov.yaml` with its reason on the line above.

checkov runs from its own venv (tools/checkov/venv, made by `make test`): its pins conflict with the
program's. It runs once, over a tree assembled here: the manifests rendered by the one harness
(tools.plan_runtime), copies of the Dockerfiles and workflows, and one deliberately bad file per
framework (the canaries) that must fail, so a scan that silently checked nothing cannot pass.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.stack_files import merged, stack_block
from tools import manifests as k8s
from tools.locks import ISOLATED
from tools.plan_runtime import REPO_ROOT, render

pytestmark = pytest.mark.cost(8)

CHECKOV = next(t for t in ISOLATED if t.name == "checkov").venv / "bin" / "checkov"
CONFIG = REPO_ROOT / ".checkov.yaml"
STACKS = ("dev", "prod")
DIGEST = "sha256:" + "0" * 64  # a test value: never a committed stack file's
DOCKERFILES = sorted((REPO_ROOT / "build").glob("Dockerfile.*"))
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))

CANARY_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "canary", "namespace": "canary"},
    "spec": {
        "containers": [{"name": "c", "image": "busybox:latest", "securityContext": {"privileged": True}}]
    },
}
CANARY_DOCKERFILE = "FROM python:latest\nRUN pip install requests\n"
CANARY_WORKFLOW = {
    "name": "canary",
    "on": "push",
    "permissions": "write-all",
    "jobs": {"j": {"runs-on": "ubuntu-24.04", "steps": [{"run": "echo hi"}]}},
}
# What the canaries must trip: privileged container, `latest` tag; `latest` base, no USER; write-all.
# The kinds checkov has checks for among ours (it has none for Namespaces, NetworkPolicies, which count
# in its graph check of the pods, or custom resources): each such manifest must show up in the report.
CHECKED_KINDS = {"Pod", "Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "CronJob", "Service"}
CANARY_FINDINGS = {"CKV_K8S_16", "CKV_K8S_14", "CKV_DOCKER_7", "CKV_DOCKER_3", "CKV2_GHA_1"}


def _write_manifests(plan: Any, directory: Path) -> None:
    directory.mkdir(parents=True)
    for manifest in k8s.manifests(plan):
        (directory / manifest.filename).write_text(manifest.to_yaml())


def _pinned_prod() -> Any:
    """prod with every image of the AWS half pinned by digest, as the README tells operators to do."""
    aws = merged(stack_block("prod", "aws"), {"vllm": {"digest": DIGEST}, "devicePlugin": {"digest": DIGEST}})
    return render("prod", {"aws": aws, "gcp": {"enabled": False}})


def _scan_tree(root: Path) -> None:
    for stack in STACKS:
        _write_manifests(render(stack), root / "manifests" / stack)
    _write_manifests(_pinned_prod(), root / "manifests" / "prod-pinned")
    (root / "build").mkdir()
    for dockerfile in DOCKERFILES:
        shutil.copy(dockerfile, root / "build" / dockerfile.name)
    (root / ".github" / "workflows").mkdir(parents=True)
    for workflow in WORKFLOWS:
        shutil.copy(workflow, root / ".github" / "workflows" / workflow.name)
    canary = root / "canary"
    canary.mkdir()
    (canary / "pod.yaml").write_text(yaml.safe_dump(CANARY_POD))
    (canary / "Dockerfile.canary").write_text(CANARY_DOCKERFILE)
    (root / ".github" / "workflows" / "canary.yml").write_text(yaml.safe_dump(CANARY_WORKFLOW))


def _run_checkov(root: Path) -> dict[str, dict[str, Any]]:
    if not CHECKOV.exists():
        pytest.fail(
            f"{CHECKOV.relative_to(REPO_ROOT)} is missing: `make test` (or `make tool-venvs`) creates it"
        )
    proc = subprocess.run(
        [
            str(CHECKOV),
            "--config-file",
            str(CONFIG),
            "--skip-download",  # offline: no guideline download (it would print connection errors)
            "--framework",
            "kubernetes",
            "dockerfile",
            "github_actions",
            "--output",
            "json",
            "--directory",
            str(root),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.stdout.strip(), f"checkov printed no report (exit {proc.returncode}): {proc.stderr[-2000:]}"
    reports = json.loads(proc.stdout)
    return {r["check_type"]: r for r in (reports if isinstance(reports, list) else [reports])}


def _where(check: dict[str, Any]) -> str:
    return f"{check['check_id']} {check['check_name']!r} in {check['file_path']} ({check['resource']})"


@pytest.mark.integration
def test_checkov_passes_everything_we_ship_and_every_skip_says_why(tmp_path):
    _scan_tree(tmp_path)
    reports = _run_checkov(tmp_path)

    assert set(reports) == {"kubernetes", "dockerfile", "github_actions"}, sorted(reports)
    failed = [c for r in reports.values() for c in r["results"]["failed_checks"]]
    canary = [c for c in failed if c["file_path"].startswith(("/canary/", "/.github/workflows/canary.yml"))]
    ours = [c for c in failed if c not in canary]
    assert not ours, (
        "checkov findings: fix each, or skip it with a one-line reason next to it "
        "(components/aws/builders/checkov.py, `# checkov:skip=` in the file, or .checkov.yaml):\n"
        + "\n".join(_where(c) for c in ours)
    )
    # The scan really ran every framework over every file: each canary is caught, every file is counted.
    assert {c["check_id"] for c in canary} >= CANARY_FINDINGS, sorted(_where(c) for c in canary)
    checked = {
        c["file_path"]
        for r in reports.values()
        for kind in ("passed_checks", "failed_checks", "skipped_checks")
        for c in r["results"][kind]
    }
    written = {f"/{p.relative_to(tmp_path)}" for p in (tmp_path / "build").glob("Dockerfile.*")}
    written |= {
        f"/{p.relative_to(tmp_path)}"
        for p in tmp_path.glob("manifests/*/*.yaml")
        if yaml.safe_load(p.read_text())["kind"] in CHECKED_KINDS
    }
    assert not written - checked, f"never checked: {sorted(written - checked)}"
    assert reports["github_actions"]["summary"]["passed"] > 0

    skipped = [c for r in reports.values() for c in r["results"]["skipped_checks"]]
    unexplained = [
        _where(c) for c in skipped if len((c["check_result"].get("suppress_comment") or "").split()) < 3
    ]
    assert not unexplained, f"skipped without a reason: {unexplained}"

    # Pinned by digest (README), the digest skips go away and the checks they stood for pass.
    pinned_skips = {c["check_id"] for c in skipped if c["file_path"].startswith("/manifests/prod-pinned/")}
    assert not pinned_skips & {"CKV_K8S_43", "CKV_K8S_15"}, pinned_skips
    passed_pinned = {
        c["check_id"]
        for c in reports["kubernetes"]["results"]["passed_checks"]
        if c["file_path"].startswith("/manifests/prod-pinned/")
    }
    assert {"CKV_K8S_43", "CKV_K8S_15"} <= passed_pinned


def test_every_project_wide_skip_has_its_reason_on_the_line_above():
    lines = CONFIG.read_text().splitlines()
    skipped = yaml.safe_load(CONFIG.read_text())["skip-check"]
    assert skipped, "no skip-check list in .checkov.yaml"
    for check in skipped:
        (index,) = [i for i, line in enumerate(lines) if line.strip() == f"- {check}"]
        reason = lines[index - 1].strip()
        assert re.match(rf"# {check} \(.+\): \S+( \S+){{5,}}", reason), (
            f"{check}: no reason above it: {reason!r}"
        )


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_the_base_image_checkov_cannot_read_is_pinned_to_a_full_version(dockerfile):
    """What the CKV_DOCKER_7 skip in each Dockerfile claims: FROM ${PYTHON_IMAGE} defaults to a full
    version tag, never `latest` or a floating minor."""
    text = dockerfile.read_text()
    assert "checkov:skip=CKV_DOCKER_7" in text
    (default,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", default), default
    assert all(
        line == "FROM ${PYTHON_IMAGE}" or line.startswith("FROM ${PYTHON_IMAGE} AS ")
        for line in re.findall(r"^FROM .+$", text, re.M)
    )
