"""Run the real Pulumi program in-process under the mock runtime and return what it would register.

``render("dev")`` reads ``Pulumi.dev.yaml`` the way the Pulumi CLI would hand it to the program
(every value as text, structured values as JSON, ``secure:`` values decrypted: here replaced by a
fixed fake value, since nothing can be decrypted offline), validates it exactly as ``__main__`` does,
runs ``components.program.build_stack`` under ``tools.mocks`` and returns a ``Plan``. Every secret
is shown as ``"[secret]"``: what the SDK marks secret, the configured secret values wherever they
end up (also inside larger strings and base64), and outputs a provider declares secret.

Each render runs on a fresh thread: the Pulumi SDK keeps its state (root stack, config, settings)
in context variables, and a new thread starts with an empty context, so renders never see each
other. Results are cached per stack, config and stack-file content: in this process by default;
``use_plan_cache`` puts another ``PlanCache`` in its place (the tests share theirs among their
worker processes: tests/support/plan_cache.py).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from pulumi.runtime import rpc
from pulumi.runtime.config import set_all_config
from pulumi.runtime.mocks import MockEngine, MockSettings
from pulumi.runtime.settings import configure
from pulumi.runtime.stack import run_in_stack

from app.yaml_errors import one_line as yaml_error_line
from components.config import NAMESPACE, ConfigError, StackConfig
from components.config.pulumi_source import project_config_values, secret_fields
from components.config.stack import load_stack_config

from .mocks import PlanMonitor, StackMocks

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET = "[secret]"  # noqa: S105 - the mask, not a password
UNKNOWN = "[unknown]"
_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig
_RESOURCE_SIG = rpc._special_resource_sig
_OUTPUT_SIG = rpc._special_output_value_sig
_ASSET_SIG = rpc._special_asset_sig
_ARCHIVE_SIG = rpc._special_archive_sig


@dataclass(frozen=True)
class PlannedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    custom: bool = True
    read: bool = False
    depends_on: list[str] = field(default_factory=list)
    """URNs this resource waits for (explicit ``depends_on``, components expanded to their children)."""
    ignore_changes: list[str] = field(default_factory=list)
    """Input paths a later ``up`` leaves as they are (``ignore_changes``)."""
    delete_before_replace: bool = False
    """A replacement deletes the old one first (``delete_before_replace``): two would collide."""

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.inputs,
        }


@dataclass
class Plan:
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    config: StackConfig | None = field(default=None, compare=False, repr=False)
    diagnostics: list[tuple[str, str]] = field(default_factory=list, compare=False)
    """``(severity, message)`` of everything the program logged with ``pulumi.log``."""

    def of_type(self, type_token: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> PlannedResource:
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            names = sorted(r.name for r in self.of_type(type_token))
            wanted = type_token if name is None else f"{type_token} named {name!r}"
            raise LookupError(f"expected exactly one {wanted} in stack {self.stack!r}, found {names}")
        return found[0]

    def by_urn(self, urn: str) -> PlannedResource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise LookupError(f"no resource {urn}")

    def children(self, parent: PlannedResource | str | None) -> list[PlannedResource]:
        urn = parent.urn if isinstance(parent, PlannedResource) else parent
        return [r for r in self.resources if r.parent == urn]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
        }


# --- config -----------------------------------------------------------------------------------


class StackFileError(ConfigError):
    """``Pulumi.<stack>.yaml`` (or ``Pulumi.yaml``) cannot be read as a stack file at all: one problem,
    naming the file (and the line, for a YAML syntax error)."""

    def __init__(self, problem: str):
        super().__init__([problem])


def shown_path(path: Path) -> str:
    """``path`` as the user would type it: relative to the working directory where it can be."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _load_yaml_file(path: Path) -> Any:
    shown = shown_path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StackFileError(
            f"{shown}: stack config file not found (stacks: {', '.join(known_stacks())})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StackFileError(f"{shown}: cannot be read: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StackFileError(yaml_error_line(shown, exc)) from None


def project_name() -> str:
    data = _load_yaml_file(REPO_ROOT / "Pulumi.yaml") or {}
    if not isinstance(data, dict):
        raise StackFileError(
            f"{shown_path(REPO_ROOT / 'Pulumi.yaml')}: expected a mapping with a `name:` key"
        )
    return str(data.get("name", NAMESPACE))


def fake_secret(key: str) -> str:
    """The stand-in for an encrypted config value: recognisable, fixed, never a real credential."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"offline-fake-secret-{re.sub(r'[^A-Za-z0-9]+', '-', key)}-{digest}"


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _replace_secure(value: Any, key: str, found: list[str]) -> Any:
    if _is_secure(value):
        fake = fake_secret(key)
        found.append(fake)
        return fake
    if isinstance(value, dict):
        return {k: _replace_secure(v, f"{key}.{k}", found) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v, f"{key}[{i}]", found) for i, v in enumerate(value)]
    return value


def _as_config_text(value: Any) -> str:
    # What the CLI passes to the program: strings verbatim, everything else as JSON.
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class RuntimeConfig:
    """The flat config map the Pulumi CLI would hand the program, plus what must stay secret."""

    values: dict[str, str]
    secret_keys: list[str]
    secret_values: list[str]


def read_stack_file(path: Path, project: str) -> RuntimeConfig:
    """Parse ``Pulumi.<stack>.yaml`` into the runtime config; ``secure:`` values become fakes."""
    data = _load_yaml_file(path) or {}
    if not isinstance(data, dict):
        raise StackFileError(f"{shown_path(path)}: expected a mapping with a `config:` key")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{shown_path(path)}: `config:` must be a mapping of keys to values")
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    secret_values: list[str] = []
    for raw_key, raw_value in config.items():
        key = str(raw_key) if ":" in str(raw_key) else f"{project}:{raw_key}"
        found: list[str] = []
        value = _replace_secure(raw_value, key, found)
        if found:
            secret_keys.append(key)
            secret_values.extend(found)
        values[key] = _as_config_text(value)
    return RuntimeConfig(values, secret_keys, secret_values)


def _runtime_config_from_values(
    config: Mapping[str, Any], base: RuntimeConfig | None, project: str
) -> RuntimeConfig:
    """Test config: project keys given parsed, other namespaces (``aws:region``) from the stack file."""
    values = {k: v for k, v in (base.values if base else {}).items() if not k.startswith(f"{project}:")}
    secret_keys: list[str] = []
    secret_values: list[str] = []
    secrets = secret_fields()
    for key, value in config.items():
        full = f"{project}:{key}"
        values[full] = _as_config_text(value)
        if key in secrets and isinstance(value, str):
            secret_keys.append(full)
            secret_values.append(value)
    return RuntimeConfig(values, secret_keys, secret_values)


# --- rendering --------------------------------------------------------------------------------


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.INFO:
            self.records.append((record.levelname.lower(), record.getMessage()))


class PlanCache(Protocol):
    def get_or_render(self, key: str, render: Callable[[], Plan]) -> Plan:
        """The plan cached under ``key``, or ``render()``'s, cached. Callers copy what they get."""
        ...


class MemoryPlanCache:
    """Plans of this process, by key. Renders run outside the lock: two threads that miss the same key
    at once both render it, and the plans are the same."""

    def __init__(self) -> None:
        self._plans: dict[str, Plan] = {}
        self._lock = threading.Lock()

    def get_or_render(self, key: str, render: Callable[[], Plan]) -> Plan:
        with self._lock:
            cached = self._plans.get(key)
        if cached is None:
            cached = render()
            with self._lock:
                self._plans[key] = cached
        return cached


_cache: PlanCache = MemoryPlanCache()


def use_plan_cache(cache: PlanCache) -> PlanCache:
    """Put ``cache`` in place of the current one (returned, to put it back)."""
    global _cache
    previous, _cache = _cache, cache
    return previous


def render(
    stack: str,
    config: Mapping[str, Any] | None = None,
    *,
    config_file: Path | str | None = None,
    use_cache: bool = True,
) -> Plan:
    """Run the program for ``stack`` under mocks. ``config`` None reads ``Pulumi.<stack>.yaml`` (or
    ``config_file``); a mapping gives the ``llm-judge`` values directly (keys without namespace,
    values parsed). Raises ``ConfigError`` for invalid config, before any resource is registered."""
    project = project_name()
    path = Path(config_file) if config_file is not None else REPO_ROOT / f"Pulumi.{stack}.yaml"
    if config is None:
        runtime = read_stack_file(path, project)
    else:
        base = read_stack_file(path, project) if path.exists() else None
        runtime = _runtime_config_from_values(config, base, project)

    if not use_cache:
        return _render_on_fresh_thread(stack, project, runtime)
    key = json.dumps([stack, project, runtime.values, runtime.secret_keys], sort_keys=True)
    return copy.deepcopy(_cache.get_or_render(key, lambda: _render_on_fresh_thread(stack, project, runtime)))


def known_stacks() -> list[str]:
    names = (p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in REPO_ROOT.glob("Pulumi.*.yaml"))
    return sorted(names)


def _render_on_fresh_thread(stack: str, project: str, runtime: RuntimeConfig) -> Plan:
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["plan"] = _render_here(stack, project, runtime)
        except BaseException as exc:  # handed to the calling thread, re-raised there
            result["error"] = exc

    thread = threading.Thread(target=target, name=f"pulumi-mock-{stack}", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["plan"]


def _render_here(stack: str, project: str, runtime: RuntimeConfig) -> Plan:
    import asyncio

    from components.program import build_stack

    set_all_config(dict(runtime.values), list(runtime.secret_keys))
    mocks = StackMocks()
    monitor = PlanMonitor(mocks)
    logger = logging.getLogger(f"tools.plan_runtime.{stack}.{threading.get_ident()}")
    logger.propagate = False
    recorder = _Recorder()
    logger.addHandler(recorder)
    logger.setLevel(logging.DEBUG)
    configure(
        MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
            engine=MockEngine(logger),
            project=project,
            stack=stack,
            dry_run=False,
            organization="organization",
            callbacks=None,
        )
    )
    loaded: dict[str, StackConfig] = {}

    def program() -> None:
        # The same parsing as components.config.pulumi_source.load_from_pulumi, but ConfigError
        # propagates instead of being turned into Pulumi log lines.
        cfg = load_stack_config(project_config_values(project), project)
        loaded["cfg"] = cfg
        build_stack(cfg)

    secret_values = list(runtime.secret_values)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run_in_stack(program))
    finally:
        logger.removeHandler(recorder)
        loop.close()
        asyncio.set_event_loop(None)

    if monitor.duplicate_urns:
        raise ValueError(
            "duplicate resource URN(s), two resources share a type, name and parent chain: "
            + ", ".join(sorted(set(monitor.duplicate_urns)))
        )
    cfg = loaded["cfg"]
    secret_values.extend(_config_secret_values(cfg))
    secret_values.extend(v for k, v in runtime.values.items() if k in runtime.secret_keys)
    masker = _Masker(secret_values)
    resources = [
        PlannedResource(
            urn=reg.urn,
            type=reg.type,
            name=reg.name,
            parent=reg.parent,
            inputs=masker.mask(_mask_keys(_plain(_drop_internal(reg.raw_inputs)), reg.secret_outputs)),
            custom=reg.custom,
            read=reg.read,
            depends_on=list(reg.dependencies),
            ignore_changes=list(reg.ignore_changes),
            delete_before_replace=reg.delete_before_replace,
        )
        for reg in monitor.registrations.values()
    ]
    outputs = masker.mask(_plain(monitor.raw_outputs))
    return Plan(
        stack=stack,
        resources=_tree_order(resources),
        outputs=dict(sorted(outputs.items())),
        config=cfg,
        diagnostics=[(sev, masker.mask(msg)) for sev, msg in recorder.records],
    )


def _config_secret_values(cfg: StackConfig) -> list[str]:
    from pydantic import SecretStr

    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif hasattr(value, "__pydantic_fields__"):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    walk(cfg)
    return found


# --- turning raw registrations into plain, masked data -----------------------------------------


def _drop_internal(inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in inputs.items() if not k.startswith("__")}


def _mask_keys(inputs: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    out = dict(inputs)
    for key in keys:
        if key in out:
            out[key] = _masked_shape(out[key])
    return out


def _masked_shape(value: Any) -> Any:
    """A secret's structure without its values: keys of a Secret's ``data`` stay reviewable."""
    if isinstance(value, dict):
        return {k: _masked_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked_shape(v) for v in value]
    return SECRET


def _plain(value: Any) -> Any:
    """JSON from the wire format (``MessageToDict`` of a Struct) to plain data for the plan."""
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET_SIG:
            return _masked_shape(_plain(value.get("value")))
        if sig == _RESOURCE_SIG:
            return value.get("urn", UNKNOWN)
        if sig == _OUTPUT_SIG:
            if value.get("secret"):
                return _masked_shape(_plain(value.get("value")))
            return _plain(value["value"]) if "value" in value else UNKNOWN
        if sig == _ASSET_SIG:
            return {"asset": {k: v for k, v in value.items() if k in ("path", "text", "uri")}}
        if sig == _ARCHIVE_SIG:
            return {"archive": _plain({k: v for k, v in value.items() if k != _SIG})}
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if value == rpc.UNKNOWN:
        return UNKNOWN
    return value


class _Masker:
    """Replaces known secret values wherever they occur, also base64-encoded or inside base64 text."""

    def __init__(self, secrets: Iterable[str]):
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self.encoded = {base64.b64encode(s.encode()).decode(): s for s in self.secrets}

    def mask(self, value: Any) -> Any:
        if not self.secrets:
            return value
        if isinstance(value, dict):
            return {k: self.mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.mask(v) for v in value)
        if isinstance(value, str):
            return self._mask_text(value)
        return value

    def _mask_text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, SECRET)
        for encoded in self.encoded:
            text = text.replace(encoded, SECRET)
        if len(text) >= 8 and re.fullmatch(r"[A-Za-z0-9+/=\s]+", text):
            try:
                decoded = base64.b64decode(text, validate=False).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return text
            if any(s in decoded for s in self.secrets):
                return SECRET
        return text


def _tree_order(resources: list[PlannedResource]) -> list[PlannedResource]:
    """Depth-first from the top-level resources, siblings by (type, name): stable across runs."""
    by_parent: dict[str | None, list[PlannedResource]] = {}
    urns = {r.urn for r in resources}
    for r in resources:
        by_parent.setdefault(r.parent if r.parent in urns else None, []).append(r)
    ordered: list[PlannedResource] = []

    def visit(parent: str | None) -> None:
        for child in sorted(by_parent.get(parent, []), key=lambda r: (r.type, r.name)):
            ordered.append(child)
            visit(child.urn)

    visit(None)
    return ordered
