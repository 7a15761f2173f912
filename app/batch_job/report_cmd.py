"""report: the day's judgement report (app.report) from judgements/<date>/ in the bucket, or from a local
directory with the same layout, or from loose files (`--results`, the output of `python -m app.judge run`).

    reports/<date>/index.html    one self-contained page: no script, no network when viewed
    reports/<date>/report.json   the numbers behind it (the trend of later days reads it)

`collect` writes the day's report after it collects (unless `--no-report`).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gcs_errors
from google.cloud import storage

from app.batch_job.context import Context
from app.batch_job.exits import EXIT_JOB_FAILED, EXIT_OK
from app.batch_job.gcs import GcsPath, expand_glob, iter_object_lines, read_json
from app.batch_job.settings import BatchJobSettings, SettingsError
from app.report.build import LineSource
from app.report.daily import NoResults, WrittenReport, write_day_report, write_file_report
from app.report.store import LocalStore, ReportStore

__all__ = [
    "GcsReportStore",
    "ReportError",
    "check_args",
    "is_local",
    "run_local",
    "run_report",
    "write_report",
]


class ReportError(RuntimeError):
    """The report could not be made (no results for the day, storage failed); the message says why."""


class NoDayResults(ReportError):
    """The day has no results file (not collected yet, or never submitted)."""


class GcsReportStore:
    """ReportStore on a bucket prefix (the batch job's output root)."""

    def __init__(self, client: storage.Client, root: GcsPath) -> None:
        self.client = client
        self.root = root

    def _path(self, rel: str) -> GcsPath:
        return self.root.join(rel)

    def describe(self, rel: str) -> str:
        return self._path(rel).uri

    def exists(self, rel: str) -> bool:
        path = self._path(rel)
        return self.client.bucket(path.bucket).blob(path.name).exists()

    def lines(self, rel: str) -> Iterator[bytes]:
        path = self._path(rel)
        blob = self.client.bucket(path.bucket).get_blob(path.name)
        if blob is None:
            return iter(())
        return iter_object_lines(blob)

    def read_json(self, rel: str) -> Any | None:
        try:
            return read_json(self.client, self._path(rel))
        except ValueError:
            return None  # a torn file: the trend falls back to the next source of the day's numbers

    def write(self, rel: str, data: bytes, content_type: str) -> None:
        path = self._path(rel)
        self.client.bucket(path.bucket).blob(path.name).upload_from_string(data, content_type=content_type)


def _store(ctx: Context | None, root: str | GcsPath) -> ReportStore:
    if isinstance(root, GcsPath):
        assert ctx is not None
        return GcsReportStore(ctx.storage, root)
    if root.startswith("gs://"):
        assert ctx is not None
        return GcsReportStore(ctx.storage, GcsPath.parse(root.rstrip("/")))
    return LocalStore(Path(root))


def _gcs_records(ctx: Context, day: dt.date) -> LineSource | None:
    """The day's raw records (the excerpts of the listed items), if the settings say where they are."""
    try:
        pattern = ctx.settings.input_pattern(day)
    except SettingsError:
        return None

    def lines() -> Iterator[bytes]:
        for blob in expand_glob(ctx.storage, pattern):
            yield from iter_object_lines(blob)

    return LineSource(pattern.uri, lines)


def _local_records(root: Path, day: dt.date) -> LineSource | None:
    files = sorted(root.glob(f"raw/*/{day.isoformat()}/*.jsonl"))
    if not files:
        return None

    def lines() -> Iterator[bytes]:
        for path in files:
            with path.open("rb") as fh:
                for line in fh:
                    yield line.rstrip(b"\r\n")

    return LineSource(str(root / "raw" / "*" / day.isoformat()), lines)


def write_report(
    ctx: Context | None,
    day: dt.date,
    *,
    root: str | GcsPath,
    days: int,
    compare_root: str | None,
    excerpts: bool,
    settings: BatchJobSettings | None = None,
    review: bool = False,
) -> WrittenReport:
    """The day's report; with ``settings``, also the agreement with people's labels, and with ``review``
    the day's review sample (collect writes it, ``report`` does not)."""
    from app.report.people import PeopleSettings

    store = _store(ctx, root)
    compare = _store(ctx, compare_root) if compare_root else None
    records = None
    if excerpts:
        if isinstance(store, LocalStore):
            records = _local_records(store.root, day)
        elif ctx is not None:
            records = _gcs_records(ctx, day)
    settings = settings or (ctx.settings if ctx is not None else None)
    people = None
    review_request = None
    if settings is not None:
        people = PeopleSettings(settings.people_min_labels, settings.people_kappa_days)
        if review and settings.review_per_stratum + settings.review_random_slice > 0:
            review_request = _review_request(ctx, settings)
    try:
        return write_day_report(
            store, day, days=days, compare=compare, records=records, people=people, review=review_request
        )
    except NoResults as exc:
        raise NoDayResults(str(exc)) from None
    except gcs_errors.GoogleAPICallError as exc:
        raise ReportError(f"[{day}] storage error while writing the report: {exc}") from None


def _review_request(ctx: Context | None, settings: BatchJobSettings) -> Any:
    from app.judge.gold import prompt_stem
    from app.judge.prompt_file import PromptFile
    from app.report.daily import ReviewRequest

    prompt = ctx.prompt.file if ctx is not None else PromptFile.load(settings.prompt_path)
    return ReviewRequest(
        prompt=prompt,
        prompt_stem=prompt_stem(Path(settings.prompt_path)),
        per_stratum=settings.review_per_stratum,
        random_slice=settings.review_random_slice,
    )


def _local_prefix(settings: BatchJobSettings) -> str | None:
    """``GCS_OUTPUT_PREFIX`` when it names a local directory (``--output DIR``), else None."""
    prefix = settings.gcs_output_prefix
    return prefix if prefix and not str(prefix).startswith("gs://") else None


def _output_root(settings: BatchJobSettings) -> str | GcsPath:
    """Where the day's results, reports and labels live: the local directory, or the bucket."""
    return _local_prefix(settings) or settings.output_root


def _sayer(ctx: Context | None) -> Callable[[str], None]:
    """One line to the operator: through the run's context, or to stdout for a local run."""
    if ctx is not None:
        return ctx.say
    return lambda text: print(text, flush=True)


def is_local(args: argparse.Namespace, settings: BatchJobSettings) -> bool:
    """A report that needs no bucket: loose files, or an --output that is a local directory."""
    if getattr(args, "results", None):
        return True
    return _local_prefix(settings) is not None


def check_args(args: argparse.Namespace) -> None:
    from app.report.daily import MAX_DAYS

    if args.days is not None and not 1 <= args.days <= MAX_DAYS:
        raise SettingsError(f"--days {args.days}: give 1 to {MAX_DAYS} days")
    if args.results is None and (args.compare or args.records or args.out):
        raise SettingsError("--compare, --records and --out go with --results (loose files)")
    if args.results is not None and args.out is None:
        raise SettingsError("--results needs --out DIR (where index.html and report.json go)")
    for name in ("results", "compare", "records"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            raise SettingsError(f"--{name} {path}: no such file")


def run_report(
    ctx: Context | None,
    settings: BatchJobSettings,
    days: list[dt.date],
    args: argparse.Namespace,
    summary: dict[str, Any] | None = None,
) -> int:
    """Reports for ``days`` (or for the loose files); the exit code of the command. ``summary`` (the
    run's summary event) gets the days reported, skipped and failed."""
    summary = summary if summary is not None else {}
    reported: list[str] = summary.setdefault("days_reported", [])
    skipped: list[str] = summary.setdefault("days_without_results", [])
    failed: list[str] = summary.setdefault("days_report_failed", [])
    say = _sayer(ctx)

    if args.results is not None:
        written = write_file_report(
            args.results, args.out, compare=args.compare, records=args.records, day=args.date
        )
        say(f"report -> {written.page}")
        return EXIT_OK
    root = _output_root(settings)
    compare_root = args.compare_output or settings.report_compare_prefix
    scheduled = getattr(args, "lookback", None) is not None
    code = EXIT_OK
    for day in days:
        try:
            written = write_report(
                ctx,
                day,
                root=root,
                days=args.days or settings.report_days,
                compare_root=compare_root,
                excerpts=not args.no_excerpts,
                settings=settings,
            )
        except NoDayResults as exc:
            skipped.append(day.isoformat())
            if scheduled:
                say(f"[{day}] no results: skipped")
                continue
            say(f"error: {exc}")
            code = EXIT_JOB_FAILED
            continue
        except ReportError as exc:
            failed.append(day.isoformat())
            say(f"error: {exc}")
            code = EXIT_JOB_FAILED
            continue
        reported.append(day.isoformat())
        say(f"[{day}] report -> {written.page}")
    return code


def run_local(settings: BatchJobSettings, days: list[dt.date], args: argparse.Namespace) -> int:
    return run_report(None, settings, days, args)


def import_labels(
    ctx: Context | None,
    settings: BatchJobSettings,
    days: list[dt.date],
    args: argparse.Namespace,
    summary: dict[str, Any] | None = None,
) -> int:
    """``import-labels`` on the output root (a bucket or a local directory), with the second judge's root
    (``REPORT_COMPARE_PREFIX``) when there is one."""
    from app.batch_job.labels_cmd import run_import

    root = _output_root(settings)
    store = _store(ctx, root)
    compare = _store(ctx, settings.report_compare_prefix) if settings.report_compare_prefix else None
    say = _sayer(ctx)

    try:
        return run_import(store, compare, settings, days, args, say, summary)
    except gcs_errors.GoogleAPICallError as exc:
        say(f"error: storage error while importing labels: {exc}")
        return EXIT_JOB_FAILED


def import_labels_local(settings: BatchJobSettings, days: list[dt.date], args: argparse.Namespace) -> int:
    return import_labels(None, settings, days, args)
