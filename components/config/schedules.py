"""Schedule arithmetic of the GCP config: unix-cron validation as Cloud Scheduler reads it, the gaps
between runs of a schedule, and the days the collect job looks at."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zoneinfo

from croniter import croniter

_CRON_VALUE = r"([0-9]+|[A-Za-z]{3})"
_CRON_ITEM = rf"(\*|{_CRON_VALUE}(-{_CRON_VALUE})?)(/[0-9]+)?"
_CRON_FIELD = re.compile(rf"^{_CRON_ITEM}(,{_CRON_ITEM})*$")


def cron_problem(expr: str) -> str | None:
    """Why ``expr`` is not a schedule Cloud Scheduler accepts (unix-cron, five fields), or None."""
    fields = expr.split()
    if len(fields) != 5:
        return (
            f"has {len(fields)} field(s); Cloud Scheduler takes exactly five "
            "(minute hour day-of-month month day-of-week), e.g. '0 * * * *'"
        )
    for name, field in zip(("minute", "hour", "day-of-month", "month", "day-of-week"), fields, strict=True):
        if not _CRON_FIELD.match(field):
            return f"the {name} field {field!r} is not unix-cron (use numbers, 3-letter names, * , - /)"
    if not croniter.is_valid(expr):
        return "is not a valid cron expression (a value out of range?)"
    return None


def shortest_gap_seconds(cron: str, time_zone: str, runs: int = 200) -> int:
    """The shortest time between two runs of ``cron`` over its next ``runs`` runs (from a fixed date,
    so the answer does not depend on when the config is loaded)."""
    start = dt.datetime(2025, 1, 1, tzinfo=zoneinfo.ZoneInfo(time_zone))
    it = croniter(cron, start)
    times = [it.get_next(dt.datetime) for _ in range(runs)]
    return int(min((b - a).total_seconds() for a, b in itertools.pairwise(times)))


def longest_gap_seconds(cron: str, time_zone: str, runs: int = 200) -> int:
    """The longest time between two runs of ``cron`` over its next ``runs`` runs (see
    ``shortest_gap_seconds``)."""
    start = dt.datetime(2025, 1, 1, tzinfo=zoneinfo.ZoneInfo(time_zone))
    it = croniter(cron, start)
    times = [it.get_next(dt.datetime) for _ in range(runs)]
    return int(max((b - a).total_seconds() for a, b in itertools.pairwise(times)))


def lookback_days(args: list[str]) -> int:
    """How many days back ``collect`` looks: ``--lookback N`` (or ``--lookback=N``); without it collect
    takes one day (yesterday, or the ``--date`` it is given)."""
    for i, arg in enumerate(args):
        value = None
        if arg == "--lookback" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--lookback="):
            value = arg.split("=", 1)[1]
        if value is not None and value.isdigit():
            return int(value)
    return 1


def collect_day_mismatch(judge_cron: str, collect_cron: str, time_zone: str) -> str | None:
    """Why the collect schedule would not collect the day the judge submitted, or None.

    Both commands take "yesterday in UTC" as their day, so every collect run must fall on the same UTC
    date as the judge run before it. Checked for a week in winter and one in summer (daylight saving
    time moves a local schedule against UTC)."""
    tz = zoneinfo.ZoneInfo(time_zone)
    for month in (1, 7):
        judge = croniter(judge_cron, dt.datetime(2025, month, 1, tzinfo=tz))
        for _ in range(7):
            submitted = judge.get_next(dt.datetime)
            collected = croniter(collect_cron, submitted).get_next(dt.datetime)
            sub_utc, col_utc = submitted.astimezone(dt.UTC), collected.astimezone(dt.UTC)
            if sub_utc.date() != col_utc.date():
                return (
                    f"the judge submits at {sub_utc:%Y-%m-%d %H:%M} UTC but the next collect runs at "
                    f"{col_utc:%Y-%m-%d %H:%M} UTC, a different UTC day: both take yesterday (UTC), so "
                    "that collect would look for a day not submitted yet. Run collect later on the same "
                    "UTC day as the judge"
                )
    return None
