"""Run a module as ``python -m <module>`` would, pausing just before every change the process makes to one
path: ``python -m tests.support.pause_at <module> [args...]`` with ``PAUSE_AT_PATH`` (the path watched)
and ``PAUSE_AT_SECONDS`` in the environment.

A test that watches a path from outside the process (the served model link, read by another process
while the loader switches it) would otherwise have to win a race against a window of a few
microseconds between two system calls. Paused before each remove, rename or symlink that names the
path, any window in which the path is missing or wrong lasts at least the pause, so a watcher polling
in a loop sees it every time; a switch done as one rename(2) has no such window to widen. The pause is
taken in a Python audit hook (``sys.addaudithook``, PEP 578: ``os.remove``, ``os.rename`` (also raised
by ``os.replace``) and ``os.symlink`` are raised before the system call), so the code under test runs
unchanged.
"""

from __future__ import annotations

import os
import runpy
import sys
import time

# Audit event -> the positions of its path arguments (the CPython audit events table).
_PATH_ARGS = {"os.remove": (0,), "os.rename": (0, 1), "os.symlink": (0, 1), "os.rmdir": (0,)}


def install(path: str, seconds: float) -> None:
    watched = os.path.abspath(path)

    def pause(event: str, args: tuple) -> None:
        positions = _PATH_ARGS.get(event)
        if positions is None:
            return
        for i in positions:
            if (
                i < len(args)
                and isinstance(args[i], str | bytes | os.PathLike)
                and os.path.abspath(os.fsdecode(args[i])) == watched
            ):
                time.sleep(seconds)
                return

    sys.addaudithook(pause)


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m tests.support.pause_at <module> [args...]")
    install(os.environ["PAUSE_AT_PATH"], float(os.environ.get("PAUSE_AT_SECONDS", "0.2")))
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
