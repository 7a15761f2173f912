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
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import gzip
import json
import logging
import resource
import signal
import time
from typing import Any

from confluent_kafka import (
    OFFSET_STORED,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from app.credentials import is_missing_credentials
from app.loader.chunk import ObjectSpec, OpenChunk, SealedChunk
from app.loader.convert import Converter
from app.loader.crash import CrashPoints
from app.loader.exits import EXIT_CODES, Outcome
from app.loader.fast_records import fast_storage
from app.loader.group import (
    KAFKA_TIMEOUT,
    fenced_exception,
    is_fenced,
    lag_left,
    leave_group,
    snapshot_end_offsets,
    watermarks,
)
from app.loader.idle import Idle, IdleWatch
from app.loader.logs import log
from app.loader.naming import manifest_name
from app.loader.settings import LoaderSettings
from app.loader.state import PartitionState, PendingChunk, Stats, Summary
from app.loader.storage import Created, GcsStore, PutResult
from app.records import raw_prefix

JSONL_CONTENT_TYPE = "application/jsonl"


def _process_cpu_seconds() -> float:
    """User + system CPU of the whole process (every thread, librdkafka's too), start-up included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class LoaderError(RuntimeError):
    """The run cannot go on (upload failure, unknown topic, fatal Kafka error)."""


class Fenced(RuntimeError):
    """The broker fenced this member: a newer one with the same group.instance.id took its place."""


class Loader:
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
        self._open_bytes = 0
        self._in_flight = 0
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

    # ---- entry point -------------------------------------------------------------------------------

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

    # ---- the loop ----------------------------------------------------------------------------------

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

    # ---- chunks ------------------------------------------------------------------------------------

    def _flush(self, state: PartitionState, *, final: bool = False) -> None:
        """Seal the open chunk (as fixed by an earlier run's manifest, if there is one) and upload it."""
        while state.chunk:
            chunk = state.chunk
            if chunk.fixed_last is not None:
                assert chunk.last is not None
                if chunk.last < chunk.fixed_last:
                    if final:
                        # Cannot happen with Kafka (an earlier run read up to fixed_last, so this one's end
                        # offset is beyond it); if it does, nothing is committed and the next run retries.
                        log(
                            self.logger,
                            logging.WARNING,
                            "chunk of an earlier run cannot be completed yet",
                            partition=state.partition,
                            first=chunk.first,
                            last=chunk.fixed_last,
                            reached=chunk.last,
                        )
                        self._drop_open(state)
                    return
                sealed, rest = chunk.seal(chunk.fixed_last)
                self._submit(state, sealed, rest)
                continue
            sealed, rest = chunk.seal()
            name = manifest_name(self.topic, state.partition, sealed.first)
            put = self.store.create(
                name, json.dumps(sealed.manifest()).encode(), content_type="application/json"
            )
            if put.outcome is Created.CREATED:
                self.crash.hit("after_manifest")
                self._submit(state, sealed, rest)
                continue
            earlier = self.store.read(name)
            if earlier is None:
                raise LoaderError(f"manifest {name} exists but cannot be read")
            fixed_last = int(json.loads(earlier)["last"])
            self.stats.chunks_adopted += 1
            log(
                self.logger,
                logging.INFO,
                "chunk range fixed by an earlier run",
                partition=state.partition,
                first=sealed.first,
                last=fixed_last,
                buffered_last=sealed.last,
            )
            if fixed_last == sealed.last:
                self._submit(state, sealed, rest)
                continue
            chunk.fixed_last = fixed_last

    def _submit(self, state: PartitionState, sealed: SealedChunk, rest: OpenChunk) -> None:
        size = sum(len(spec.data) for spec in sealed.objects)
        self._open_bytes -= state.chunk.bytes - rest.bytes
        state.chunk = rest
        futures = [self._pool.submit(self._upload, spec, sealed) for spec in sealed.objects]
        state.pending.append(
            PendingChunk(
                sealed.first, sealed.last, size, sealed.messages, sealed.records, sealed.dead_letters, futures
            )
        )
        self._in_flight += size
        self.stats.chunks += 1

    def _upload(self, spec: ObjectSpec, sealed: SealedChunk) -> PutResult:
        self.crash.hit("before_upload")
        data, encoding = spec.data, None
        if self.settings.loader_compression == "gzip":
            # mtime=0: the same lines must give the same bytes, or a rerun's object would "conflict".
            # Level 1: 7x the speed of level 6 on this text for 3.4x instead of 4.3x compression.
            data, encoding = gzip.compress(data, compresslevel=1, mtime=0), "gzip"
        result = self.store.create(
            spec.name,
            data,
            content_type=JSONL_CONTENT_TYPE,
            content_encoding=encoding,
            metadata={
                "kafka-topic": sealed.topic,
                "kafka-partition": str(sealed.partition),
                "kafka-first-offset": str(sealed.first),
                "kafka-last-offset": str(sealed.last),
                "lines": str(spec.lines),
            },
        )
        self.crash.hit("after_upload")
        return result

    def _drop_open(self, state: PartitionState) -> None:
        self._open_bytes -= state.chunk.bytes
        state.chunk = OpenChunk(self.topic, state.partition)

    def _finish_partition(self, state: PartitionState) -> None:
        state.done = True
        self._flush(state, final=True)
        self._require_consumer().pause([TopicPartition(self.topic, state.partition)])
        log(
            self.logger,
            logging.INFO,
            "partition read up to its end offset",
            partition=state.partition,
            end=state.end,
        )

    # ---- durability and commits --------------------------------------------------------------------

    def _collect(self, pending: PendingChunk) -> None:
        self._in_flight -= pending.bytes
        for future in pending.futures:
            result = future.result()  # an upload that failed after its retries ends the run
            if result.outcome is Created.CREATED:
                self.stats.objects_created += 1
                self.stats.bytes += result.size
            elif result.outcome is Created.EXISTED:
                self.stats.objects_existing += 1
            else:
                self.stats.objects_conflicting += 1
                log(
                    self.logger,
                    logging.ERROR,
                    "object exists with different bytes; keeping the stored one (changed loader version "
                    "or compression between runs?)",
                    object=result.name,
                )
        self.stats.messages += pending.messages
        self.stats.records += pending.records
        self.stats.dead_letters += pending.dead_letters

    def _harvest(
        self,
        states: list[PartitionState] | None = None,
        *,
        raise_on_failure: bool = True,
        asynchronous: bool = False,
    ) -> None:
        """Commit, per partition, the end of the longest run of chunks that are wholly durable. A chunk
        with a failed upload stops its partition there (nothing after it is committed).

        While consuming, commits are asynchronous: the loop does not stand still for a broker round
        trip per chunk (the order is unchanged: a commit is issued only once its chunks are durable).
        Every synchronous harvest (final drain, revocation) commits again, and waits for, the newest
        offset of each of its partitions, so a run never ends on a commit still in flight."""
        offsets: dict[int, int] = {}
        failure: BaseException | None = None
        states = states if states is not None else list(self._states.values())
        if not asynchronous:
            for state in states:
                if state.partition in self._unsynced:
                    offsets[state.partition] = self._unsynced.pop(state.partition)
        for state in states:
            while state.pending and state.pending[0].done():
                errors = [f.exception() for f in state.pending[0].futures if f.exception() is not None]
                if errors:
                    failure = failure or errors[0]
                    break
                pending = state.pending.popleft()
                self._collect(pending)
                offsets[state.partition] = pending.last + 1
        self._orphans = [chunk for chunk in self._orphans if not self._settle_orphan(chunk)]
        if offsets:
            self._commit(offsets, asynchronous=asynchronous)
        if failure is not None and raise_on_failure:
            raise LoaderError(f"upload failed: {failure}") from failure

    def _settle_orphan(self, chunk: PendingChunk) -> bool:
        if not chunk.done():
            return False
        self._in_flight -= chunk.bytes
        return True

    def _commit(self, offsets: dict[int, int], *, asynchronous: bool = False) -> None:
        if self._fenced:  # the newer member owns these partitions and will find these chunks stored
            return
        self.crash.hit("before_commit")
        partitions = [TopicPartition(self.topic, partition, offset) for partition, offset in offsets.items()]
        try:
            self._require_consumer().commit(offsets=partitions, asynchronous=asynchronous)
            if asynchronous:
                self._unsynced.update(offsets)
        except KafkaException as exc:
            # The partition moved to another task: it will find these chunks' manifests and objects.
            log(self.logger, logging.WARNING, f"commit failed: {exc}", offsets=offsets)
            return
        self.stats.commits += 1
        self.crash.hit("after_commit")

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        # An asynchronous commit that failed loses nothing: the next commit, or the final synchronous
        # one, carries a newer offset; a rerun re-reads at most these chunks and finds them stored.
        if error is not None:
            log(
                self.logger,
                logging.WARNING,
                f"commit failed: {error}",
                offsets={tp.partition: tp.offset for tp in partitions},
            )

    def _bound_memory(self) -> None:
        limit = self.settings.loader_max_buffer_bytes
        while self._open_bytes + self._in_flight > limit:
            flushable = [s for s in self._states.values() if s.chunk and s.chunk.fixed_last is None]
            if self._in_flight > limit // 2 or not flushable:
                waiting = [
                    f for s in self._states.values() for c in s.pending for f in c.futures if not f.done()
                ]
                waiting += [f for c in self._orphans for f in c.futures if not f.done()]
                if not waiting:
                    if not flushable:
                        return  # only chunks fixed by an earlier run: they are bounded by its rotation size
                else:
                    waited = time.monotonic()
                    cf.wait(waiting, return_when=cf.FIRST_COMPLETED)
                    self.stats.upload_wait_seconds += time.monotonic() - waited
                    self._harvest(asynchronous=True)
                    continue
            largest = max(flushable, key=lambda s: s.chunk.bytes)
            self._flush(largest)

    def _drain(self, deadline: float | None, *, raise_on_failure: bool = True) -> None:
        """Wait for uploads in flight (until ``deadline``), then commit what is durable."""
        futures = [f for s in self._states.values() for c in s.pending for f in c.futures]
        waited = time.monotonic()
        timeout = None if deadline is None else max(0.0, deadline - waited)
        cf.wait(futures, timeout=timeout)
        self.stats.upload_wait_seconds += time.monotonic() - waited
        self._harvest(raise_on_failure=raise_on_failure)

    # ---- rebalances --------------------------------------------------------------------------------

    def _own_lag(self, group_lag: int | None) -> int | None:
        """What this task leaves unread: the lag of the partitions it held at the end. In an execution
        of several tasks the group's lag at one task's end includes partitions the others are still
        loading, so an alert on it would fire on healthy runs; a task that held nothing reports the
        group's (it waited as a standby, or nobody loaded: exit 3)."""
        owned = {p: self._ends[p] for p in self._states if p in self._ends}
        if not owned or self._consumer is None:
            return group_lag
        return lag_left(self._consumer, self.topic, owned)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._closing:  # an assignment that arrives while leaving the group is not worked on
            return
        committed = consumer.committed(partitions, timeout=KAFKA_TIMEOUT) if partitions else []
        assignment, finished = [], []
        for tp in committed:
            partition = tp.partition
            if partition not in self._ends:  # created after the run started
                self._ends[partition] = self._watermarks(partition)[1]
            end = self._ends[partition]
            start = tp.offset if tp.offset >= 0 else self._watermarks(partition)[0]
            state = PartitionState(
                partition=partition,
                end=end,
                position=start,
                chunk=OpenChunk(self.topic, partition),
                done=start >= end,
            )
            self._states[partition] = state
            self._seen_partitions.add(partition)
            assignment.append(
                TopicPartition(self.topic, partition, tp.offset if tp.offset >= 0 else OFFSET_STORED)
            )
            if state.done:
                finished.append(TopicPartition(self.topic, partition))
        consumer.assign(assignment)
        # librdkafka keeps a partition paused across unassign and assign: one this run finished (and
        # paused) before losing it comes back paused, and would never be read again.
        active = [tp for tp in assignment if not self._states[tp.partition].done]
        if active:
            consumer.resume([TopicPartition(self.topic, tp.partition) for tp in active])
        if finished:
            consumer.pause(finished)
        log(
            self.logger,
            logging.INFO,
            "partitions assigned",
            partitions={s.partition: [s.position, s.end] for s in self._states.values()},
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = [self._states.pop(tp.partition) for tp in partitions if tp.partition in self._states]
        for state in revoked:
            self._drop_open(state)
        # Uploads already under way may finish (briefly) so their offsets can be committed before the
        # partitions move; anything else is left to the next owner, which finds the manifests.
        futures = [f for s in revoked for c in s.pending for f in c.futures]
        # When stopping or closing, the drain has already spent the grace period: waiting a second one
        # here would outlast Cloud Run's 10 s between SIGTERM and SIGKILL, and lose the summary.
        grace = 0.0 if self._closing or self._stop_signal else self.settings.loader_shutdown_grace_seconds
        cf.wait(futures, timeout=grace)
        self._harvest(revoked, raise_on_failure=False)
        for state in revoked:
            self._orphans.extend(state.pending)
        log(self.logger, logging.INFO, "partitions revoked", partitions=[s.partition for s in revoked])

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = [self._states.pop(tp.partition) for tp in partitions if tp.partition in self._states]
        for state in lost:
            self._unsynced.pop(state.partition, None)  # no longer ours to commit
            self._drop_open(state)
            self._orphans.extend(state.pending)
        log(self.logger, logging.WARNING, "partitions lost", partitions=[s.partition for s in lost])

    # ---- offsets -----------------------------------------------------------------------------------

    def _require_consumer(self) -> Consumer:
        if self._consumer is None:
            raise LoaderError("consumer not started")
        return self._consumer

    def _watermarks(self, partition: int) -> tuple[int, int]:
        return watermarks(self._require_consumer(), self.topic, partition)
