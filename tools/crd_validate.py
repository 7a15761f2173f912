"""Offline checks of the custom resources the stack renders (KEDA, its HTTP add-on, the Prometheus
Operator), which kubernetes-validate has no schemas for.

- ScaledObject, PodMonitor, PrometheusRule: validated with the schemas of the ``@kubernetes-models``
  npm packages, which are generated from KEDA's and the Prometheus Operator's Go API types, the same
  types their CRDs are generated from. Pinned with integrity hashes in ``tools/crds/package-lock.json``
  and installed by ``make crds`` (``npm ci``); run by Node (``tools/crds/validate.mjs``). They check
  types, formats and required fields; unknown fields pass, so the builders' tests pin exact shapes.
- InterceptorRoute (the KEDA HTTP add-on's, http.keda.sh/v1beta1): no package ships its schema (the
  npm KEDA models have only keda.sh and eventing.keda.sh). ``INTERCEPTOR_ROUTE_FIELDS`` lists the
  fields of its CRD (keda-add-ons-http 0.15, ``InterceptorRouteSpec`` in
  operator/apis/http/v1beta1/interceptorroute_types.go, from which the CRD is generated), and
  ``check_interceptor_route`` checks an object against it: unknown keys, types, Go durations, the
  required fields, bounds and the CRD's CEL rules (exactly one of ``port``/``portName``, at least one
  scaling metric, hosts a set).
"""

from __future__ import annotations

import json
import re
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


class Duration:
    """A leaf holding a Go duration (``metav1.Duration``: ``"120s"``, ``"1m30s"``, ``"0s"``)."""


_GO_DURATION = re.compile(r"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$")
_SERVICE_REF = {"name": str, "port": int, "portName": str}

# Field tree of InterceptorRoute.spec: a dict is an object's allowed keys, a one-item list a list of
# such items, a type a leaf's type.
INTERCEPTOR_ROUTE_FIELDS: dict[str, Any] = {
    "target": {"service": str, "port": int, "portName": str},
    "coldStart": {
        "fallback": {"service": _SERVICE_REF},
        "placeholder": {
            "response": {
                "statusCode": int,
                "body": str,
                "bodyFromConfigMap": {"name": str, "key": str},
                "headers": dict,
            }
        },
    },
    "timeouts": {"readiness": Duration, "request": Duration, "responseHeader": Duration},
    "rules": [{"hosts": [str], "paths": [{"value": str}], "headers": [{"name": str, "value": str}]}],
    "scalingMetric": {
        "concurrency": {"targetValue": int},
        "requestRate": {"targetValue": int, "window": Duration, "granularity": Duration},
    },
}
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("http.keda.sh/v1beta1", "InterceptorRoute"),
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
                problems.append(f"{path}.{key}: not a field of the InterceptorRoute CRD")
            else:
                problems.extend(_check_tree(sub, fields[key], f"{path}.{key}"))
        return problems
    if isinstance(fields, list):
        if not isinstance(value, list):
            return [f"{path}: must be a list"]
        return [p for i, item in enumerate(value) for p in _check_tree(item, fields[0], f"{path}[{i}]")]
    if fields is Duration:
        ok = isinstance(value, str) and _GO_DURATION.match(value)
        return [] if ok else [f"{path}: must be a Go duration such as '120s', got {value!r}"]
    if fields is int and (isinstance(value, bool) or not isinstance(value, int)):
        return [f"{path}: must be an integer"]
    if not isinstance(value, fields):
        return [f"{path}: must be a {fields.__name__}"]
    return []


def _at_least(value: Any, minimum: int, path: str) -> list[str]:
    return [f"{path}: must be at least {minimum}"] if isinstance(value, int) and value < minimum else []


def _one_port(ref: Mapping[str, Any], path: str) -> list[str]:
    problems = _at_least(ref.get("port"), 1, f"{path}.port")
    if isinstance(ref.get("port"), int) and ref["port"] > 65535:
        problems.append(f"{path}.port: must be at most 65535")
    if ("port" in ref) == ("portName" in ref):
        problems.append(f"{path}: exactly one of 'port' or 'portName' must be set")
    return problems


def check_interceptor_route(obj: Mapping[str, Any]) -> list[str]:
    """What the API server would refuse of an InterceptorRoute: the field tree, then the CRD's
    required fields, minimums and CEL rules."""
    spec = obj.get("spec")
    problems = _check_tree(spec, INTERCEPTOR_ROUTE_FIELDS, "spec")
    if problems or not isinstance(spec, dict):
        return problems
    target = spec.get("target")
    if target is None:
        problems.append("spec.target: required")
    else:
        if not target.get("service"):
            problems.append("spec.target.service: required")
        problems.extend(_one_port(target, "spec.target"))
    metric = spec.get("scalingMetric")
    if metric is None:
        problems.append("spec.scalingMetric: required")
    elif not metric:
        problems.append("spec.scalingMetric: at least one of 'concurrency' or 'requestRate' must be set")
    for kind, settings in (metric or {}).items():
        if "targetValue" not in settings:
            problems.append(f"spec.scalingMetric.{kind}.targetValue: required")
        problems.extend(_at_least(settings.get("targetValue"), 1, f"spec.scalingMetric.{kind}.targetValue"))
    for i, rule in enumerate(spec.get("rules", [])):
        hosts = rule.get("hosts", [])
        if len(set(hosts)) != len(hosts):
            problems.append(f"spec.rules[{i}].hosts: duplicate entries (a set)")
        problems.extend(
            f"spec.rules[{i}].paths[{j}].value: required"
            for j, path in enumerate(rule.get("paths", []))
            if not path.get("value")
        )
        problems.extend(
            f"spec.rules[{i}].headers[{j}].name: required"
            for j, header in enumerate(rule.get("headers", []))
            if not header.get("name")
        )
    cold = spec.get("coldStart")
    if cold is not None and not ({"fallback", "placeholder"} & set(cold)):
        problems.append("spec.coldStart: at least one of 'fallback' or 'placeholder' must be set")
    fallback = (cold or {}).get("fallback", {}).get("service")
    if fallback is not None:
        problems.extend(_one_port(fallback, "spec.coldStart.fallback.service"))
    return problems


def validate(objects: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, str | None]:
    """``{id: None or the problem}`` for each ``(id, object)`` (only custom kinds of CUSTOM_KINDS)."""
    results: dict[str, str | None] = {}
    batch: list[dict[str, Any]] = []
    for ident, obj in objects:
        api = str(obj.get("apiVersion"))
        if api == "http.keda.sh/v1beta1" and obj.get("kind") == "InterceptorRoute":
            problems = check_interceptor_route(obj)
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
