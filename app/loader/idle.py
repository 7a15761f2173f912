"""What a task with no partition does: wait, finish, or give up.

A task can be without partitions for good reasons (more tasks than partitions; its partitions went to
another task in a rebalance; the group is still forming) and for bad ones (a killed member still holds
them until its session times out, or a live member holds them without loading). The rule:

- the group has nothing left below this run's end offsets: finished;
- the group's lag falls (another member commits): keep waiting, as a standby that takes partitions over
  if their owner dies;
- no progress for ``limit`` seconds: give up, so the failure is visible (exit 3) and Cloud Run retries.

``limit`` is at least the session timeout plus a rebalance (``LoaderSettings.min_idle_exit_seconds``),
so a dead member's partitions always move before this gives up.
"""

from __future__ import annotations

import enum


class Idle(enum.Enum):
    WAIT = "wait"
    FINISHED = "finished"
    GIVE_UP = "give_up"


class IdleWatch:
    def __init__(self, limit: float, now: float) -> None:
        self.limit = limit
        self._since = now
        self._lowest_lag: int | None = None

    def assigned(self, now: float) -> None:
        """The task holds partitions: the clock starts again when it has none."""
        self._since = now
        self._lowest_lag = None

    def idle_seconds(self, now: float) -> float:
        return now - self._since

    def observe(self, now: float, lag: int | None) -> Idle:
        """``lag``: what the group has left below this run's end offsets (None: could not be read)."""
        if lag == 0:
            return Idle.FINISHED
        if lag is not None:
            if self._lowest_lag is not None and lag < self._lowest_lag:
                self._since = now  # another member committed: it is loading
            if self._lowest_lag is None or lag < self._lowest_lag:
                self._lowest_lag = lag
        return Idle.GIVE_UP if now - self._since >= self.limit else Idle.WAIT
