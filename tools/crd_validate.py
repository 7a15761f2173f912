"""Offline checks of the custom resources the stack renders (KEDA, its HTTP add-on, the Prometheus
Operator), which kubernetes-validate has no schemas for.

- ScaledObject, PodMonitor, PrometheusRule: validated with the schemas of the ``@kubernetes-models``
  npm packages, which are generated from KEDA's and the Prometheus Operator's Go API types, the same
  types their CRDs are generated from. Pinned with integrity hashes in ``tools/crds/package-lock.json``
  and installed by ``make crds`` (``npm ci``); run by Node (``tools/crds/validate.mjs``). They check
  types, formats and required fields; unknown fields pass, so the builders' tests pin exact shapes.
- HTTPScaledObject: no package ships its schema. ``HTTP_SCALED_OBJECT_FIELDS`` lists the fields the
  add-on's CRD defines (kedacore/http-add-on docs/ref/v0.13.0/http_scaled_object.md and the
  ``HTTPScaledObjectSpec`` Go type), and the object is checked against it: unknown keys and the types
  of the fields we set.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

CRDS_DIR = Path(__file__).resolve().parent / "crds"
NODE_MODULES = CRDS_DIR / "node_modules"
SCRIPT = CRDS_DIR / "validate.mjs"

PACKAGES: dict[str, str] = {
    "keda.sh/v1alpha1": "@kubernetes-models/keda",
    "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator",
}
"""apiVersion -> the npm package whose schemas validate it."""

# Field tree of http.keda.sh/v1alpha1 HTTPScaledObject.spec: a dict is an object's allowed keys, a
# type is a leaf's type.
HTTP_SCALED_OBJECT_FIELDS: dict[str, Any] = {
    "hosts": list,
    "pathPrefixes": list,
    "headers": list,
    "scaleTargetRef": {
        "name": str,
        "kind": str,
        "apiVersion": str,
        "service": str,
        "port": int,
        "portName": str,
    },
    "replicas": {"min": int, "max": int},
    "scaledownPeriod": int,
    "initialCooldownPeriod": int,
    "targetPendingRequests": int,
    "scalingMetric": {
        "requestRate": {"targetValue": int, "window": str, "granularity": str},
        "concurrency": {"targetValue": int},
    },
}
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("http.keda.sh/v1alpha1", "HTTPScaledObject"),
}


class SchemasMissing(RuntimeError):
    """Node or the pinned packages are not installed."""


def is_custom(obj: Mapping[str, Any]) -> bool:
    return (str(obj.get("apiVersion")), str(obj.get("kind"))) in CUSTOM_KINDS


def _check_tree(value: Any, fields: Any, path: str) -> list[str]:
    if isinstance(fields, dict):
        if not isinstance(value, dict):
            return [f"{path}: must be an object"]
        problems: list[str] = []
        for key, sub in value.items():
            if key not in fields:
                problems.append(f"{path}.{key}: not a field of the HTTPScaledObject CRD")
            else:
                problems.extend(_check_tree(sub, fields[key], f"{path}.{key}"))
        return problems
    if fields is int and (isinstance(value, bool) or not isinstance(value, int)):
        return [f"{path}: must be an integer"]
    if not isinstance(value, fields):
        return [f"{path}: must be a {fields.__name__}"]
    return []


def check_http_scaled_object(obj: Mapping[str, Any]) -> list[str]:
    spec = obj.get("spec")
    problems = _check_tree(spec, HTTP_SCALED_OBJECT_FIELDS, "spec")
    if isinstance(spec, dict):
        ref = spec.get("scaleTargetRef") or {}
        for key in ("name", "service"):
            if key not in ref:
                problems.append(f"spec.scaleTargetRef.{key}: required")
        if "port" not in ref and "portName" not in ref:
            problems.append("spec.scaleTargetRef: port or portName is required")
        metric = spec.get("scalingMetric") or {}
        if "requestRate" in metric and "concurrency" in metric:
            problems.append("spec.scalingMetric: requestRate and concurrency are mutually exclusive")
    return problems


def validate(objects: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, str | None]:
    """``{id: None or the problem}`` for each ``(id, object)`` (only custom kinds of CUSTOM_KINDS)."""
    results: dict[str, str | None] = {}
    batch: list[dict[str, Any]] = []
    for ident, obj in objects:
        api = str(obj.get("apiVersion"))
        if api == "http.keda.sh/v1alpha1":
            problems = check_http_scaled_object(obj)
            results[ident] = "; ".join(problems) or None
        elif api in PACKAGES:
            batch.append({"id": ident, "package": PACKAGES[api], "object": obj})
        else:
            results[ident] = f"no offline schema for {api} {obj.get('kind')}"
    if batch:
        results.update(_run_node(batch))
    return results


def _run_node(batch: list[dict[str, Any]]) -> dict[str, str | None]:
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "@kubernetes-models").is_dir():
        raise SchemasMissing(
            "custom-resource schemas are not installed: run `make crds` (needs Node.js and npm; "
            "installs tools/crds/package-lock.json)"
        )
    done = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(batch),
        capture_output=True,
        text=True,
        cwd=CRDS_DIR,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{SCRIPT.name} failed: {done.stderr.strip()[-2000:]}")
    return {item["id"]: item["error"] for item in json.loads(done.stdout)}
