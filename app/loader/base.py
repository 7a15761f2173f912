"""What every part of the loader's run shares: its settings, clients and state (``LoaderBase``, which
every part extends, set up by its ``__init__``), the consumer once started, and the two errors that end
a run. The parts are listed in runner.py."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import logging
import time

from confluent_kafka import Consumer

from app.loader.convert import Converter
from app.loader.crash import CrashPoints
from app.loader.group import watermarks
from app.loader.idle import IdleWatch
from app.loader.settings import LoaderSettings
from app.loader.state import PartitionState, PendingChunk, Stats
from app.loader.storage import GcsStore


class LoaderError(RuntimeError):
    """The run cannot go on (upload failure, unknown topic, fatal Kafka error)."""


class Fenced(RuntimeError):
    """The broker fenced this member: a newer one with the same group.instance.id took its place."""


class LoaderBase:
    """The run's settings, clients and state; every part of ``Loader`` extends it."""

    def __init__(
        self,
        settings: LoaderSettings,
        *,
        store: GcsStore | None = None,
        logger: logging.Logger,
        crash: CrashPoints | None = None,
    ) -> None:
        self.settings = settings
        self.topic = settings.kafka_topic
        self.store = store or GcsStore(settings.gcs_bucket_name, settings.gcp_project_id)
        self.logger = logger
        self.crash = crash or CrashPoints(None)
        self.stats = Stats()
        self._converter = Converter(settings.kafka_topic, settings.loader_max_message_bytes, logger)
        self.stats.dead_by_reason = self._converter.dead_by_reason  # one count, read by the summary
        self._states: dict[int, PartitionState] = {}
        self._ends: dict[int, int] = {}
        self._seen_partitions: set[int] = set()
        self._orphans: list[PendingChunk] = []
        # Annotated for the type checker: the parts (subclasses) change these, and inferring them there
        # goes in a circle.
        self._open_bytes: int = 0
        self._in_flight: int = 0
        self._stop_signal: str | None = None
        self._lag_checked_at = 0.0
        self._idle = IdleWatch(settings.loader_idle_exit_seconds, time.monotonic())
        self._gave_up_idle = False
        self._fenced = False
        self._prefixes: dict[dt.date, dict[str, str]] = {}  # day -> source -> raw/<source>/<day>/
        self._unsynced: dict[
            int, int
        ] = {}  # partition -> offset committed asynchronously, not yet waited for
        self._pool = cf.ThreadPoolExecutor(settings.loader_upload_concurrency, thread_name_prefix="upload")
        self._consumer: Consumer | None = None
        self._closing = False
        # Read once: the per-message path runs a million times an hour.
        self._rotation_bytes = settings.loader_rotation_bytes
        self._rotation_records = settings.loader_rotation_records
        self._max_buffer_bytes = settings.loader_max_buffer_bytes
        self._max_message_bytes = settings.loader_max_message_bytes
        self._crash_mid_batch = self.crash.watches("mid_batch")

    def _require_consumer(self) -> Consumer:
        if self._consumer is None:
            raise LoaderError("consumer not started")
        return self._consumer

    def _watermarks(self, partition: int) -> tuple[int, int]:
        return watermarks(self._require_consumer(), self.topic, partition)
