"""`make plan` end to end: the real program and stack files, run as the Makefile runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.tools.stackfiles import SECRET_KEYS, with_secrets
from tools import crd_validate
from tools.plan import main as plan_main
from tools.plan import plan_document
from tools.plan_runtime import REPO_ROOT, fake_secret, render

pytestmark = pytest.mark.cost(25)


def run_plan(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tools.plan", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module", params=["dev", "prod"])
def planned(request, tmp_path_factory):
    stack = request.param
    tmp = tmp_path_factory.mktemp(f"plan-{stack}")
    proc = run_plan(
        "--stack", stack, "--config-file", str(with_secrets(stack, tmp)), "--out-dir", str(tmp / "out")
    )
    return stack, proc, tmp / "out" / stack


def test_plan_succeeds_and_prints_the_tree(planned):
    stack, proc, _ = planned

    assert proc.returncode == 0, proc.stderr
    assert re.search(rf"^ \+ +pulumi:pulumi:Stack +llm-judge-{stack} +create$", proc.stdout, re.M), (
        proc.stdout
    )
    assert "Resources:" in proc.stdout
    assert "all valid" in proc.stdout


def test_plan_json_has_the_documented_shape(planned):
    stack, proc, out = planned
    assert proc.returncode == 0, proc.stderr

    doc = json.loads((out / "plan.json").read_text())

    assert doc["stack"] == stack
    assert isinstance(doc["outputs"], dict)
    assert doc["resources"], "the stack registered no resources"
    urns = {r["urn"] for r in doc["resources"]}
    for r in doc["resources"]:
        assert set(r) == {"urn", "type", "name", "parent", "inputs"}
        assert r["urn"].startswith(f"urn:pulumi:{stack}::llm-judge::")
        assert r["urn"].endswith(f"::{r['name']}")
        assert r["parent"] is None or r["parent"] in urns, f"{r['urn']} has an unknown parent"
        if r["parent"]:
            parent_type = r["parent"].split("::")[2]
            assert r["urn"].split("::")[2] == f"{parent_type}${r['type']}"


def test_no_secret_value_anywhere_and_secrets_are_masked(planned):
    _, proc, out = planned
    assert proc.returncode == 0, proc.stderr

    texts = {p.name: p.read_text() for p in [out / "plan.json", *sorted((out / "manifests").glob("*.yaml"))]}

    for key in SECRET_KEYS:
        leaks = [name for name, text in texts.items() if fake_secret(key) in text]
        assert not leaks, f"{key} appears in plain text in {leaks}"
    assert "[secret]" in texts["plan.json"], "the configured secrets should reach the stack, masked"
    assert "offline-fake-secret" not in proc.stdout + proc.stderr


def test_every_manifest_is_one_valid_kubernetes_object(planned):
    _, proc, out = planned
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "plan.json").read_text())
    # The version the plan validated against (the cluster's, from the stack config), re-checked here.
    match = re.search(r"Kubernetes (\S+) schema", proc.stdout)
    assert match, proc.stdout
    version = match.group(1)

    files = sorted((out / "manifests").glob("*.yaml"))

    k8s_objects = [
        r for r in doc["resources"] if r["type"].startswith("kubernetes:") and "kind" in r["inputs"]
    ]
    assert len(files) == len(k8s_objects)
    for path in files:
        docs = list(yaml.safe_load_all(path.read_text()))
        assert len(docs) == 1, path.name
        obj = docs[0]
        assert obj["metadata"]["name"], path.name
        if crd_validate.is_custom(obj):
            assert crd_validate.validate([(path.name, obj)]) == {path.name: None}
        else:
            kubernetes_validate.validate(obj, version, strict=True)


def test_broken_config_names_every_key_without_traceback(tmp_path):
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text(
        "config:\n"
        "  llm-judge:aws:\n"
        "    enabled: maybe\n"
        "    notAKey: 1\n"
        "  llm-judge:gcpp:\n"
        "    enabled: true\n"
    )

    proc = run_plan("--stack", "broken", "--config-file", str(broken), "--out-dir", str(tmp_path / "out"))

    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    for key in ("llm-judge:aws.enabled", "llm-judge:aws.notAKey", "llm-judge:gcpp"):
        assert key in proc.stderr, f"{key} not named in: {proc.stderr}"
    assert not (tmp_path / "out").exists(), "nothing is written for an invalid config"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("config:\n  llm-judge:aws:\n    enabled: true\n   nodeGroup: {minSize: 1\n", ":4:"),
        ("config:\n\tllm-judge:aws: {}\n", ":2:1:"),
    ],
    ids=["bad-indent", "tab"],
)
def test_a_stack_file_that_is_not_yaml_is_one_line_naming_the_file_and_line(tmp_path, capsys, text, where):
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text(text)

    code = plan_main(["--stack", "broken", "--config-file", str(broken), "--out-dir", str(tmp_path / "out")])

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {broken}{where}"), lines[0]
    assert "not valid YAML" in lines[0]


def test_an_out_dir_that_cannot_be_written_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    code = plan_main(["--stack", "dev", "--quiet", "--out-dir", str(blocker / "plan")])

    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: --out-dir {blocker / 'plan'}: cannot write the plan there (Not a directory)"
    ]


def test_unknown_stack_is_an_error_naming_the_file(tmp_path):
    proc = run_plan("--stack", "nosuchstack", "--out-dir", str(tmp_path))

    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "error: Pulumi.nosuchstack.yaml: stack config file not found (stacks: dev, prod)"
    ]


def test_the_real_stack_plans_identically_in_another_process(planned, tmp_path):
    """A plan diff between two unchanged checkouts must be empty: no random names, no ordering noise.
    The plan.json that `python -m tools.plan` wrote in its own process (its own hash seed, its own
    import order) and one rendered afresh here must be the same text."""
    stack, proc, out = planned
    assert proc.returncode == 0, proc.stderr

    again = render(stack, config_file=with_secrets(stack, tmp_path), use_cache=False)

    assert (out / "plan.json").read_text() == json.dumps(
        plan_document(again), indent=2, ensure_ascii=False
    ) + "\n"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_committed_stack_file_plans_without_any_secret_set(stack):
    """`make plan` from a fresh clone: no `pulumi config set --secret` has happened there."""
    plan = render(stack)

    assert plan.resources
