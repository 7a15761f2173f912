"""The consume loop: batches from Kafka into each partition's open chunk, up to the end offsets seen at
start, until every partition is done and durable, a signal stops the run, or no partition comes while
the group still has work (idle.py). The common message takes the fast path to its stored line
(fast_records.py); the rest go through convert.py."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, KafkaError, Message

from app.loader.base import Fenced, LoaderError
from app.loader.fast_records import fast_storage
from app.loader.group import is_fenced, lag_left
from app.loader.idle import Idle
from app.loader.logs import log
from app.loader.uploads import LoaderUploads
from app.records import raw_prefix


class LoaderConsume(LoaderUploads):
    def _loop(self) -> None:
        consumer = self._require_consumer()
        batch = self.settings.loader_consume_batch
        consume, handle = consumer.consume, self._handle_batch
        while not self._stop_signal:
            if self._finished():
                return
            timeout = 0.2
            if self._states and all(state.done for state in self._states.values()):
                # Everything is read: only uploads are left. Wake up as each one lands (not at the next
                # consume timeout), and count it as time spent waiting on uploads.
                waiting = [
                    f for s in self._states.values() for c in s.pending for f in c.futures if not f.done()
                ]
                if waiting:
                    waited = time.monotonic()
                    cf.wait(waiting, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                    self.stats.upload_wait_seconds += time.monotonic() - waited
                    timeout = 0  # still serve the consumer (rebalance callbacks), without blocking
            handle(consume(num_messages=batch, timeout=timeout))
            self._harvest(asynchronous=True)
            self._bound_memory()

    def _finished(self) -> bool:
        now = time.monotonic()
        if self._states:
            self._idle.assigned(now)
            return all(state.done and not state.pending for state in self._states.values()) and not any(
                not chunk.done() for chunk in self._orphans
            )
        if self._orphans and any(not chunk.done() for chunk in self._orphans):
            return False
        # Another task of the group may be loading, or have finished, everything while this one waits
        # for an assignment (a broker round trip: at most once a second).
        if now - self._lag_checked_at < 1.0:
            return False
        self._lag_checked_at = now
        lag = lag_left(self._require_consumer(), self.topic, self._ends)
        verdict = self._idle.observe(now, lag)
        if verdict is Idle.WAIT:
            return False
        idle = round(self._idle.idle_seconds(now), 1)
        if verdict is Idle.FINISHED:
            log(self.logger, logging.INFO, "no partition assigned and nothing left to load; exiting")
            return True
        self._gave_up_idle = True
        log(
            self.logger,
            logging.ERROR,
            f"no partition assigned for {idle} s while the group has "
            f"{'an unknown number of' if lag is None else lag} messages left below the end offsets and "
            "no member committed any: the partitions are held by a member that is not loading them "
            "(or the broker cannot be read); exiting so the task is retried",
            idle_seconds=idle,
            lag_left=lag,
        )
        return True

    def _handle(self, message: Message) -> None:
        self._handle_batch([message])

    def _handle_batch(self, messages: list[Message]) -> None:
        """Every message of a consume batch into its partition's open chunk. The common message (valid,
        in order, chunk not full) takes the straight path below, with what it needs bound to locals:
        this loop runs for every message of the topic."""
        states = self._states
        prefixes = self._prefixes
        max_bytes = self._max_message_bytes
        rotation_bytes = self._rotation_bytes
        rotation_records = self._rotation_records
        max_buffer = self._max_buffer_bytes
        stats = self.stats
        convert = self._converter.convert
        crash_mid_batch = self._crash_mid_batch
        for message in messages:
            if message.error() is not None:
                self._handle_error(message)
                continue
            # Typed optional by confluent-kafka: set on every message from a partition.
            partition, offset = message.partition(), message.offset()
            if partition is None or offset is None:
                raise LoaderError("Kafka delivered a message without a partition or an offset")
            state = states.get(partition)
            if state is None or state.done:
                continue
            if offset < state.position:  # left over from before a rebalance or a seek
                continue
            if offset >= state.end:
                self._finish_partition(state)
                continue
            value = message.value()
            kind, timestamp_ms = message.timestamp()
            fast = None
            if value is not None and len(value) <= max_bytes:
                fast = fast_storage(value, None if kind == TIMESTAMP_NOT_AVAILABLE else timestamp_ms)
            if fast is None:  # invalid, or a doubt the fast path leaves to pydantic
                prefix, line, dead = convert(message, offset)
            else:
                source, day, line = fast
                by_source = prefixes.get(day)
                if by_source is None:
                    if len(prefixes) > 1000:
                        prefixes.clear()
                    by_source = prefixes[day] = {}
                prefix = by_source.get(source)
                if prefix is None:
                    prefix = by_source[source] = raw_prefix(source, day)
                dead = False
            chunk = state.chunk
            size = len(line)
            # Rotating before the add keeps every object within the rotation size (but for one big line).
            if chunk.messages and chunk.fixed_last is None and chunk.bytes + size > rotation_bytes:
                self._flush(state)
                chunk = state.chunk
            chunk.add(offset, prefix, line, dead_letter=dead)
            self._open_bytes += size
            state.position = offset + 1
            if crash_mid_batch:
                self.crash.hit("mid_batch")
            if chunk.fixed_last is not None:
                if offset >= chunk.fixed_last:
                    self._flush(state)
            elif chunk.messages >= rotation_records:
                self._flush(state)
            buffered = self._open_bytes + self._in_flight
            if buffered > stats.peak_buffered_bytes:
                stats.peak_buffered_bytes = buffered
            if offset >= state.end - 1:
                self._finish_partition(state)
            elif buffered > max_buffer:
                self._bound_memory()
            if self._stop_signal:
                return

    def _handle_error(self, message: Message) -> None:
        error = message.error()
        assert error is not None
        if error.code() == KafkaError._PARTITION_EOF:
            # Typed optional by confluent-kafka: set on every partition-EOF event.
            partition, offset = message.partition(), message.offset()
            state = self._states.get(partition) if partition is not None else None
            if state is not None and not state.done and offset is not None and offset >= state.end:
                self._finish_partition(state)
            return
        if is_fenced(error):
            raise Fenced(str(error))
        if error.fatal():
            raise LoaderError(f"fatal Kafka error: {error}")
        log(self.logger, logging.WARNING, f"Kafka error: {error}", code=error.name())
