"""What one client knows about its judge server, shared by all of its judgements: whether it is down (and
since when), and how many requests it should have in flight. No I/O: the core tells it what happened and
the time, and asks it what to do; the async driver reads ``slots``.

Two different conditions, told apart by the evidence vLLM and the gateways in front of it leave:

* **Down** (a cold start, a restart): connections are refused, or a gateway answers 502/503/504 or holds
  the request until the client gives up, and ``/health`` does not answer 200 either (KEDA's HTTP add-on
  holds a request while it scales from zero and answers 502/504 after its own timeout). Every judgement
  waits, shared: the wait is counted from the first failure of the outage and bounded by
  ``cold_start_s``, one request at a time probes the server, and progress is reported.
* **Overloaded**: ``/health`` answers 200 but requests are slow, time out, or are refused with 429 (by a
  gateway: vLLM itself never refuses, it queues without bound, and a request retried after a time-out
  rejoins the back of the queue). The answer is fewer requests in flight, not more retries: the limit
  is halved (at most once per round of requests, like TCP: the requests already in flight were sent at
  the old limit) and grows back by one per round while answers come in within ``latency_target``.

After an outage the limit restarts at one request and doubles per round up to where it was (slow start),
so a server that has just loaded its model is not met by the whole backlog at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app import logs
from app.judge.settings import JudgeSettings

__all__ = ["REPORT_INTERVAL_S", "Reporter", "ServerState", "log_reporter"]

# At most one "still waiting" / "overloaded" line per this many seconds.
REPORT_INTERVAL_S = 15.0

Reporter = Callable[[str, str, dict[str, Any]], None]
_log = logging.getLogger("app.judge.client")


def log_reporter(event: str, message: str, fields: dict[str, Any]) -> None:
    """The default: one record per event in the apps' log format (app/logs.py)."""
    level = logging.INFO if event == "judge.server_up" else logging.WARNING
    logs.log(_log, level, message, event=event, **fields)


class ServerState:
    def __init__(self, settings: JudgeSettings, report: Reporter = log_reporter) -> None:
        self.settings = settings
        self.report = report
        self.max_slots = settings.concurrency
        self.limit = float(settings.concurrency)
        self.threshold = float(settings.concurrency)
        # Bumped on every decrease; an outcome of a request sent before the latest one says nothing new.
        self.epoch = 0
        self._answered = 0  # answers in the current round (congestion avoidance)
        self.down_since: float | None = None
        # When the last outage ended: a failure of a request sent before then belongs to that outage.
        self.recovered_at: float | None = None
        self.down_reason = ""
        self.gave_up = False
        self._last_report = float("-inf")

    # --- concurrency ---------------------------------------------------------------------------------

    @property
    def slots(self) -> int:
        """Requests this client may have in flight now."""
        if self.down_since is not None:
            return 1  # one scout request at a time while the server is down
        if not self.settings.adaptive_concurrency:
            return self.max_slots
        return max(1, min(self.max_slots, int(self.limit)))

    def on_up(self, now: float) -> None:
        """The server answers (a request, or /health); the end of an outage if there was one."""
        if self.down_since is None:
            return
        waited = now - self.down_since
        self.report(
            "judge.server_up",
            f"the judge server answers again, after {waited:.0f}s",
            {"waited_s": round(waited, 1)},
        )
        self.down_since = None
        self.recovered_at = now
        self.gave_up = False
        self.limit = 1.0  # slow start back towards self.threshold

    def on_answer(self, latency_s: float, epoch: int, now: float) -> None:
        """A request sent at ``epoch`` was answered after ``latency_s``."""
        if self.down_since is not None:
            self.on_up(now)
            return
        if latency_s > self.settings.latency_target:
            self.on_overload(epoch, now, f"an answer took {latency_s:.1f}s, over the {self._target()} target")
            return
        # Slow start (+1 per answer: doubles per round) below the threshold, then +1 per round of answers.
        if self.limit < self.threshold:
            self.limit += 1.0
        else:
            self._answered += 1
            if self._answered >= int(self.limit):
                self._answered = 0
                self.limit += 1.0
        self.limit = min(self.limit, float(self.max_slots))

    def on_overload(self, epoch: int, now: float, why: str) -> None:
        if not self.settings.adaptive_concurrency or epoch < self.epoch:
            return
        self.epoch += 1
        self._answered = 0
        self.limit = max(1.0, self.limit / 2)
        self.threshold = self.limit
        if now - self._last_report >= REPORT_INTERVAL_S:
            self._last_report = now
            self.report(
                "judge.overloaded",
                f"the judge server is overloaded ({why}): at most {self.slots} request(s) in flight now",
                {"slots": self.slots, "max_slots": self.max_slots, "why": why},
            )

    def _target(self) -> str:
        return f"{self.settings.latency_target:g}s"

    # --- outages -------------------------------------------------------------------------------------

    def on_down(self, now: float, why: str) -> float:
        """The server gave no answer at all; returns how long it has been down (its outage so far)."""
        budget = self.settings.cold_start_s
        self.down_reason = why
        if self.down_since is None:
            self.down_since = now
            self.threshold = max(self.threshold, self.limit)
            self._last_report = now
            self.report(
                "judge.server_down",
                f"the judge server does not answer ({why}); waiting up to {budget:g}s for it to come up "
                "(JUDGE_COLD_START_S; a judge scaled to zero takes minutes)",
                {"why": why, "budget_s": budget},
            )
            return 0.0
        waited = now - self.down_since
        if waited >= budget:
            if not self.gave_up:
                self.gave_up = True
                self.report(
                    "judge.server_gave_up",
                    f"the judge server did not come up within {budget:g}s (JUDGE_COLD_START_S): {why}",
                    {"why": why, "budget_s": budget},
                )
        elif now - self._last_report >= REPORT_INTERVAL_S:
            self._last_report = now
            self.report(
                "judge.server_waiting",
                f"still waiting for the judge server: {waited:.0f}s of {budget:.0f}s ({why})",
                {"waited_s": round(waited, 1), "budget_s": budget, "why": why},
            )
        return waited

    def down_for(self, now: float) -> float | None:
        return None if self.down_since is None else now - self.down_since
