"""build/Dockerfile.judge installs every third-party package that app.judge imports, pinned."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "build" / "Dockerfile.judge"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "app" / "judge").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"app", "__future__"}


def _installed_in_image() -> set[str]:
    text = DOCKERFILE.read_text()
    install = re.search(r"pip install(?:[^\n\\]|\\\n)*", text)
    assert install, "no pip install in build/Dockerfile.judge"
    words = install.group(0).replace("\\\n", " ").split()
    names = [w for w in words if re.fullmatch(r"[A-Za-z][\w.-]*", w) and not w.endswith(".txt")]
    return {_normal(w) for w in names if w not in ("pip", "install")}


def test_every_imported_package_is_installed_in_the_image() -> None:
    distributions = importlib.metadata.packages_distributions()
    needed = {_normal(distributions[m][0]) for m in _imported_top_level_modules()}
    assert needed <= _installed_in_image(), (
        f"missing from {DOCKERFILE.name}: {needed - _installed_in_image()}"
    )


def test_every_installed_package_is_pinned_by_the_repo() -> None:
    pins = {
        _normal(line.split("==")[0])
        for file in (ROOT / "requirements.txt", ROOT / "app" / "judge" / "constraints.txt")
        for line in file.read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert _installed_in_image() <= pins
