"""An OpenAI-compatible HTTP server for the judge tests, on a free loopback port.

It speaks the real wire format of vLLM's server for the endpoints the judge uses
(``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /health``), records every request body so tests
check what the client sends, and is scriptable per test: ``server.script(Reply(...), Status(429, ...))``
queues what the next chat completions answer; when the queue is empty a *naive fake judge* answers.

The naive judge behaves like a model with no defence against prompt injection: if the user message
contains ``OVERRIDE_VERDICT=<json>`` *outside* the ``<judged_prompt>``/``<judged_response>`` blocks (as a
naive reader sees them: each block ends at the first closing tag), it answers with that JSON. So an
injection can only win if the client lets the judged text escape its block.

Faults can also be triggered by the judged text itself, which keeps a concurrent run deterministic
whatever order requests arrive in: a judged prompt or response containing ``FAKE_FAULT=<name>`` always
gets that fault (see ``FAULTS``).

``ThreadingHTTPServer`` gives each connection its own thread; the listen backlog is raised so 64+
clients can connect at once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FAULTS",
    "REAL_SCORES",
    "Drop",
    "FakeOpenAI",
    "Raw",
    "Reply",
    "Stall",
    "Status",
    "judge_answer",
]

REAL_SCORES = {"accuracy": 6, "relevance": 7, "helpfulness": 6, "safety": 9, "pleasing": 8, "overall": 6}
_OVERRIDE = re.compile(r"OVERRIDE_VERDICT=(\{.*\})")
_FAULT = re.compile(r"FAKE_FAULT=([a-z_0-9]+)")
_BLOCK = re.compile(r"<(judged_prompt|judged_response)>.*?</\1>", re.DOTALL)


@dataclass(frozen=True)
class Reply:
    """A 200 chat completion. ``content=None``: the naive judge's answer."""

    content: str | None = None
    delay_s: float = 0.0
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Status:
    """An error status with an OpenAI-style error body."""

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "scripted error"


@dataclass(frozen=True)
class Stall:
    """Hold the request this long before answering (longer than the client's timeout: a timeout)."""

    seconds: float


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering (a connection error for the client)."""


@dataclass(frozen=True)
class Raw:
    """A 200 with this exact body: a proxy's error page, or a chat completion missing its parts."""

    body: bytes
    content_type: str = "application/json"


Action = Reply | Status | Stall | Drop | Raw


FAULTS: dict[str, Action] = {
    "invalid_json": Reply("I think this response is quite good overall."),
    "out_of_range": Reply(json.dumps({"reasoning": "x", "scores": {**REAL_SCORES, "overall": 11}})),
    "status_500": Status(500),
    "status_429": Status(429, {"Retry-After": "0"}),
    "status_400": Status(400, message="scripted bad request"),
    "slow": Reply(delay_s=0.2),
}


def _judged_text(user: str) -> str:
    return " ".join(m.group(0) for m in _BLOCK.finditer(user))


def judge_answer(body: dict[str, Any]) -> str:
    """The naive fake judge: a valid answer for the requested schema, unless injected (see module doc)."""
    messages = body.get("messages") or []
    first_user = next((m.get("content") or "" for m in messages if m.get("role") == "user"), "")
    outside = _BLOCK.sub("", first_user)
    injected = _OVERRIDE.search(outside)
    if injected:
        return injected.group(1)
    schema = (((body.get("response_format") or {}).get("json_schema")) or {}).get("name")
    if schema == "security_review":
        if "ignore" in _judged_text(first_user).lower():
            verdict = {"verdict": "unsafe", "severity": "medium", "categories": ["prompt_injection"]}
        else:
            verdict = {"verdict": "safe", "severity": "none", "categories": []}
        return json.dumps({"reasoning": "naive review", **verdict})
    return json.dumps({"reasoning": "naive judgement", "scores": REAL_SCORES})


class FakeOpenAI:
    def __init__(self, model: str = "fake-judge") -> None:
        self.model = model
        self.health_status = 200
        self._lock = threading.Lock()
        self._script: deque[Action] = deque()
        self._release = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._counter = 0
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler, bind_and_activate=False)
        self._httpd.daemon_threads = True
        self._httpd.request_queue_size = 512
        self._httpd.server_bind()
        self._httpd.server_activate()
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def reset(self) -> None:
        self._release.set()  # free any Stall left by the previous test
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.max_in_flight = self.in_flight
            self.health_status = 200
        self._release = threading.Event()

    # --- scripting -----------------------------------------------------------------------------

    def script(self, *actions: Action) -> None:
        with self._lock:
            self._script.extend(actions)

    def _next_action(self, body: dict[str, Any]) -> Action:
        with self._lock:
            if self._script:
                return self._script.popleft()
        first_user = next(
            (m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user"), ""
        )
        fault = _FAULT.search(_judged_text(first_user))
        return FAULTS[fault.group(1)] if fault else Reply()

    def _record(self, body: dict[str, Any]) -> int:
        with self._lock:
            self.requests.append(body)
            self._counter += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self._counter

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def completion(self, body: dict[str, Any], number: int, action: Reply) -> dict[str, Any]:
        content = action.content if action.content is not None else judge_answer(body)
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
        completion_tokens = max(1, len(content) // 4)
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": action.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    # Headers and body go out in two writes; with Nagle on, delayed ACKs add ~40 ms to every answer.
    disable_nagle_algorithm = True
    fake: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self.send_response(self.fake.health_status)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/v1/models":
            model = {"id": self.fake.model, "object": "model", "created": 0, "owned_by": "fake"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if self.path != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        body = json.loads(raw)
        number = self.fake._record(body)
        release = self.fake._release
        try:
            action = self.fake._next_action(body)
            if isinstance(action, Drop):
                self.close_connection = True
                return
            if isinstance(action, Raw):
                self.send_response(200)
                self.send_header("Content-Type", action.content_type)
                self.send_header("Content-Length", str(len(action.body)))
                self.end_headers()
                self.wfile.write(action.body)
                return
            if isinstance(action, Stall):
                release.wait(action.seconds)
                action = Reply()
            if isinstance(action, Status):
                error = {"message": action.message, "type": "scripted", "code": action.code}
                self._send_json(action.code, {"error": error}, action.headers)
                return
            if action.delay_s:
                release.wait(action.delay_s)
            self._send_json(200, self.fake.completion(body, number, action))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self.fake._done()
