"""Vertex AI Gemini batch input lines, built from an abstract prompt.

One line per record: `{"key": "r-<id>", "request": {"contents": [...], "systemInstruction": {...},
"labels": {"llm-judge-stack": "<stack>"}, "generationConfig": {...}}}`. Vertex infers one type per key
across all lines of a file, so every line has exactly the same keys and types: optional settings are left
out for the whole file rather than sent as null, and the constant tail of the request (the labels and
the generation config with the response schema) is serialised once and reused, which also keeps
building fast.

Texts go out as ASCII JSON; a lone surrogate becomes U+FFFD, counted (``lone_surrogates``), since a line
a strict parser refuses can fail a whole part's import.

Google documents no custom id for batch lines: its examples show `{"request": ...}` only, and each
output line echoes the request it ran. So a record is found again by the sibling `"key"` (echoed by the
service in practice, a third-party observation, not documented) and otherwise by a digest of the echoed
request's user text against the part's own input file (`text_fingerprint`; collect.PartIndex). The
request's `labels` (a documented GenerateContentRequest field) reach Cloud Billing's export, so they
carry one low-cardinality value, the stack, and never a record's identity.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as quote  # the C string encoder json.dumps uses
from typing import Any, Protocol

KEY_PREFIX = "r-"
# The one request label: the stack that sent the request (the key the stack's resources carry too).
STACK_LABEL_KEY = "llm-judge-stack"
_LABEL_VALUE_BAD = re.compile(r"[^a-z0-9_-]")

# Gemini calls the assistant "model"; the system message travels separately as systemInstruction.
_ROLES = {"user": "user", "assistant": "model"}
# A lone surrogate (a "\ud800" escape that decoded to half a pair, or a prompt file's) cannot be encoded
# as UTF-8: written as a \ud800 escape it is JSON that Vertex's importer may refuse, and one bad line can
# fail the import of a whole part. It becomes U+FFFD (what a UTF-8 decoder makes of it) and is counted.
REPLACEMENT_CHARACTER = "\ufffd"


def replace_lone_surrogates(text: str) -> tuple[str, int]:
    """``text`` with every lone surrogate replaced by U+FFFD, and how many there were. A high and a low
    surrogate side by side (a str can hold a pair as two code points) are joined into the character they
    encode instead. ASCII text, the common case, is answered without a scan."""
    if text.isascii():
        return text, 0
    try:
        text.encode("utf-8")  # a C pass that fails on a surrogate, several times faster than a regex
        return text, 0
    except UnicodeEncodeError:
        pass
    # UTF-16 joins the pairs; its decoder's "replace" turns what is left alone into U+FFFD.
    fixed = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return fixed, fixed.count(REPLACEMENT_CHARACTER) - text.count(REPLACEMENT_CHARACTER)


class MessageLike(Protocol):
    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...


@dataclass(frozen=True)
class GenerationSettings:
    """The prompt's model parameters, in the units Gemini uses. None leaves a setting out of every line."""

    temperature: float | None = None
    max_output_tokens: int | None = None
    top_p: float | None = None
    # `generationConfig.thinkingConfig`, already checked against the model (app.batch_job.thinking).
    thinking: Mapping[str, Any] | None = None

    def to_vertex(self, response_schema: Mapping[str, Any]) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.temperature is not None:
            config["temperature"] = self.temperature
        if self.top_p is not None:
            config["topP"] = self.top_p
        if self.max_output_tokens is not None:
            config["maxOutputTokens"] = self.max_output_tokens
        if self.thinking is not None:
            config["thinkingConfig"] = dict(self.thinking)
        config["responseMimeType"] = "application/json"
        config["responseSchema"] = dict(response_schema)
        return config


def record_key(record_id: str) -> str:
    """The correlation key of a record: letter-prefixed so Vertex never coerces it to a number."""
    return KEY_PREFIX + record_id


def label_value(text: str) -> str:
    """`text` under GCP's label rules (lower-case letters, digits, `_` and `-`, at most 63 characters),
    led by a letter so that the importer's type inference never reads it as a number."""
    value = _LABEL_VALUE_BAD.sub("-", text.lower())
    if not value[:1].isalpha():
        value = "s-" + value
    return value[:63]


def request_labels(stack: str) -> dict[str, str]:
    """The labels of every request of a stack: one key, one value per stack (billing groups by it)."""
    return {STACK_LABEL_KEY: label_value(stack)}


def text_fingerprint(text: str) -> str:
    """A short digest of the rendered user text: the fallback join if a prediction line lost its key."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def split_messages(messages: Sequence[MessageLike]) -> tuple[list[str], list[dict[str, Any]]]:
    """System texts and Gemini `contents` (user/model turns) of rendered prompt messages."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = _gemini_role(index, message)
        if role is None:
            system.append(message.content)
        else:
            contents.append({"role": role, "parts": [{"text": message.content}]})
    _require_turns(contents)
    return system, contents


def _gemini_role(index: int, message: MessageLike) -> str | None:
    """The Gemini role of a prompt message; None for a system message (it becomes systemInstruction)."""
    if message.role == "system":
        return None
    role = _ROLES.get(message.role)
    if role is None:
        raise ValueError(f"messages[{index}].role: {message.role!r} is not system, user or assistant")
    return role


def _require_turns(turns: Sequence[object]) -> None:
    if not turns:
        raise ValueError("messages: the prompt renders no user message")


class RequestLineBuilder:
    """Builds the request object and the serialised JSONL line for each record of one prompt."""

    def __init__(
        self, response_schema: Mapping[str, Any], generation: GenerationSettings, labels: Mapping[str, str]
    ) -> None:
        self.generation_config = generation.to_vertex(response_schema)
        self.labels = dict(labels)
        self._config_tail = (
            ',"labels":'
            + _compact_dumps(self.labels)
            + ',"generationConfig":'
            + _compact_dumps(self.generation_config)
            + "}}\n"
        ).encode()
        self._system_cache: tuple[list[str], bytes, int] = ([], b"", 0)
        self.lone_surrogates = 0
        """Surrogate code points replaced by U+FFFD in the texts of every line built so far."""

    def _text(self, text: str) -> str:
        cleaned, replaced = replace_lone_surrogates(text)
        self.lone_surrogates += replaced
        return cleaned

    def request(self, key: str, messages: Sequence[MessageLike]) -> dict[str, Any]:
        system, contents = split_messages(messages)
        system = [self._text(text) for text in system]
        for content in contents:
            content["parts"] = [{"text": self._text(part["text"])} for part in content["parts"]]
        request: dict[str, Any] = {"contents": contents}
        if system:
            request["systemInstruction"] = {"parts": [{"text": text} for text in system]}
        request["labels"] = dict(self.labels)
        request["generationConfig"] = self.generation_config
        return request

    def line(self, key: str, messages: Sequence[MessageLike]) -> bytes:
        """`{"key": ..., "request": ...}` and a newline: the bytes of compact json.dumps(line_dict())."""
        dumps = _compact_dumps
        system: list[str] = []
        turns: list[str] = []
        for index, message in enumerate(messages):
            role = _gemini_role(index, message)
            if role is None:
                system.append(message.content)
            else:
                text = message.content
                if not text.isascii():  # O(1) in CPython: ASCII text, the common case, is not scanned
                    text = self._text(text)
                turns.append(f'{{"role":"{role}","parts":[{{"text":{quote(text)}}}]}}')
        _require_turns(turns)
        head = '{"key":' + quote(key) + ',"request":{"contents":[' + ",".join(turns) + "]"
        parts = [head.encode("ascii")]
        if system:
            # The system message is the same on every line of a day: serialise it once (and count what it
            # replaced on every line that carries it).
            cached_texts, cached_json, replaced = self._system_cache
            if cached_texts != system:
                cleaned = [replace_lone_surrogates(t) for t in system]
                replaced = sum(n for _, n in cleaned)
                cached_json = (
                    ',"systemInstruction":' + dumps({"parts": [{"text": t} for t, _ in cleaned]})
                ).encode()
                self._system_cache = (system, cached_json, replaced)
            self.lone_surrogates += replaced
            parts.append(cached_json)
        parts.append(self._config_tail)
        return b"".join(parts)

    def line_dict(self, key: str, messages: Sequence[MessageLike]) -> dict[str, Any]:
        return {"key": key, "request": self.request(key, messages)}


def _compact_dumps(value: Any) -> str:
    # ASCII-escaped output is always valid UTF-8, and CPython's ASCII encoder is its fastest path.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def json_depth(value: Any) -> int:
    if isinstance(value, Mapping):
        return 1 + max((json_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((json_depth(v) for v in value), default=0)
    return 0
