"""A reviewable diff of two offline plans: ``python -m tools.plan_diff OLD NEW [--markdown]``.

Resources are matched by URN, as Pulumi matches them: a resource whose URN changed (renamed, or
moved under another parent) shows as removed plus added, which is what ``pulumi up`` would do
without an alias. For a changed resource every changed property path is listed with its old and
new value. Secrets stay ``"[secret]"`` in both plans, so a changed secret value cannot show (by
design: the plan never holds it). Always exits 0 unless a file cannot be read (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ABSENT = object()


@dataclass(frozen=True)
class PropertyChange:
    path: str
    old: Any
    new: Any


@dataclass
class PlanDiff:
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[dict[str, Any], list[PropertyChange]]] = field(default_factory=list)
    unchanged: int = 0
    outputs: list[PropertyChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.outputs)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def property_changes(old: Any, new: Any, path: str = "") -> list[PropertyChange]:
    """Leaf-level changes between two JSON values, as dotted paths (``spec.replicas``, ``args[2]``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[PropertyChange] = []
        for key in sorted(set(old) | set(new)):
            changes += property_changes(old.get(key, _ABSENT), new.get(key, _ABSENT), _join(path, key))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for i in range(max(len(old), len(new))):
            o = old[i] if i < len(old) else _ABSENT
            n = new[i] if i < len(new) else _ABSENT
            changes += property_changes(o, n, _join(path, i))
        return changes
    if old == new and type(old) is type(new):
        return []
    return [PropertyChange(path or "(value)", old, new)]


def diff_plans(old: dict[str, Any], new: dict[str, Any]) -> PlanDiff:
    old_by_urn = {r["urn"]: r for r in old.get("resources", [])}
    new_by_urn = {r["urn"]: r for r in new.get("resources", [])}
    result = PlanDiff()
    result.added = [new_by_urn[u] for u in new_by_urn if u not in old_by_urn]
    result.removed = [old_by_urn[u] for u in old_by_urn if u not in new_by_urn]
    for urn, after in new_by_urn.items():
        before = old_by_urn.get(urn)
        if before is None:
            continue
        changes = property_changes(before.get("inputs", {}), after.get("inputs", {}), "")
        if before.get("parent") != after.get("parent"):
            changes.insert(0, PropertyChange("(parent)", before.get("parent"), after.get("parent")))
        if changes:
            result.changed.append((after, changes))
        else:
            result.unchanged += 1
    result.outputs = property_changes(old.get("outputs", {}), new.get("outputs", {}), "")
    return result


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."


def format_diff(diff: PlanDiff, old_name: str, new_name: str) -> list[str]:
    lines = [f"--- {old_name}", f"+++ {new_name}"]
    if diff.empty:
        lines.append("No changes.")
    for r in diff.added:
        lines.append(f"+ {r['type']}  {r['name']}")
        lines.append(f"    urn: {r['urn']}")
    for r in diff.removed:
        lines.append(f"- {r['type']}  {r['name']}")
        lines.append(f"    urn: {r['urn']}")
    for r, changes in diff.changed:
        lines.append(f"~ {r['type']}  {r['name']}")
        lines.append(f"    urn: {r['urn']}")
        for c in changes:
            lines.append(f"    ~ {c.path}: {_show(c.old)} -> {_show(c.new)}")
    if diff.outputs:
        lines.append("~ Outputs")
        for c in diff.outputs:
            lines.append(f"    ~ {c.path}: {_show(c.old)} -> {_show(c.new)}")
    lines.append(
        f"Resources: {len(diff.added)} to add, {len(diff.changed)} to change, "
        f"{len(diff.removed)} to delete, {diff.unchanged} unchanged"
    )
    return lines


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
        raise ValueError(f"{path}: not a plan.json (no 'resources' list)")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan_diff", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("old", type=Path, help="the base plan.json (e.g. from the target branch)")
    parser.add_argument("new", type=Path, help="the new plan.json")
    parser.add_argument("--markdown", action="store_true", help="wrap in Markdown (for a CI job summary)")
    args = parser.parse_args(argv)
    try:
        old, new = _load(args.old), _load(args.new)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lines = format_diff(diff_plans(old, new), str(args.old), str(args.new))
    if args.markdown:
        stack = new.get("stack", "?")
        lines = [f"### Offline plan diff: stack `{stack}`", "", "```diff", *lines, "```"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
