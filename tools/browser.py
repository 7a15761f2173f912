"""Headless Chrome/Chromium for the report: a screenshot and the page's console messages, or its DOM.

The browser is found (or, where none is installed, Debian's ``chromium`` installed) by
``tools/ensure_chromium.sh``. Each run gets a fresh profile directory and no background traffic (no
component updates, sync, QUIC or first-run tasks), so a run is the page alone. Console messages come from
Chromium's own log (``--enable-logging=stderr --v=0`` prints each as ``INFO:CONSOLE``), which includes
script errors and Content-Security-Policy refusals.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["BrowserError", "ScreenshotRun", "browser_path", "dump_dom", "screenshot"]

REPO = Path(__file__).resolve().parents[1]
_CONSOLE = re.compile(r":(?:INFO|WARNING|ERROR|VERBOSE\d*):CONSOLE[^\]]*\]\s*(.*)")
FLAGS = (
    "--headless",
    "--no-sandbox",  # running as root in a container; the page is our own file
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)


class BrowserError(RuntimeError):
    pass


@cache
def browser_path() -> str:
    done = subprocess.run(
        ["bash", str(REPO / "tools" / "ensure_chromium.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BrowserError(done.stderr.strip() or "tools/ensure_chromium.sh found no browser")
    return done.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class ScreenshotRun:
    png: Path
    console: list[str]
    log: str


def _run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [browser_path(), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )


def screenshot(
    page: Path, png: Path, width: int = 1280, height: int = 2400, timeout_s: float = 60
) -> ScreenshotRun:
    """Open ``page`` (a local file) and save a ``width`` x ``height`` screenshot to ``png``."""
    done = _run(
        [f"--screenshot={png}", f"--window-size={width},{height}", page.resolve().as_uri()], timeout_s
    )
    if done.returncode != 0 or not png.is_file():
        raise BrowserError(f"the browser failed ({done.returncode}): {done.stderr[-2000:]}")
    console = [m.group(1) for m in map(_CONSOLE.search, done.stderr.splitlines()) if m]
    return ScreenshotRun(png, console, done.stderr)


def dump_dom(page: Path, timeout_s: float = 60) -> str:
    """The page's DOM as the browser parsed it (serialised)."""
    done = _run(["--dump-dom", page.resolve().as_uri()], timeout_s)
    if done.returncode != 0:
        raise BrowserError(f"the browser failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout
