"""The model loader's logging: the apps' one setup (``app.logs``) on stderr, every record with an
``event`` name and its fields, so progress and errors can be filtered in the cluster's log store.
Command results (list, verify, cleanup) go to stdout; logs never do."""

from __future__ import annotations

from app.logs import EventLogger, LogFormat, setup

__all__ = ["EventLogger", "LogFormat", "human_bytes", "setup_logging"]


def setup_logging(fmt: LogFormat | None = None, level: str = "INFO") -> None:
    setup(fmt, level)


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
