"""build/Dockerfile.model-loader installs what app.model_loader imports, and every package it pulls in
(transitively) is pinned by requirements.txt or app/model_loader/constraints.txt."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "build" / "Dockerfile.model-loader"
PIN_FILES = (ROOT / "requirements.txt", ROOT / "app" / "model_loader" / "constraints.txt")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_distributions() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "app" / "model_loader").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names) | {"app", "__future__"}
    distributions = importlib.metadata.packages_distributions()
    return {_normal(distributions[m][0]) for m in modules}


def _installed_in_image() -> set[str]:
    install = re.search(r"pip install(?:[^\n\\]|\\\n)*", DOCKERFILE.read_text())
    assert install, f"no pip install in {DOCKERFILE.name}"
    words = install.group(0).replace("\\\n", " ").split()
    names = [w for w in words if re.fullmatch(r"[A-Za-z][\w.-]*", w) and not w.endswith(".txt")]
    return {_normal(w) for w in names if w not in ("pip", "install")}


def _closure(roots: set[str]) -> set[str]:
    env = {**default_environment(), "extra": ""}
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = _normal(stack.pop())
        if name in seen:
            continue
        seen.add(name)
        for spec in importlib.metadata.distribution(name).requires or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate(env):
                stack.append(requirement.name)
    return seen


def _pins() -> dict[str, str]:
    pins = {}
    for file in PIN_FILES:
        for raw in file.read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split("==", 1)
                pins[_normal(name)] = version.strip()
    return pins


def test_every_imported_package_is_installed_in_the_image():
    missing = _imported_distributions() - _installed_in_image()
    assert not missing, f"imported by app.model_loader but not installed by {DOCKERFILE.name}: {missing}"


def test_the_image_installs_the_tested_version_of_everything_it_pulls_in():
    pins = _pins()
    closure = _closure(_installed_in_image())
    unpinned = closure - set(pins)
    assert not unpinned, f"installed in the image without a pin: {unpinned}"
    drift = {
        n: (pins[n], importlib.metadata.version(n))
        for n in closure
        if importlib.metadata.version(n) != pins[n]
    }
    assert not drift, f"pinned version differs from the one the tests ran with: {drift}"
