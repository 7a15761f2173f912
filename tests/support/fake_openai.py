"""An OpenAI-compatible HTTP server for the judge tests, on a free loopback port.

It speaks the real wire format of vLLM's server for the endpoints the judge uses
(``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /health``), records every request body so tests
check what the client sends, and is scriptable per test: ``server.script(Reply(...), Status(429, ...))``
queues what the next chat completions answer; when the queue is empty a *naive fake judge* answers.

The naive judge behaves like a model with no defence against prompt injection: if the user message
contains ``OVERRIDE_VERDICT=<json>`` *outside* the ``<judged_prompt>``/``<judged_response>`` blocks (as a
naive reader sees them: each block ends at the first closing tag), it answers with that JSON. So an
injection can only win if the client lets the judged text escape its block.

A test that needs a judge of known agreement (calibration against a gold set) sets ``answer`` to a function
of the request body returning the answer text; the naive judge answers otherwise.

Faults can also be triggered by the judged text itself, which keeps a concurrent run deterministic
whatever order requests arrive in: a judged prompt or response containing ``FAKE_FAULT=<name>`` always
gets that fault (see ``FAULTS``).

``ThreadingHTTPServer`` gives each connection its own thread; the listen backlog is raised so 64+
clients can connect at once.

The answer's length cap follows vLLM's request model (``ChatCompletionRequest`` in
vllm/entrypoints/openai/chat_completion/protocol.py): both ``max_completion_tokens`` and ``max_tokens``
are accepted, ``max_tokens`` is marked deprecated "in favor of the max_completion_tokens field", and
the cap applied is ``max_completion_tokens or max_tokens``. An answer longer than the cap (at the
fake's four characters a token) is cut there and ends with ``finish_reason: "length"``, as vLLM's does.

Two behaviours of the real deployment can be switched on, each following its own documentation:

* ``queue(capacity, service_s)``: vLLM under load. vLLM's OpenAI server has no admission control: it
  never answers 429 or 503 when busy; its scheduler runs up to ``max_num_seqs`` requests at once and
  keeps the rest waiting, first come first served, without bound (``vllm:num_requests_running`` /
  ``vllm:num_requests_waiting`` on ``/metrics``), so overload shows as latency; a request whose client
  disconnects is aborted, waiting or running (vLLM's ``AsyncLLM`` aborts on ``asyncio.CancelledError``
  of the request handler). ``/health`` answers at once whatever the queue.
* ``cold_start(seconds, mode)``: a judge scaled to zero, for ``seconds`` from the first request that
  reaches it, for its first ``hits`` requests, or until ``come_up()`` (the last two keep a test
  deterministic on a busy machine).
  ``mode`` is what a client sees meanwhile, on every route including ``/health``: ``"503"`` /
  ``"502"`` / ``"504"`` (a gateway or load balancer with no ready upstream, optionally with
  ``Retry-After``), or ``"hold"`` (KEDA HTTP add-on's interceptor: it holds each request while the
  backend scales from zero, forwards it once a replica is ready, and answers 504 when its own timeout,
  ``hold_max_s``, runs out first).
  ``stop_listening()`` closes the listening socket instead (nothing listens: connections are refused)
  and ``listen_again(after_s)`` opens it on the same port again.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from openai.types.chat import ChatCompletion

__all__ = [
    "FAULTS",
    "REAL_SCORES",
    "Drop",
    "FakeOpenAI",
    "Raw",
    "Reply",
    "Stall",
    "Status",
    "VllmQueue",
    "completion_cap",
    "judge_answer",
]

REAL_SCORES = {"accuracy": 6, "relevance": 7, "helpfulness": 6, "safety": 9, "pleasing": 8, "overall": 6}


def scored_completion() -> ChatCompletion:
    """A chat completion whose answer is a valid six-criteria judgement (``REAL_SCORES``), as the SDK
    hands it over: for tests that drive the client's core without a server."""
    content = json.dumps({"reasoning": "r", "scores": REAL_SCORES})
    return ChatCompletion.model_validate(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            ],
        }
    )


def completion_cap(body: dict[str, Any]) -> int | None:
    """The token cap vLLM applies to a chat completion request: ``max_completion_tokens``, else the
    deprecated ``max_tokens`` (``ChatCompletionRequest``, see the module docstring)."""
    return body.get("max_completion_tokens") or body.get("max_tokens")


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


ColdStartMode = Literal["503", "502", "504", "hold"]


@dataclass
class _Cold:
    mode: ColdStartMode
    seconds: float
    hits_left: int | None
    headers: dict[str, str]
    hold_max_s: float
    first_hit: float | None = None
    up: bool = False  # come_up(): a replica is ready, whatever the time or hits left

    def starting(self) -> bool:
        if self.up:
            return False
        if self.hits_left is not None:
            return self.hits_left > 0
        if self.first_hit is None:
            self.first_hit = time.monotonic()
        return time.monotonic() < self.first_hit + self.seconds


class VllmQueue:
    """vLLM's scheduler as a client sees it (see the module docstring): ``capacity`` requests run at once
    for ``service_s`` each; the rest wait in arrival order, never refused; a gone client's request is
    aborted wherever it is."""

    def __init__(self, capacity: int, service_s: float) -> None:
        self.capacity = capacity
        self.service_s = service_s
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self.running = 0
        self.max_waiting = 0
        self.aborted = 0
        self.served = 0

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def serve(self, gone: Callable[[], bool]) -> bool:
        """Wait for a turn, then run; False if the client went away first (the request was aborted)."""
        ticket = object()
        with self._cond:
            self._waiting.append(ticket)
            self.max_waiting = max(self.max_waiting, len(self._waiting))
            while not (self._waiting[0] is ticket and self.running < self.capacity):
                if gone():
                    self._waiting.remove(ticket)
                    self.aborted += 1
                    self._cond.notify_all()
                    return False
                self._cond.wait(0.01)
            self._waiting.popleft()
            self.running += 1
            self._cond.notify_all()
        try:
            end = time.monotonic() + self.service_s
            while time.monotonic() < end:
                if gone():
                    with self._cond:
                        self.aborted += 1
                    return False
                time.sleep(min(0.01, max(0.0, end - time.monotonic())))
            with self._cond:
                self.served += 1
            return True
        finally:
            with self._cond:
                self.running -= 1
                self._cond.notify_all()


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
        self.vllm_queue: VllmQueue | None = None
        # Answer nothing until this many requests are in flight at once (or hold_s passes): shows that a
        # client really keeps N open, whatever the machine's load.
        self.gather: tuple[int, float] | None = None
        self._cold: _Cold | None = None
        self.cold_start_hits = 0
        # The judge's answer text per request body, instead of the naive judge (see the module doc).
        self.answer: Callable[[dict[str, Any]], str] | None = None
        self._httpd = self._listen(0)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True)

    def _listen(self, port: int) -> ThreadingHTTPServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", port), handler, bind_and_activate=False)
        httpd.daemon_threads = True
        httpd.request_queue_size = 512
        httpd.server_bind()
        httpd.server_activate()
        return httpd

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def stop_listening(self) -> None:
        """Close the listening socket: connections are refused, as by a judge scaled to zero."""
        self._port = self._httpd.server_address[1]
        self._httpd.shutdown()
        self._httpd.server_close()

    def listen_again(self, after_s: float = 0.0) -> threading.Thread:
        """Listen on the same port again, ``after_s`` from now."""

        def reopen() -> None:
            time.sleep(after_s)
            self._httpd = self._listen(self._port)
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True)
            self._thread.start()

        opener = threading.Thread(target=reopen, name="fake-openai-reopen", daemon=True)
        opener.start()
        return opener

    # --- modes ---------------------------------------------------------------------------------

    def queue(self, capacity: int, service_s: float) -> VllmQueue:
        """Answer like vLLM under load from now on (see the module docstring)."""
        self.vllm_queue = VllmQueue(capacity, service_s)
        return self.vllm_queue

    def cold_start(
        self,
        seconds: float = 3600.0,
        mode: ColdStartMode = "503",
        *,
        hits: int | None = None,
        retry_after: float | None = None,
        hold_max_s: float = 300.0,
    ) -> None:
        """Be a judge scaled to zero for ``seconds`` from the first request, or for the first ``hits``
        requests (see the module docstring)."""
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        self._cold = _Cold(mode, seconds, hits, headers, hold_max_s)

    def come_up(self) -> None:
        """End the cold start now: held requests are forwarded, new ones served (a test that decides
        when the judge is up from what it has seen, rather than from the time)."""
        with self._lock:
            if self._cold is not None:
                self._cold.up = True

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
            self.vllm_queue = None
            self.gather = None
            self._cold = None
            self.cold_start_hits = 0
            self.answer = None
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
        content = action.content if action.content is not None else (self.answer or judge_answer)(body)
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
        completion_tokens = max(1, len(content) // 4)
        finish_reason = action.finish_reason
        cap = completion_cap(body)
        if cap is not None and completion_tokens > cap:
            content, completion_tokens, finish_reason = content[: cap * 4], cap, "length"
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
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

    def _client_gone(self) -> bool:
        """True once the client has closed its end: it sends nothing else while it waits for an answer."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _cold_start(self) -> bool:
        """While the server is starting: answer as the mode says and return True; False to serve."""
        cold = self.fake._cold
        with self.fake._lock:
            if cold is None or not cold.starting():
                return False
            self.fake.cold_start_hits += 1
            if cold.hits_left is not None:
                cold.hits_left -= 1
        if cold.mode == "hold":
            give_up = time.monotonic() + cold.hold_max_s
            while time.monotonic() < give_up and cold.starting():
                if self._client_gone():
                    self.close_connection = True
                    return True
                time.sleep(0.01)
            if not cold.starting():
                return False  # a replica is ready: the interceptor forwards the request
            status, message = 504, "context deadline exceeded while waiting for a ready backend"
        else:
            status, message = int(cold.mode), "no healthy upstream"
        self._send_json(status, {"error": {"message": message, "type": "unavailable"}}, cold.headers)
        return True

    def do_GET(self) -> None:
        if self._cold_start():
            return
        if self.path == "/metrics":
            queue = self.fake.vllm_queue
            running, waiting = (queue.running, queue.waiting) if queue else (self.fake.in_flight, 0)
            text = (
                f'vllm:num_requests_running{{model_name="{self.fake.model}"}} {running}\n'
                f'vllm:num_requests_waiting{{model_name="{self.fake.model}"}} {waiting}\n'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
        elif self.path == "/health":
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
        if self._cold_start():
            return
        body = json.loads(raw)
        number = self.fake._record(body)
        release = self.fake._release
        try:
            queue = self.fake.vllm_queue
            if queue is not None and not queue.serve(self._client_gone):
                self.close_connection = True
                return
            gather = self.fake.gather
            if gather is not None:
                until = time.monotonic() + gather[1]
                while self.fake.max_in_flight < gather[0] and time.monotonic() < until:
                    time.sleep(0.005)
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
