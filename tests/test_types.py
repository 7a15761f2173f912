"""The type check of ``make test``: basedpyright over what ``[tool.basedpyright] include`` names in
pyproject.toml (components/, tools/, app/) finds nothing, and it bites.

Biting is shown on the real code: copies of real builders, each with one key of a nested provider
argument misspelled, are checked in the same run as the tree, and each must get an error on the
misspelled line, while the builder it was copied from gets none. One run serves both (a second would
double the test's cost, most of which is reading the SDKs' types): docs/types.md.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.cost(35)

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
MUST_CHECK = {"components", "tools", "app"}


@dataclass(frozen=True)
class Typo:
    """One key of a nested SDK argument in a real builder, misspelled."""

    path: str
    key: str
    """Text that occurs exactly once in ``path``."""
    typo: str
    breaks: str
    """The SDK TypedDict the typo breaks (for the failure message)."""


TYPOS = (
    Typo(
        "components/aws/builders/node_group.py",
        '"volume_type": "gp3"',
        '"volume_typ": "gp3"',
        "pulumi_aws LaunchTemplateBlockDeviceMappingEbsArgsDict (launch template block devices)",
    ),
    Typo(
        "components/aws/builders/scheduling.py",
        '"capabilities": {"drop": ["ALL"]}',
        '"capabilities": {"dorp": ["ALL"]}',
        "pulumi_kubernetes CapabilitiesArgsDict (inside a container's SecurityContextArgsDict)",
    ),
    Typo(
        "components/aws/builders/judge_inference.py",
        '"termination_grace_period_seconds": 60',
        '"terminationGracePeriodSeconds": 60',
        "pulumi_kubernetes PodSpecArgsDict (Kubernetes' camelCase name is not the SDK's key)",
    ),
    Typo(
        "components/gcp/builders/jobs.py",
        '"max_retries": job.max_retries',
        '"max_retry": job.max_retries',
        "pulumi_gcp JobTemplateTemplateArgsDict (Cloud Run job template)",
    ),
    Typo(
        "components/gcp/builders/storage.py",
        '"matches_prefixes": [rule.prefix]',
        '"matches_prefix": [rule.prefix]',
        "pulumi_gcp BucketLifecycleRuleConditionArgsDict (bucket lifecycle rule)",
    ),
)

_RELATIVE_IMPORT = re.compile(r"^(?P<indent>\s*)from (?P<dots>\.+)(?P<rest>[\w.]*) import ", re.MULTILINE)


def checked_paths() -> list[str]:
    include = tomllib.loads(PYPROJECT.read_text())["tool"]["basedpyright"]["include"]
    return list(include)


def absolute_imports(source: str, package: str) -> str:
    """``from .x import y`` as ``from <package>.x import y``, so a copy outside the package resolves
    its imports exactly as the original does."""
    parts = package.split(".")

    def replace(m: re.Match[str]) -> str:
        base = parts[: len(parts) - (len(m["dots"]) - 1)]
        target = ".".join([*base, m["rest"]] if m["rest"] else base)
        return f"{m['indent']}from {target} import "

    return _RELATIVE_IMPORT.sub(replace, source)


def write_mutant(typo: Typo, index: int, out_dir: Path) -> tuple[Path, int]:
    """The builder with ``typo`` applied, and the (0-based) line of the typo."""
    source = (REPO / typo.path).read_text()
    assert source.count(typo.key) == 1, (
        f"{typo.path}: expected {typo.key!r} exactly once; point TYPOS in tests/test_types.py at a "
        "nested provider key the builder still has"
    )
    line = source[: source.index(typo.key)].count("\n")
    package = typo.path.removesuffix(".py").replace("/", ".").rpartition(".")[0]
    path = (out_dir / f"typo{index}_{Path(typo.path).name}").resolve()
    path.write_text(absolute_imports(source.replace(typo.key, typo.typo), package))
    return path, line


def run_basedpyright(extra_files: list[Path]) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("basedpyright")
    # Files on the command line replace `include`, so the configured paths are passed explicitly.
    cmd = [str(exe), "--outputjson", "--pythonpath", sys.executable, *checked_paths(), *map(str, extra_files)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=280, check=False)
    # 0: clean, 1: diagnostics found; anything else is basedpyright failing to run at all.
    assert proc.returncode in (0, 1), f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}{proc.stdout}"
    return json.loads(proc.stdout)


def describe(diag: dict[str, Any]) -> str:
    start = diag["range"]["start"]
    where = Path(diag["file"])
    where = where.relative_to(REPO) if where.is_relative_to(REPO) else where
    rule = f" ({diag['rule']})" if diag.get("rule") else ""
    position = f"{where}:{start['line'] + 1}:{start['character'] + 1}"
    return f"{position}: {diag['severity']}: {diag['message']}{rule}"


def test_configured_paths_cover_components_tools_and_app():
    assert set(checked_paths()) >= MUST_CHECK, f"[tool.basedpyright] include must name {sorted(MUST_CHECK)}"


@pytest.mark.slow
def test_type_check_is_clean_and_catches_a_misspelled_nested_provider_key(tmp_path):
    mutants = [write_mutant(typo, i, tmp_path) for i, typo in enumerate(TYPOS)]
    report = run_basedpyright([path for path, _ in mutants])
    diagnostics = [d for d in report["generalDiagnostics"] if d["severity"] in ("error", "warning")]

    in_tree = [d for d in diagnostics if Path(d["file"]).is_relative_to(REPO)]
    assert not in_tree, (
        f"basedpyright: {len(in_tree)} problem(s) (run `venv/bin/basedpyright` to see them):\n"
        + "\n".join(describe(d) for d in in_tree)
    )

    missed = []
    for typo, (path, line) in zip(TYPOS, mutants, strict=True):
        hits = [
            d
            for d in diagnostics
            if Path(d["file"]) == path and d["range"]["start"]["line"] <= line <= d["range"]["end"]["line"]
        ]
        if not hits:
            missed.append(f"{typo.path}:{line + 1}: {typo.key} -> {typo.typo} ({typo.breaks})")
    assert not missed, "the type check let these misspelled keys through:\n" + "\n".join(missed)


_SUPPRESSION = re.compile(r"#\s*(?P<kind>type|pyright):\s*ignore(?P<rules>\[[^\]]*\])?(?P<after>.*)$")


def test_every_suppression_names_its_rule_and_says_why():
    bad = []
    for top in checked_paths():
        for path in sorted((REPO / top).rglob("*.py")):
            if {"venv", "node_modules"} & set(path.relative_to(REPO).parts):
                continue  # tool venvs that make creates under tools/, not our code
            for number, text in enumerate(path.read_text().splitlines(), start=1):
                m = _SUPPRESSION.search(text)
                if m is None:
                    continue
                where = f"{path.relative_to(REPO)}:{number}"
                if m["kind"] == "type":
                    bad.append(f"{where}: `# type: ignore` is off here; use `# pyright: ignore[rule] reason`")
                elif not m["rules"] or not re.search(r"\w", m["after"]):
                    bad.append(f"{where}: a suppression names its rule and gives its reason on the same line")
    assert not bad, "\n".join(bad)


# Builders whose result is a document of its own, not a provider argument the SDK types: `Any` inside
# them is right. Any other builder returning `Any` would escape the check above, so it is refused.
PLAIN_DOCUMENTS = {
    "components/aws/builders/cluster_autoscaler.py:helm_values": "Helm values (the chart's values.yaml)",
    "components/aws/builders/judge_scaling.py:keda_values": "Helm values (the chart's values.yaml)",
    "components/aws/builders/judge_scaling.py:http_addon_values": "Helm values (the chart's values.yaml)",
    "components/aws/builders/judge_scaling.py:_prometheus_trigger": "a ScaledObject trigger (CRD spec)",
    "components/aws/builders/monitoring.py:alert_rules": "PrometheusRule rules (CRD spec)",
    "components/aws/builders/monitoring.py:rule": "one PrometheusRule rule (CRD spec)",
    "components/aws/builders/kubeconfig.py:kubeconfig": "a kubeconfig, handed over as JSON text",
    "components/aws/builders/userdata.py:node_config": "nodeadm's NodeConfig, YAML inside the user data",
}


def _untyped_returns(path: Path) -> list[str]:
    """Functions of ``path`` whose declared result is or holds ``Any`` (or a bare ``dict``/``list``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            returns = ast.unparse(node.returns)
            if re.search(r"\bAny\b", returns) or re.fullmatch(r"(list\[)?(dict|list)\]?", returns):
                found.append(f"{path.relative_to(REPO)}:{node.name}")
    return found


def test_builders_return_sdk_types_or_are_plain_documents():
    builders = sorted(REPO.glob("components/*/builders/*.py"))
    found = [name for path in builders for name in _untyped_returns(path)]
    untyped = sorted(set(found) - set(PLAIN_DOCUMENTS))
    assert not untyped, (
        "these builders return Any, which the type check cannot see into: return the SDK's *ArgsDict for "
        "the argument they feed (docs/types.md), or, for a document of its own (Helm values, a CRD spec), "
        "list them in PLAIN_DOCUMENTS with the reason:\n" + "\n".join(untyped)
    )
    stale = sorted(set(PLAIN_DOCUMENTS) - set(found))
    assert not stale, f"PLAIN_DOCUMENTS names builders that no longer return Any: {stale}"
