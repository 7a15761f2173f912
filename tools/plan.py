"""The offline plan: ``python -m tools.plan --stack dev [--quiet]`` (``make plan [STACK=dev]``).

Runs the real program under Pulumi's mock runtime with ``Pulumi.<stack>.yaml`` (no CLI, no
credentials, no network), prints the resource tree the way ``pulumi preview`` does, and writes
``build/plan/<stack>/plan.json`` and ``build/plan/<stack>/manifests/*.yaml`` (one file per Kubernetes
object, each validated against the schema of the stack's Kubernetes version). Secrets appear only
as ``"[secret]"``. Exit status: 0 ok, 1 invalid config or an invalid manifest, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pulumi

from components.config import ConfigError

from . import crd_validate
from . import manifests as k8s
from .plan_runtime import REPO_ROOT, Plan, StackFileError, project_name, render, shown_path

DEFAULT_OUT = REPO_ROOT / "build" / "plan"


def display_type(type_token: str) -> str:
    """The short form ``pulumi preview`` shows: ``aws:iam/role:Role`` -> ``aws:iam:Role``."""
    parts = type_token.split(":")
    if len(parts) != 3:
        return type_token
    pkg, module, name = parts
    if "/" in module:
        head, last = module.rsplit("/", 1)
        if last == name[:1].lower() + name[1:]:
            module = head
    return f"{pkg}:{module}:{name}"


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def plan_document(plan: Plan) -> dict[str, Any]:
    doc = plan.to_json()
    for resource in doc["resources"]:
        resource["inputs"] = _sorted(resource["inputs"])
    doc["outputs"] = _sorted(doc["outputs"])
    return doc


def tree_lines(plan: Plan) -> list[str]:
    """``pulumi preview``'s table: op, type (indented under its parent), name, plan."""
    rows: list[tuple[str, str, str, str]] = [
        ("+", "pulumi:pulumi:Stack", f"{project_name()}-{plan.stack}", "create")
    ]
    urns = {r.urn for r in plan.resources}

    def visit(parent: str | None, prefix: str) -> None:
        kids = [r for r in plan.resources if (r.parent if r.parent in urns else None) == parent]
        for i, child in enumerate(kids):
            last = i == len(kids) - 1
            op, verb = (">", "read") if child.read else ("+", "create")
            rows.append(
                (op, f"{prefix}{'└─ ' if last else '├─ '}{display_type(child.type)}", child.name, verb)
            )
            visit(child.urn, prefix + ("   " if last else "│  "))

    visit(None, "")
    type_width = max(len(r[1]) for r in rows) + 2
    name_width = max(len(r[2]) for r in rows) + 2
    lines = [f"     {'Type':<{type_width}}{'Name':<{name_width}}Plan"]
    lines += [f" {op}   {typ:<{type_width}}{name:<{name_width}}{verb}" for op, typ, name, verb in rows]
    return lines


def _print_plan(plan: Plan, out: TextIO) -> None:
    print(f"Previewing update ({plan.stack}) offline, under Pulumi's mock runtime\n", file=out)
    for line in tree_lines(plan):
        print(line, file=out)
    if plan.diagnostics:
        print("\nDiagnostics:", file=out)
        for severity, message in plan.diagnostics:
            print(f"    {severity}: {message}", file=out)
    if plan.outputs:
        print("\nOutputs:", file=out)
        width = max(len(k) for k in plan.outputs) + 1
        for key, value in plan.outputs.items():
            print(f"    {key + ':':<{width}} {json.dumps(value)}", file=out)
    reads = sum(1 for r in plan.resources if r.read)
    print("\nResources:", file=out)
    print(f"    + {len(plan.resources) - reads + 1} to create (including the stack)", file=out)
    if reads:
        print(f"    > {reads} to read", file=out)


def write_plan(plan: Plan, out_dir: Path) -> tuple[Path, list[k8s.Manifest]]:
    stack_dir = out_dir / plan.stack
    manifest_dir = stack_dir / "manifests"
    if manifest_dir.exists():
        shutil.rmtree(manifest_dir)
    manifest_dir.mkdir(parents=True)
    plan_path = stack_dir / "plan.json"
    plan_path.write_text(json.dumps(plan_document(plan), indent=2, ensure_ascii=False) + "\n")
    found = k8s.manifests(plan)
    for manifest in found:
        (manifest_dir / manifest.filename).write_text(manifest.to_yaml())
    return plan_path, found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--stack", default="dev", help="stack name; reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--config-file", type=Path, help="read this file instead of Pulumi.<stack>.yaml")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT, help="default: build/plan")
    parser.add_argument("--quiet", action="store_true", help="print only where the plan was written")
    args = parser.parse_args(argv)

    try:
        plan = render(args.stack, config_file=args.config_file)
    except StackFileError as exc:
        # Not a config problem among others: the file itself is unusable, and says where.
        print(f"error: {exc.problems[0]}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"error: stack {args.stack!r} has {len(exc.problems)} config problem(s)", file=sys.stderr)
        return 1
    except pulumi.RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    if not args.quiet:
        _print_plan(plan, sys.stdout)

    version = k8s.kubernetes_version(plan)
    try:
        k8s.check_version_supported(version)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        plan_path, found = write_plan(plan, args.out_dir)
    except OSError as exc:
        print(
            f"error: --out-dir {args.out_dir}: cannot write the plan there ({exc.strerror})", file=sys.stderr
        )
        return 1
    try:
        problems = k8s.validate_all(found, version)
    except crd_validate.SchemasMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shown = shown_path(plan_path)
    print(f"\nplan: {shown} ({len(plan.resources)} resources)")
    manifest_dir = shown_path(plan_path.parent / "manifests")
    print(f"manifests: {len(found)} in {manifest_dir}, Kubernetes {version} schema: ", end="")
    if problems:
        print(f"{len(problems)} invalid")
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    print("all valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
