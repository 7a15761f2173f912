"""app/logs.py: the one log format of every app (Cloud Logging's field names, JSON in a container,
text in a terminal), and that each app's entry point writes it."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import logs

REPO = Path(__file__).resolve().parents[2]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_root():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_json_has_cloud_loggings_fields_first_then_the_event_and_its_fields(restore_root):
    out = io.StringIO()
    logs.setup("json", "INFO", stream=out)
    logs.log(logging.getLogger("app.test"), logging.WARNING, "disk low", event="disk.low", free=3, name="x")
    (line,) = _lines(out)
    entry = json.loads(line)
    assert list(entry)[:5] == ["severity", "message", "time", "logger", "event"]
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "disk low"
    assert entry["time"].endswith("Z")
    assert entry["time"][10] == "T"
    assert (entry["logger"], entry["event"], entry["free"], entry["name"]) == ("app.test", "disk.low", 3, "x")


@pytest.mark.parametrize(
    "name",
    ["time", "severity", "timestamp", "timestampSeconds", "httpRequest", "logging.googleapis.com/labels"],
)
def test_an_events_field_never_overrides_what_cloud_logging_reads(restore_root, name):
    # Cloud Logging lifts these keys into the entry: a field named `time` would move it in time, one named
    # `severity` would change its level (and what the log-based alert metrics count).
    out = io.StringIO()
    logs.setup("json", "INFO", stream=out)
    logs.log(
        logging.getLogger("app.test"), logging.WARNING, "disk low", event="disk.low", **{name: "event's"}
    )
    entry = json.loads(_lines(out)[0])
    assert entry[f"field_{name}"] == "event's"
    assert (entry["severity"], entry["message"], entry["logger"], entry["event"]) == (
        "WARNING",
        "disk low",
        "app.test",
        "disk.low",
    )
    assert entry["time"].endswith("Z")
    assert entry.get(name) != "event's"


def test_logging_extras_named_like_a_head_key_are_kept_under_another_name(restore_root):
    out = io.StringIO()
    logs.setup("json", "INFO", stream=out)
    logging.getLogger("app.test").warning("x", extra={"logger": "someone else", "time": 3})
    entry = json.loads(_lines(out)[0])
    assert entry["logger"] == "app.test"
    assert entry["time"].endswith("Z")
    assert (entry["field_logger"], entry["field_time"]) == ("someone else", 3)


def test_a_renamed_field_never_overrides_a_field_of_the_new_name(restore_root):
    out = io.StringIO()
    logs.setup("json", "INFO", stream=out)
    fields = {"time": "event's time", "field_time": "event's field_time"}
    logs.log(logging.getLogger("app.test"), logging.INFO, "m", event="e", **fields)
    entry = json.loads(_lines(out)[0])
    assert entry["field_time"] == "event's field_time"
    assert entry["field_field_time"] == "event's time"


def test_a_record_without_an_event_has_no_event_key_and_a_traceback_goes_in_exception(restore_root):
    out = io.StringIO()
    logs.setup("json", "INFO", stream=out)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("app.test").exception("failed")
    entry = json.loads(_lines(out)[0])
    assert "event" not in entry
    assert entry["severity"] == "ERROR"
    assert "RuntimeError: boom" in entry["exception"]


def test_auto_is_text_in_a_terminal_and_json_elsewhere(restore_root):
    tty = _Tty()
    logs.setup("auto", "INFO", stream=tty)
    logs.EventLogger("app.test").info("a.b", "hello", n=1)
    (line,) = _lines(tty)
    assert "INFO    hello  [n=1]" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    pipe = io.StringIO()
    logs.setup("auto", "INFO", stream=pipe)
    logs.EventLogger("app.test").info("a.b", "hello", n=1)
    assert json.loads(_lines(pipe)[0])["n"] == 1


def test_setup_twice_keeps_one_handler_and_the_level(restore_root):
    first, second = io.StringIO(), io.StringIO()
    logs.setup("json", "INFO", stream=first)
    logs.setup("json", "WARNING", stream=second)
    logging.getLogger("app.test").info("dropped")
    logging.getLogger("app.test").warning("kept")
    assert _lines(first) == []
    assert [json.loads(line)["message"] for line in _lines(second)] == ["kept"]


def test_an_unknown_log_format_is_named_and_falls_back_to_auto(restore_root, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "yaml")
    out = io.StringIO()
    logs.setup(level="INFO", stream=out)
    entry = json.loads(_lines(out)[0])
    assert entry["severity"] == "WARNING"
    assert "LOG_FORMAT='yaml' is not one of auto, json, text" in entry["message"]


@pytest.mark.parametrize(
    ("module", "args", "stream"),
    [
        ("app.loader", [], "stdout"),  # no GCS_BUCKET_NAME / KAFKA_BROKERS: a settings error
        ("app.model_loader", ["wait", "--repo-id", "not a repo", "--models-dir", "/nonexistent"], "stderr"),
    ],
)
def test_each_service_writes_the_same_fields(module, args, stream):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCS_", "KAFKA_", "LOADER_", "MODEL_"))}
    env.pop("LOG_FORMAT", None)
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result
    lines = [json.loads(line) for line in getattr(result, stream).splitlines() if line.startswith("{")]
    assert lines, f"no JSON log line from {module}: {result}"
    assert lines[-1]["severity"] == "ERROR"
    assert {"severity", "message", "time", "logger"} <= set(lines[-1])
