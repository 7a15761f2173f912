"""The loader's run: consume up to the end offsets seen at start, write chunks create-only, commit
offsets only behind durable objects, exit.

Exactly once, whatever happens (see docs/loader.md for the argument):
- A partition's messages are cut into chunks (contiguous offset ranges). Before any data object of a
  chunk is written, its range is fixed in a manifest, ``_loader/chunks/<topic>/<p>/<first>.json``,
  written create-only. A later run (after a crash, a SIGTERM, or a rebalance that moved the partition)
  that starts a chunk at the same first offset finds that manifest and cuts the chunk at the same last
  offset, so it produces the very same object names and bytes; create-only writes make every repeat a
  no-op (412), and a missing object (the crash came mid-chunk) is written then.
- Offsets are committed only once every object of every chunk up to that offset is durable, so a
  committed offset is always a chunk boundary (asynchronously while consuming, synchronously again at
  the end, on SIGTERM and on revocation).
- Memory is bounded by ``loader_max_buffer_bytes`` over all open chunks and uploads in flight: past it,
  the loader waits for uploads or writes out the largest open chunk, whatever the partition count.

``Loader`` is one class composed of one part per concern, each a mixin over ``base.LoaderBase`` that
extends the parts it calls:
- base.py        the run's settings, clients and state; ``LoaderError``, ``Fenced``
- consume.py     the consume loop: messages into open chunks, the end of the run
- uploads.py     sealing chunks (create-only manifests) and uploading their objects; the memory bound
- commits.py     committing offsets behind durable objects; the final drain
- rebalance.py   partitions assigned, revoked, lost; the lag the task leaves
- runner.py      ``Loader.run``: start, the loop, the outcome, leaving the group, the summary line
"""

from __future__ import annotations

import logging
import resource
import signal
import time
from typing import Any

from confluent_kafka import Consumer

from app.credentials import is_missing_credentials
from app.loader.base import Fenced, LoaderError
from app.loader.consume import LoaderConsume
from app.loader.exits import EXIT_CODES, Outcome
from app.loader.group import fenced_exception, lag_left, leave_group, snapshot_end_offsets
from app.loader.logs import log
from app.loader.rebalance import LoaderRebalance
from app.loader.state import Summary

__all__ = ["Fenced", "Loader", "LoaderError"]


def _process_cpu_seconds() -> float:
    """User + system CPU of the whole process (every thread, librdkafka's too), start-up included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Loader(LoaderConsume, LoaderRebalance):
    def run(self) -> Summary:
        started = time.monotonic()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        outcome = Outcome.COMPLETED
        grace = self.settings.loader_shutdown_grace_seconds
        try:
            # Before joining the group: a wrong bucket name or missing access fails at once, naming
            # the bucket, instead of after a consume batch has been read for nothing.
            self.store.check_bucket()
            self._consumer = Consumer(
                {**self.settings.kafka_config(), "on_commit": self._on_commit}, logger=self.logger
            )
            self._ends = snapshot_end_offsets(self._consumer, self.topic)
            log(
                self.logger,
                logging.INFO,
                "loader started",
                topic=self.topic,
                group=self.settings.kafka_consumer_group,
                group_instance_id=self.settings.group_instance_id,
                end_offsets=self._ends,
            )
            self._consumer.subscribe(
                [self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
            )
            self._loop()
            if self._stop_signal:
                outcome = Outcome.STOPPED
                self._drain(deadline=time.monotonic() + grace)
            elif self._gave_up_idle:
                outcome = Outcome.UNASSIGNED
            else:
                self._drain(deadline=None)
        except Exception as exc:
            if is_missing_credentials(exc):
                # Raised by the bucket check, before anything was consumed: a setup mistake the
                # caller reports in one line, not a failed run with a summary.
                self._pool.shutdown(wait=False)
                raise
            if isinstance(exc, Fenced) or fenced_exception(exc):
                outcome = Outcome.FENCED
                self._fenced = True
                log(
                    self.logger,
                    logging.WARNING,
                    "fenced: another task with the same group instance id "
                    f"({self.settings.group_instance_id}) joined the group and took over this task's "
                    "partitions (an overlapping execution of the job?); stopping without committing",
                    error=str(exc),
                )
            else:
                outcome = Outcome.FAILED
                log(self.logger, logging.ERROR, f"loader failed: {exc}", error_type=type(exc).__name__)
            try:
                # Uploads in flight may land (the next owner finds them through the manifests); what
                # is durable is committed, unless this member is no longer the group's to commit for.
                self._drain(deadline=time.monotonic() + grace, raise_on_failure=False)
            except Exception as drain_exc:  # the first error is the one worth reporting
                log(self.logger, logging.ERROR, f"could not commit what was durable: {drain_exc}")
        group_lag = lag_left(self._consumer, self.topic, self._ends) if self._consumer is not None else None
        lag = self._own_lag(group_lag)
        self._close(leave=outcome in (Outcome.COMPLETED, Outcome.STOPPED))
        self._pool.shutdown(wait=outcome is Outcome.COMPLETED, cancel_futures=True)
        exit_code = int(EXIT_CODES[outcome])
        fields: dict[str, Any] = {
            "outcome": outcome.value,
            "exit_code": exit_code,
            "stopped_by": self._stop_signal,
            "topic": self.topic,
            "group_instance_id": self.settings.group_instance_id,
            "partitions": sorted(self._seen_partitions),
            "messages": self.stats.messages,
            "records": self.stats.records,
            "dead_letters": self.stats.dead_letters,
            "dead_letters_by_reason": self.stats.dead_by_reason,
            "bytes": self.stats.bytes,
            "objects": self.stats.objects_created,
            "objects_already_stored": self.stats.objects_existing,
            "objects_conflicting": self.stats.objects_conflicting,
            "chunks": self.stats.chunks,
            "chunks_adopted": self.stats.chunks_adopted,
            "commits": self.stats.commits,
            "peak_buffered_bytes": self.stats.peak_buffered_bytes,
            "upload_wait_seconds": round(self.stats.upload_wait_seconds, 3),
            "lag_left": lag,
            "group_lag_left": group_lag,
            "seconds": round(time.monotonic() - started, 3),
            "cpu_seconds": round(_process_cpu_seconds(), 3),
        }
        level = logging.ERROR if exit_code else logging.INFO
        log(self.logger, level, "loader summary", **fields)
        return Summary(outcome.value, exit_code, fields)

    def _close(self, *, leave: bool) -> None:
        """Leave the group after a clean end (completed, or stopped by a signal), so the next run, and
        the other tasks of this one, get the partitions at once whatever their instance ids. After a
        failure or a crash a static member stays: Cloud Run retries the task under the same id, which
        takes the partitions straight back (and the broker drops the member after its session if no
        retry comes). A fenced member is no longer in the group."""
        consumer = self._consumer
        if consumer is None:
            return
        self._closing = True
        # A failure here loses nothing: commits are already done or not made.
        try:
            if leave and self.settings.group_instance_id is not None and not leave_group(consumer):
                log(self.logger, logging.WARNING, "could not leave the consumer group before closing")
            consumer.close()
        except Exception as exc:
            log(self.logger, logging.WARNING, f"consumer close failed: {exc}")

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._stop_signal = signal.Signals(signum).name
