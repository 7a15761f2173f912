"""`make plan-diff`: added, removed and changed resources, with the changed property paths."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.tools.stackfiles import stack_config, write_with_secrets
from tools.plan import main as plan_main
from tools.plan_diff import diff_plans, property_changes
from tools.plan_runtime import REPO_ROOT

DEPLOYMENT = {
    "urn": "urn:pulumi:dev::llm-judge::llm-judge:aws:JudgeInference$kubernetes:apps/v1:Deployment::vllm",
    "type": "kubernetes:apps/v1:Deployment",
    "name": "vllm",
    "parent": "urn:pulumi:dev::llm-judge::llm-judge:aws:JudgeInference::judge",
    "inputs": {
        "spec": {
            "replicas": 1,
            "template": {
                "spec": {"containers": [{"image": "vllm/vllm-openai:v0.1", "args": ["--a", "--b"]}]}
            },
        },
        "metadata": {"labels": {"app": "vllm"}},
    },
}
ROLE = {
    "urn": "urn:pulumi:dev::llm-judge::aws:iam/role:Role::old-role",
    "type": "aws:iam/role:Role",
    "name": "old-role",
    "parent": None,
    "inputs": {"name": "old"},
}
SECRET = {
    "urn": "urn:pulumi:dev::llm-judge::kubernetes:core/v1:Secret::token",
    "type": "kubernetes:core/v1:Secret",
    "name": "token",
    "parent": None,
    "inputs": {"stringData": {"HF_TOKEN": "[secret]"}},
}


def _plans() -> tuple[dict, dict]:
    old = {"stack": "dev", "resources": [DEPLOYMENT, ROLE, SECRET], "outputs": {"endpoint": "a"}}
    new = copy.deepcopy(old)
    new["resources"].remove(ROLE)
    deployment = new["resources"][0]
    deployment["inputs"]["spec"]["replicas"] = 2
    container = deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "vllm/vllm-openai:v0.2"
    container["args"].append("--c")
    del deployment["inputs"]["metadata"]["labels"]
    new["resources"].append({**ROLE, "urn": ROLE["urn"].replace("old-role", "new-role"), "name": "new-role"})
    new["outputs"]["endpoint"] = "b"
    return old, new


def run_diff(old: Path, new: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tools.plan_diff", str(old), str(new), *extra],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_changed_properties_are_listed_by_path_with_old_and_new_values(tmp_path):
    old, new = _plans()
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))

    proc = run_diff(tmp_path / "old.json", tmp_path / "new.json")

    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "+ aws:iam/role:Role  new-role" in out
    assert "- aws:iam/role:Role  old-role" in out
    assert "~ kubernetes:apps/v1:Deployment  vllm" in out
    assert "~ spec.replicas: 1 -> 2" in out
    assert (
        '~ spec.template.spec.containers[0].image: "vllm/vllm-openai:v0.1" -> "vllm/vllm-openai:v0.2"' in out
    )
    assert '~ spec.template.spec.containers[0].args[2]: (absent) -> "--c"' in out
    assert '~ metadata.labels: {"app": "vllm"} -> (absent)' in out
    assert '~ endpoint: "a" -> "b"' in out
    assert "Resources: 1 to add, 1 to change, 1 to delete, 1 unchanged" in out
    assert "token" not in out.split("Resources:")[0], "an unchanged resource is not listed"


def test_markdown_output_is_a_fenced_diff_for_the_job_summary(tmp_path):
    old, new = _plans()
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))

    out = run_diff(tmp_path / "old.json", tmp_path / "new.json", "--markdown").stdout

    assert out.startswith("### Offline plan diff: stack `dev`\n\n```diff\n")
    assert out.rstrip().endswith("```")


def test_identical_plans_have_no_changes():
    old, _ = _plans()

    diff = diff_plans(old, copy.deepcopy(old))

    assert diff.empty
    assert diff.unchanged == 3


def test_a_type_change_of_equal_looking_values_is_a_change():
    assert property_changes({"port": 8000}, {"port": "8000"})[0].path == "port"
    assert property_changes({"on": True}, {"on": 1})[0].path == "on"


def test_a_file_that_is_not_a_plan_is_a_usage_error(tmp_path):
    (tmp_path / "x.json").write_text("[]")

    proc = run_diff(tmp_path / "x.json", tmp_path / "x.json")

    assert proc.returncode == 2
    assert "not a plan.json" in proc.stderr


def _plan(stack_file: Path, out: Path) -> dict:
    """What `make plan-diff` diffs: the plan.json that `python -m tools.plan` writes, made by its own
    ``main`` in this process (the entry point as a process is tests/tools/test_plan_cli.py's; here a
    render that another test already made comes from the run's plan cache instead of a new process)."""
    code = plan_main(["--stack", "dev", "--quiet", "--config-file", str(stack_file), "--out-dir", str(out)])
    assert code == 0
    return json.loads((out / "dev" / "plan.json").read_text())


def test_end_to_end_switching_off_the_gcp_half_removes_exactly_its_resources(tmp_path):
    data = stack_config("dev")
    write_with_secrets(data, tmp_path / "base.yaml")
    data["config"]["llm-judge:gcp"] = {**(data["config"].get("llm-judge:gcp") or {}), "enabled": False}
    write_with_secrets(data, tmp_path / "head.yaml")
    base = _plan(tmp_path / "base.yaml", tmp_path / "base")
    _plan(tmp_path / "head.yaml", tmp_path / "head")

    proc = run_diff(tmp_path / "base" / "dev" / "plan.json", tmp_path / "head" / "dev" / "plan.json")

    assert proc.returncode == 0, proc.stderr

    # The GCP half: everything under an llm-judge:gcp component (the URN's top-level type), and its provider.
    def top_level_type(r: dict) -> str:
        return r["urn"].split("::")[2].split("$")[0]

    gcp = [
        r
        for r in base["resources"]
        if top_level_type(r).startswith(("llm-judge:gcp:", "pulumi:providers:gcp"))
    ]
    assert gcp, "the dev stack should have GCP resources"
    for r in gcp:
        assert f"- {r['type']}  {r['name']}" in proc.stdout
    assert f"0 to add, 0 to change, {len(gcp)} to delete" in proc.stdout
