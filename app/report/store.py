"""Where a report reads its day files and writes itself: a local directory here, a bucket prefix in
``app.batch_job.report_store``; both with the bucket's layout."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "LocalStore",
    "ReportStore",
    "labelling_config_path",
    "labels_path",
    "people_path",
    "report_dir",
    "results_path",
    "review_tasks_path",
    "summary_path",
]


class ReportStore(Protocol):
    """The day files (``judgements/<date>/results.jsonl`` and ``summary.json``) and the report's own
    place (``reports/<date>/``), addressed by paths relative to one root."""

    def describe(self, rel: str) -> str: ...

    def exists(self, rel: str) -> bool: ...

    def lines(self, rel: str) -> Iterator[bytes]: ...

    def read_json(self, rel: str) -> Any | None: ...

    def write(self, rel: str, data: bytes, content_type: str) -> None: ...


def results_path(day: dt.date) -> str:
    return f"judgements/{day.isoformat()}/results.jsonl"


def summary_path(day: dt.date) -> str:
    return f"judgements/{day.isoformat()}/summary.json"


def report_dir(day: dt.date) -> str:
    return f"reports/{day.isoformat()}"


def review_tasks_path(day: dt.date) -> str:
    """The day's review sample, as Label Studio imports tasks."""
    return f"review/{day.isoformat()}/tasks.json"


def labelling_config_path(prompt_stem: str) -> str:
    """The Label Studio labelling config of a prompt (the same path as in the repository)."""
    return f"review/labelling-config/{prompt_stem}.xml"


def labels_path(day: dt.date) -> str:
    """People's labels of the day's records (python -m app.batch_job import-labels)."""
    return f"labels/{day.isoformat()}/labels.jsonl"


def people_path(day: dt.date) -> str:
    """Each judge's agreement with the day's labels, as of the last import (the report's trend reads it)."""
    return f"labels/{day.isoformat()}/agreement.json"


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self, rel: str) -> str:
        return str(self.root / rel)

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def lines(self, rel: str) -> Iterator[bytes]:
        with (self.root / rel).open("rb") as fh:
            for line in fh:
                yield line.rstrip(b"\r\n")

    def read_json(self, rel: str) -> Any | None:
        path = self.root / rel
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_bytes())
        except ValueError:
            return None  # a torn file is as good as none: the caller falls back

    def write(self, rel: str, data: bytes, content_type: str) -> None:
        # Written beside and renamed: a reader never sees half a report.
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
