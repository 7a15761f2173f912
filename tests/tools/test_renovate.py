"""renovate.json watches every pin in the repository.

The test builds its own inventory of the pins (it does not ask renovate.json where they are): Python
packages in the requirement files and locks, the Dockerfiles' base images, the workflows' actions, the
npm packages, and the chart versions and image tags in the stack config, the stack files and the
autoscaler table. Each must be matched by a manager Renovate runs here: a built-in manager whose file
patterns (Renovate's defaults plus ours) take its file, or a custom manager whose regex, run again in
Python, captures that very value on that line. Renovate runs its regexes with RE2, which has no
lookarounds or backreferences: the test refuses them, since Python would accept them and Renovate would
not. Kubernetes versions and Gemini models are not Renovate's: they have end dates, not releases to
follow (components/lifecycle.py). Renovate's own validator runs in `make renovate-check`.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import PurePosixPath

import pytest

from tools.locks import header_command
from tools.plan_runtime import REPO_ROOT

CONFIG = json.loads((REPO_ROOT / "renovate.json").read_text())

# Renovate 44.121.2's own file patterns of the built-in managers enabled here
# (lib/modules/manager/<manager>/index.ts, defaultConfig.managerFilePatterns); a repository's patterns are
# added to these.
BUILT_IN_PATTERNS = {
    "dockerfile": ["/(^|/|\\.)([Dd]ocker|[Cc]ontainer)file$/", "/(^|/)([Dd]ocker|[Cc]ontainer)file[^/]*$/"],
    "github-actions": [
        "/(^|/)(workflow-templates|\\.(?:github|gitea|forgejo)/(?:workflows|actions))/.+\\.ya?ml$/",
        "/(^|/)action\\.ya?ml$/",
    ],
    "npm": ["/(^|/)package\\.json$/", "/(^|/)pnpm-workspace\\.yaml$/", "/(^|/)\\.yarnrc\\.yml$/"],
    "pip-compile": [],
}
# config:recommended extends :ignoreModulesAndTests, whose ignorePaths no manager reads.
IGNORED = [
    "**/node_modules/**",
    "**/bower_components/**",
    "**/vendor/**",
    "**/examples/**",
    "**/__tests__/**",
    "**/test/**",
    "**/tests/**",
    "**/__fixtures__/**",
]

_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+(\.[0-9]+)?$")
_PYTHON_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\#]+)")
_STACK_KEYS = {"tag", "chartVersion", "imageTag"}
_CONFIG_FIELDS = {"tag", "chart_version", "image_tag"}


@dataclass(frozen=True)
class Pin:
    kind: str  # python, dockerfile, github-actions, npm, value (a version written in a file)
    path: str
    line: int
    value: str


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True, timeout=30
    )
    return sorted(p for p in listing.stdout.decode().split("\0") if p and (REPO_ROOT / p).is_file())


def _python_pins(path: str, text: str) -> list[Pin]:
    return [
        Pin("python", path, n, m.group(3))
        for n, line in enumerate(text.splitlines(), 1)
        if (m := _PYTHON_PIN.match(line))
    ]


def _config_pins(path: str, text: str) -> list[Pin]:
    """Chart versions and image tags given as defaults in the stack config, and the autoscaler table's
    rows (``AutoscalerRelease("1.35", "<chart>", "<image tag>")``)."""
    pins = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            value = node.value
            if (
                names & _CONFIG_FIELDS
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and _VERSION.match(value.value)
            ):
                pins.append(Pin("value", path, value.lineno, value.value))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "AutoscalerRelease":
            for arg in node.args[1:]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    pins.append(Pin("value", path, arg.lineno, arg.value))
    return pins


def _stack_pins(path: str, text: str) -> list[Pin]:
    pins = []
    for n, line in enumerate(text.splitlines(), 1):
        key, _, value = line.split("#", 1)[0].strip().partition(":")
        value = value.strip().strip("\"'")
        if key in _STACK_KEYS and _VERSION.match(value):
            pins.append(Pin("value", path, n, value))
    return pins


def inventory(files: list[str]) -> list[Pin]:
    """Every pinned version in ``files`` (paths relative to the repository), found without renovate.json."""
    pins: list[Pin] = []
    for path in files:
        name = PurePosixPath(path).name
        text = (REPO_ROOT / path).read_text(errors="replace")
        if re.fullmatch(r"requirements.*\.(txt|lock|in)|[^/]+\.in", name) or path.startswith(
            "build/requirements/"
        ):
            pins += _python_pins(path, text)
        elif name.startswith("Dockerfile"):
            pins += [
                Pin("dockerfile", path, n, line.strip())
                for n, line in enumerate(text.splitlines(), 1)
                if re.match(r"^(FROM\s|ARG\s+\w*IMAGE\w*=)", line)
            ]
        elif path.startswith(".github/workflows/") and name.endswith((".yml", ".yaml")):
            pins += [
                Pin("github-actions", path, n, line.split("uses:", 1)[1].strip())
                for n, line in enumerate(text.splitlines(), 1)
                if "uses:" in line
            ]
        elif name == "package.json":
            dependencies = json.loads(text).get("dependencies", {})
            pins += [Pin("npm", path, 0, f"{dep}@{version}") for dep, version in dependencies.items()]
        elif path.startswith("components/") and name.endswith(".py"):
            pins += _config_pins(path, text)
        elif re.fullmatch(r"Pulumi\.[^/]+\.yaml", path):
            pins += _stack_pins(path, text)
    return pins


# --- Renovate's patterns and regexes, read as Renovate reads them ----------------------------------

_LOOKAROUND = re.compile(r"\(\?<?[=!]|\\[1-9]|\\k<")


def python_regex(js: str) -> re.Pattern[str]:
    """A Renovate (JavaScript/RE2) regex in Python: named groups ``(?<name>`` become ``(?P<name>``."""
    assert not _LOOKAROUND.search(js), f"RE2 has no lookarounds or backreferences: {js}"
    return re.compile(re.sub(r"\(\?<(?![=!])", "(?P<", js))


def file_matches(pattern: str, path: str) -> bool:
    """A managerFilePatterns entry: a regex between slashes, otherwise a glob (minimatch)."""
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        return python_regex(pattern[1:-1]).search(path) is not None
    return fnmatch(path, pattern)


def built_in_managers(path: str) -> list[str]:
    if any(fnmatch(path, glob) or fnmatch("/" + path, glob) for glob in IGNORED):
        return []
    return [
        manager
        for manager in CONFIG["enabledManagers"]
        if manager in BUILT_IN_PATTERNS
        and any(
            file_matches(p, path)
            for p in BUILT_IN_PATTERNS[manager] + CONFIG.get(manager, {}).get("managerFilePatterns", [])
        )
    ]


def custom_captures(path: str, text: str) -> set[tuple[int, str]]:
    """(line, currentValue) of every match of every custom manager that reads ``path``."""
    found = set()
    if "custom.regex" not in CONFIG["enabledManagers"]:
        return found
    for manager in CONFIG.get("customManagers", []):
        if not any(file_matches(p, path) for p in manager["managerFilePatterns"]):
            continue
        for js in manager["matchStrings"]:
            for match in python_regex(js).finditer(text):
                start = match.start("currentValue")
                found.add((text.count("\n", 0, start) + 1, match["currentValue"]))
    return found


def _pip_compile_sources() -> set[str]:
    """The lock files Renovate's pip-compile manager reads, and the source files their headers name."""
    patterns = CONFIG["pip-compile"]["managerFilePatterns"]
    locks = {p for p in tracked_files() if any(file_matches(x, p) for x in patterns)}
    sources = {arg for lock in locks for arg in header_command(REPO_ROOT / lock).split()[3:] if arg[0] != "-"}
    return locks | sources


def unmatched(pins: list[Pin]) -> list[str]:
    pip_compile = _pip_compile_sources() if "pip-compile" in CONFIG["enabledManagers"] else set()
    captures: dict[str, set[tuple[int, str]]] = {}
    out = []
    for pin in pins:
        if pin.kind == "python":
            ok = pin.path in pip_compile
        elif pin.kind == "value":
            if pin.path not in captures:
                captures[pin.path] = custom_captures(pin.path, (REPO_ROOT / pin.path).read_text())
            ok = (pin.line, pin.value) in captures[pin.path]
        else:
            ok = pin.kind in built_in_managers(pin.path)
        if not ok:
            out.append(
                f"{pin.path}:{pin.line}: {pin.kind} pin {pin.value!r} is matched by no Renovate manager"
            )
    return out


# --- Tests -----------------------------------------------------------------------------------------

PINS = inventory(tracked_files())


def test_every_pin_in_the_repository_is_matched_by_a_manager():
    problems = unmatched(PINS)

    assert not problems, "\n".join(problems)


def test_the_inventory_finds_every_kind_of_pin():
    kinds = {(p.kind, p.path) for p in PINS}
    values = {(p.path, p.value) for p in PINS if p.kind == "value"}

    assert {k for k, _ in kinds} == {"python", "dockerfile", "github-actions", "npm", "value"}
    for path in ("requirements.txt", "requirements-dev.txt", "requirements.lock", "policy/requirements.in"):
        assert ("python", path) in kinds, path
    assert ("dockerfile", "build/Dockerfile.judge") in kinds
    assert ("npm", "tools/crds/package.json") in kinds
    assert ("npm", "tools/renovate/package.json") in kinds
    assert sum(1 for path, _ in values if path == "components/aws/autoscaler_versions.py") == 8
    for path in ("components/config/aws_vllm.py", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        assert (path, "v0.33.0") in {(p, v) for p, v in values}, path


def test_a_pin_no_manager_matches_is_reported(tmp_path):
    # A new image tag in the stack config without its `# renovate:` line, and a Python pin in a file
    # no lock's header names.
    stray = [
        Pin("value", "components/config/aws_vllm.py", 1, "v0.33.0"),
        Pin("python", "docs/requirements.txt", 1, "1.0"),
    ]

    problems = unmatched(stray)

    assert len(problems) == 2


def test_removing_an_annotation_unwatches_its_pin():
    path = "components/config/aws_device_plugin.py"
    text = (REPO_ROOT / path).read_text()
    (pin,) = [p for p in PINS if p.path == path]
    assert (pin.line, pin.value) in custom_captures(path, text)

    without = "\n".join(line for line in text.splitlines() if "# renovate:" not in line) + "\n"

    assert not {value for _, value in custom_captures(path, without)}


def test_renovate_regexes_are_re2_compatible_and_refused_otherwise():
    for manager in CONFIG["customManagers"]:
        for js in manager["matchStrings"]:
            python_regex(js)
        for pattern in manager["managerFilePatterns"]:
            file_matches(pattern, "x")
    with pytest.raises(AssertionError, match="RE2"):
        python_regex("tag: (?=v)(?<currentValue>v[0-9.]+)")
    with pytest.raises(AssertionError, match="RE2"):
        python_regex(r'(?<q>["\'])(?<currentValue>[0-9.]+)\1')


def test_the_pip_compile_locks_are_the_ones_tools_locks_writes():
    from tools.locks import ISOLATED, MAIN_LOCK, SUBSETS

    written = {str(p.relative_to(REPO_ROOT)) for p in (MAIN_LOCK, *(s.lock for s in SUBSETS))}
    written |= {str(t.lock.relative_to(REPO_ROOT)) for t in ISOLATED}
    patterns = CONFIG["pip-compile"]["managerFilePatterns"]

    assert {p for p in tracked_files() if any(file_matches(x, p) for x in patterns)} == written


def test_updates_come_once_a_week_grouped_with_a_dashboard():
    assert CONFIG["dependencyDashboard"] is True
    assert CONFIG["schedule"] == ["* 0-5 * * 1"]
    assert CONFIG["minimumReleaseAge"]
    for manager in ("pip-compile", "dockerfile", "github-actions"):
        assert any(
            rule.get("matchManagers") == [manager] and "groupName" in rule for rule in CONFIG["packageRules"]
        ), manager
