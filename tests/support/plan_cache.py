"""Offline plans shared by the test processes of one `pytest -n N` run.

Most component, policy and tool tests read a rendered plan and never change it, and many files render
the same stack with the same config (the dev stack's AWS half with its defaults: five files). Under
`--dist loadfile` those files run in different worker processes, and each one rendered that plan
again (measured: 102 renders, 36 CPU-s, 14 of them repeats of a plan another worker had already
made). Here a plan is rendered once per run: kept in memory, and pickled into a directory that every
worker of the run shares, a render of a key at a time under an exclusive lock on that key, so that
two workers that want the same plan at once do not both make it.

Sound because a render is a pure function of the key (stack, project, config values, secret keys),
which tests/tools/test_plan_cli.py asserts across processes
(``test_the_real_stack_plans_identically_in_another_process``), and the directory lives exactly as
long as the run (the run's own temporary directory), so no code change can meet an old plan. Tests
that are about rendering itself pass ``use_cache=False`` and render afresh.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
import threading
from collections.abc import Callable
from pathlib import Path

from tools.plan_runtime import MemoryPlanCache, Plan


class SharedPlanCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._memory = MemoryPlanCache()
        self._lock = threading.Lock()

    def get_or_render(self, key: str, render: Callable[[], Plan]) -> Plan:
        return self._memory.get_or_render(key, lambda: self._from_disk_or_render(key, render))

    def _from_disk_or_render(self, key: str, render: Callable[[], Plan]) -> Plan:
        path = self.directory / f"{hashlib.sha256(key.encode()).hexdigest()}.pickle"
        # flock excludes other processes; threads of this one take the lock in turn.
        with self._lock, open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if path.exists():
                return pickle.loads(path.read_bytes())  # noqa: S301 - written by this run's own workers
            plan = render()
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL))
            partial.replace(path)
            return plan
