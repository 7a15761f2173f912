"""Vertex AI Gemini batch input lines, built from an abstract prompt.

One line per record: `{"key": "r-<id>", "request": {"contents": [...], "systemInstruction": {...},
"generationConfig": {...}}}`. Vertex infers one type per key across all lines of a file, so every line has
exactly the same keys and types: optional settings are left out for the whole file rather than sent as
null, and the constant tail of the request (the generation config with the response schema) is
serialised once and reused, which also keeps building fast.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as quote  # the C string encoder json.dumps uses
from typing import Any, Protocol

KEY_PREFIX = "r-"

# Gemini calls the assistant "model"; the system message travels separately as systemInstruction.
_ROLES = {"user": "user", "assistant": "model"}


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

    def to_vertex(self, response_schema: Mapping[str, Any]) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.temperature is not None:
            config["temperature"] = self.temperature
        if self.top_p is not None:
            config["topP"] = self.top_p
        if self.max_output_tokens is not None:
            config["maxOutputTokens"] = self.max_output_tokens
        config["responseMimeType"] = "application/json"
        config["responseSchema"] = dict(response_schema)
        return config


def record_key(record_id: str) -> str:
    """The correlation key of a record: letter-prefixed so Vertex never coerces it to a number."""
    return KEY_PREFIX + record_id


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

    def __init__(self, response_schema: Mapping[str, Any], generation: GenerationSettings) -> None:
        self.generation_config = generation.to_vertex(response_schema)
        self._config_tail = (
            ',"generationConfig":' + _compact_dumps(self.generation_config) + "}}\n"
        ).encode()
        self._system_cache: tuple[list[str], bytes] = ([], b"")

    def request(self, messages: Sequence[MessageLike]) -> dict[str, Any]:
        system, contents = split_messages(messages)
        request: dict[str, Any] = {"contents": contents}
        if system:
            request["systemInstruction"] = {"parts": [{"text": text} for text in system]}
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
                turns.append(f'{{"role":"{role}","parts":[{{"text":{quote(message.content)}}}]}}')
        _require_turns(turns)
        head = '{"key":' + quote(key) + ',"request":{"contents":[' + ",".join(turns) + "]"
        parts = [head.encode("ascii")]
        if system:
            # The system message is the same on every line of a day: serialise it once.
            cached_texts, cached_json = self._system_cache
            if cached_texts != system:
                cached_json = (
                    ',"systemInstruction":' + dumps({"parts": [{"text": t} for t in system]})
                ).encode()
                self._system_cache = (system, cached_json)
            parts.append(cached_json)
        parts.append(self._config_tail)
        return b"".join(parts)

    def line_dict(self, key: str, messages: Sequence[MessageLike]) -> dict[str, Any]:
        return {"key": key, "request": self.request(messages)}


def _compact_dumps(value: Any) -> str:
    # ASCII-escaped output is always valid UTF-8, even for texts holding lone surrogates from a
    # "\\ud800" escape in the raw data, and CPython's ASCII encoder is its fastest path.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def json_depth(value: Any) -> int:
    if isinstance(value, Mapping):
        return 1 + max((json_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((json_depth(v) for v in value), default=0)
    return 0
