"""TEST-ONLY crash points: ``LOADER_CRASH_AT=<point>:<n>`` makes the loader SIGKILL itself the n-th
time it reaches ``point`` (after_manifest, before_upload, after_upload, before_commit, after_commit,
mid_batch); ``<point>:<n>:TERM`` sends SIGTERM instead (the clean-stop path, at an exact moment).
Crash tests use it to stop the process at exact moments; it is never set in production, and costs one
string comparison per point when unset."""

from __future__ import annotations

import os
import signal
import threading

ENV_VAR = "LOADER_CRASH_AT"
POINTS = frozenset(
    {"after_manifest", "before_upload", "after_upload", "before_commit", "after_commit", "mid_batch"}
)


class CrashPoints:
    def __init__(self, spec: str | None) -> None:
        self._point: str | None = None
        self._at = 0
        self._count = 0
        self._signal = signal.SIGKILL
        self._lock = threading.Lock()
        if spec:
            point, _, rest = spec.partition(":")
            count, _, how = rest.partition(":")
            if (
                point not in POINTS
                or not count.isdigit()
                or int(count) < 1
                or how not in ("", "KILL", "TERM")
            ):
                raise ValueError(
                    f"{ENV_VAR}={spec!r}: expected <point>:<n>[:TERM], point one of {sorted(POINTS)}"
                )
            self._point, self._at = point, int(count)
            self._signal = signal.SIGTERM if how == "TERM" else signal.SIGKILL

    @classmethod
    def from_env(cls) -> CrashPoints:
        return cls(os.environ.get(ENV_VAR))

    def watches(self, point: str) -> bool:
        return point == self._point

    def hit(self, point: str) -> None:
        if point != self._point:
            return
        with self._lock:
            self._count += 1
            if self._count == self._at:
                os.kill(os.getpid(), self._signal)
