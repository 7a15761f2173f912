"""One logging setup for every app (loader, batch job, judge, model loader).

In a container each record is one JSON object per line with the fields Cloud Logging reads first —
``severity`` (DEBUG/INFO/WARNING/ERROR/CRITICAL), ``message``, ``time`` (RFC 3339, UTC) — then
``logger``, the record's ``event`` name where it has one, and the event's own fields; a traceback
goes in ``exception``. In a terminal the same record is one readable line. Formatting is
python-json-logger's; this module only fixes the field names so that every app writes the same ones.

Call sites attach fields with ``log(logger, logging.INFO, "message", event="x.y", key=value)`` (or
``EventLogger``); the fields travel as one ``fields`` attribute so that no key can collide with a
``LogRecord`` attribute (``name``, ``module``, ``args``...).

The head keys always win. Cloud Logging lifts some keys of a JSON line into the LogEntry itself
(Google's "Structured logging", special JSON fields: ``severity``, ``message``, ``time``, ``timestamp``,
``timestampSeconds``, ``timestampNanos``, ``httpRequest``, ``logging.googleapis.com/...``), so an
event's field named ``time`` would move the entry in time, ``severity`` would change its level (and what
the alerts count), ``logger`` or ``event`` would misname it. An event's field (or a ``logging`` extra) with
one of those names, or one of this formatter's own (``logger``, ``event``, ``exception``), is kept under
``field_<name>`` instead (``time`` -> ``field_time``), so nothing is lost.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _PythonJsonFormatter

LogFormat = Literal["auto", "json", "text"]
LOG_FORMATS: tuple[LogFormat, ...] = ("auto", "json", "text")
# Libraries that log one line per HTTP request or lock: noise next to the apps' own events.
NOISY_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "filelock", "urllib3", "google_genai")


# Keys Cloud Logging reads from a JSON line, and the keys this formatter writes itself.
CLOUD_LOGGING_KEYS = frozenset(
    {"severity", "message", "time", "timestamp", "timestampSeconds", "timestampNanos", "httpRequest"}
)
CLOUD_LOGGING_PREFIX = "logging.googleapis.com/"
HEAD_KEYS = CLOUD_LOGGING_KEYS | {"logger", "event", "exception"}
RENAMED_PREFIX = "field_"


def _is_head_key(key: str) -> bool:
    return key in HEAD_KEYS or key.startswith(CLOUD_LOGGING_PREFIX)


def _free_name(key: str, taken: dict[str, Any]) -> str:
    """``field_<key>`` (``field_field_<key>``... if the event has that field too)."""
    name = RENAMED_PREFIX + key
    while name in taken:
        name = RENAMED_PREFIX + name
    return name


def _time(record: logging.LogRecord) -> str:
    when = datetime.fromtimestamp(record.created, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(_PythonJsonFormatter):
    """``{"severity", "message", "time", "logger", "event"?, ...fields, "exception"?}``; a field named like a
    head key is written as ``field_<name>``."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "message"],
            rename_fields={"levelname": "severity", "exc_info": "exception"},
            reserved_attrs=[*RESERVED_ATTRS, "fields", "event"],
            json_default=str,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        head: dict[str, Any] = {
            "severity": log_data.pop("severity"),
            "message": log_data.pop("message"),
            "time": _time(record),
            "logger": record.name,
        }
        event = getattr(record, "event", None)
        if event:
            head["event"] = event
        exception = log_data.pop("exception", None)  # the formatter's own (exc_info), written last
        own = [*(getattr(record, "fields", None) or {}).items(), *log_data.items()]
        head.update((key, value) for key, value in own if not _is_head_key(key))
        for key, value in own:  # after the others, so that a renamed field takes a name nobody has
            if _is_head_key(key):
                head[_free_name(key, head)] = value
        if exception is not None:
            head["exception"] = exception
        log_data.clear()
        log_data.update(head)


class TextFormatter(logging.Formatter):
    """``2026-11-30T19:00:00Z INFO    message  [key=value ...]`` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = dict(getattr(record, "fields", None) or {})
        extra = " ".join(f"{key}={value}" for key, value in fields.items())
        when = _time(record)[:19] + "Z"
        line = f"{when} {record.levelname:<7} {record.getMessage()}" + (f"  [{extra}]" if extra else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def resolve_format(fmt: LogFormat, stream: TextIO) -> Literal["json", "text"]:
    """``auto``: text when ``stream`` is a terminal, JSON otherwise (containers, pipes, files)."""
    if fmt != "auto":
        return fmt
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def format_from_env() -> tuple[LogFormat, str | None]:
    """``LOG_FORMAT`` (auto, json or text; default auto) as every app reads it, and a complaint about a
    value that is none of them (then auto: a log format is not worth failing a run over)."""
    value = os.environ.get("LOG_FORMAT", "auto").strip().lower() or "auto"
    for known in LOG_FORMATS:
        if value == known:
            return known, None
    return "auto", f"LOG_FORMAT={value!r} is not one of {', '.join(LOG_FORMATS)}; using auto"


def setup(fmt: LogFormat | None = None, level: str | int = "INFO", stream: TextIO | None = None) -> None:
    """Send every record of the process to ``stream`` (stderr by default) in the one format
    (``fmt``, else ``LOG_FORMAT``, else auto).

    Replaces a handler an earlier call installed (tests call ``main`` many times in one process) and
    leaves other handlers (pytest's capture) alone.
    """
    out = stream if stream is not None else sys.stderr
    complaint = None
    if fmt is None:
        fmt, complaint = format_from_env()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter() if resolve_format(fmt, out) == "json" else TextFormatter())
    handler.set_name("app.logs")
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "app.logs":
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # google-auth warns "no metadata server" on its way to DefaultCredentialsError, which the apps
    # report in one line saying how to log in (app.credentials), and "no project ID" where the apps
    # always pass the project from their settings.
    logging.getLogger("google.auth._default").setLevel(logging.ERROR)
    # google-genai says each retry at INFO ("Retrying ... in N seconds as it raised ...", tenacity's
    # before_sleep_log; VERTEX_ATTEMPTS): a night that needed retries is worth seeing in the logs, the
    # rest of that logger's INFO (which endpoint, which credentials) is not.
    retries = logging.getLogger(GENAI_RETRY_LOGGER)
    retries.setLevel(logging.INFO)
    if _only_retries not in retries.filters:
        retries.addFilter(_only_retries)
    if complaint:
        logging.getLogger("app.logs").warning(complaint)


GENAI_RETRY_LOGGER = "google_genai._api_client"


def _only_retries(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or record.getMessage().startswith("Retrying")


def log(
    logger: logging.Logger,
    level: int,
    message: str,
    *,
    event: str | None = None,
    exc_info: bool = False,
    **fields: Any,
) -> None:
    """One record with an optional event name and its fields (see the module docstring)."""
    logger.log(level, message, extra={"event": event, "fields": fields}, exc_info=exc_info)


class EventLogger:
    """``log.info("download.start", "downloading acme/x", files=4)``: a record with event and fields."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def debug(self, event: str, message: str, **fields: Any) -> None:
        log(self._logger, logging.DEBUG, message, event=event, **fields)

    def info(self, event: str, message: str, **fields: Any) -> None:
        log(self._logger, logging.INFO, message, event=event, **fields)

    def warning(self, event: str, message: str, **fields: Any) -> None:
        log(self._logger, logging.WARNING, message, event=event, **fields)

    def error(self, event: str, message: str, exc_info: bool = False, **fields: Any) -> None:
        log(self._logger, logging.ERROR, message, event=event, exc_info=exc_info, **fields)
