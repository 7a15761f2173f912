"""A Kafka message that the fast path did not take: a stored line after all, or a dead letter."""

from __future__ import annotations

import logging

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message

from app.loader.deadletter import envelope_line, kafka_day
from app.loader.fast_records import parse_message_for_storage
from app.loader.logs import log
from app.records import InvalidRecord, deadletter_prefix, raw_prefix

DEAD_LETTER_LOG_LIMIT = 100


class Converter:
    """``convert(message, offset)`` is ``(object prefix, line, is a dead letter)`` for any message;
    ``dead_by_reason`` counts the dead letters (the first ``DEAD_LETTER_LOG_LIMIT`` are logged)."""

    def __init__(self, topic: str, max_message_bytes: int, logger: logging.Logger) -> None:
        self.topic = topic
        self.max_message_bytes = max_message_bytes
        self.logger = logger
        self.dead_by_reason: dict[str, int] = {}

    def convert(self, message: Message, offset: int) -> tuple[str, bytes, bool]:
        value = message.value()
        kind, timestamp_ms = message.timestamp()
        if kind == TIMESTAMP_NOT_AVAILABLE:
            timestamp_ms = None
        try:
            source, day, line = parse_message_for_storage(
                value, kafka_timestamp_ms=timestamp_ms, max_bytes=self.max_message_bytes
            )
        except InvalidRecord as invalid:
            return self._dead_letter(message, offset, value, timestamp_ms, invalid)
        except Exception as exc:
            # A parser bug on one message would otherwise stop every run at this offset, forever. The
            # same bytes fail the same way on a rerun, so the dead letter is as deterministic as any.
            log(self.logger, logging.ERROR, f"parser failed on a message: {exc!r}", offset=offset)
            failure = InvalidRecord("parser_error", f"{type(exc).__name__}: {exc}")
            return self._dead_letter(message, offset, value, timestamp_ms, failure)
        return raw_prefix(source, day), line, False

    def _dead_letter(
        self,
        message: Message,
        offset: int,
        value: bytes | None,
        timestamp_ms: int | None,
        invalid: InvalidRecord,
    ) -> tuple[str, bytes, bool]:
        line = envelope_line(
            topic=self.topic,
            partition=message.partition(),  # pyright: ignore[reportArgumentType] set: the loop checked it
            offset=offset,
            timestamp_ms=timestamp_ms,
            key=message.key(),
            value=value,
            headers=message.headers(),  # pyright: ignore[reportArgumentType] consumed: (name, bytes) pairs
            reason=invalid.reason,
            detail=invalid.detail,
        )
        count = self.dead_by_reason.get(invalid.reason, 0) + 1
        self.dead_by_reason[invalid.reason] = count
        if sum(self.dead_by_reason.values()) <= DEAD_LETTER_LOG_LIMIT:
            log(
                self.logger,
                logging.WARNING,
                "invalid message sent to dead letters",
                reason=invalid.reason,
                detail=invalid.detail[:500],
                partition=message.partition(),
                offset=offset,
            )
        return deadletter_prefix(kafka_day(timestamp_ms)), line, True
