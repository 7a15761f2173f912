"""A small Vertex AI server for tests, speaking the REST wire format google-genai uses, and following
the model lifecycle Google documents.

google-genai (vertexai=True) is pointed at it with `HttpOptions(base_url=server.url)` and a static OAuth
token. It answers `batchPredictionJobs` create / get / list (paging, and the filter grammar of the
ListBatchPredictionJobs reference: `display_name` with `=`, `!=` and the `:` wildcard, `state` with `=`
and `!=`, terms joined by `AND`) / cancel, and `publishers/google/models/{m}:generateContent`, keeps every
request it received for assertions (with the time it came in), and can "run" a job: read its input file
from fake-gcs-server and write `prediction-model-<time>/predictions.jsonl` under the job's output prefix,
answering each line with a function of the tests' choosing.

The filter takes the proto field names only (`display_name`, as in the reference's examples and in
google-genai's recorded `tests/batches/test_list.py`); anything else is refused with 400
INVALID_ARGUMENT, so a client that sends another spelling fails here as it would there.
`fail_next(status, ...)` makes the next calls answer with a Google API error body, as the real service
does for a missing permission or an exhausted quota: the shape of Google's API design guide, "Errors"
(https://cloud.google.com/apis/design/errors): `{"error": {"code": <HTTP status>, "message": ..., "status":
<google.rpc.Code name>}}`, with the guide's mapping of names to HTTP statuses (RESOURCE_EXHAUSTED 429,
UNAVAILABLE 503, ...). `quota_exhausted(times=N)` and `unavailable(times=N)` are its two transient errors,
the ones a client retries (the guide: RESOURCE_EXHAUSTED "retry with exponential backoff", UNAVAILABLE
"retry"). With `after_doing=True` the call is carried out and then answered with the error, as when a
gateway or a time-out loses the answer to a call the service did: the case that makes a blind retry of a
create start a second job.

The model lifecycle and the request checks read the model catalogue (app/batch_job/gemini_models.yaml)
and follow these pages:

- Vertex AI "Model versions and lifecycle" (gemini-enterprise-agent-platform/models/model-versions):
  "one month before the retirement date, new access to the model is blocked for online inference,
  batch inference, and tuning"; "API requests referencing a retired model ID typically return a 404
  error". So a model closed to new access or retired answers a project without prior use of it
  (`FakeVertex.used`) 400 FAILED_PRECONDITION with the message seen in practice ("Project `p` is not
  allowed to use Publisher Model `...`"), and a project with prior use 404 NOT_FOUND once it is retired
  (third parties quote a notice that such projects keep access for months longer; this fake follows
  Google's page); a model the catalogue does not list in the request's location answers 404 NOT_FOUND
  ("Publisher Model `...` was not found or your project does not have access to it"). Both at batch job
  creation and on generateContent.
- Vertex AI "Thinking" guide and the Gemini 3 developer's guides: Gemini 3 takes
  `thinkingConfig.thinkingLevel` and only the levels its row lists; `thinkingBudget` on a Gemini 3 model,
  both controls at once, a level the model refuses, a budget outside a 2.5 model's range, and
  `thinkingLevel` on 2.5 are 400 INVALID_ARGUMENT (a per-line `status` in a batch job, as batch
  prediction reports a failed request). Label keys and values outside GCP's label rules are refused too.
- The GenerateContentResponse reference: `candidates[].content.parts`, `finishReason`, `usageMetadata`
  (`promptTokenCount`, `candidatesTokenCount`, `thoughtsTokenCount`, `totalTokenCount`; zeros left out,
  as proto3 JSON does), `modelVersion`. Thinking counts against `maxOutputTokens` (see `GeminiThinking`).
- "Batch inference from Cloud Storage": one JSONL input file per job; each output line echoes the
  request and has `response` or a non-empty `status`.

`today` (default: the real UTC date) is the date the lifecycle is judged on.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qs, urlsplit

from app.batch_job.catalogue import lookup

_COLLECTION = re.compile(
    r"^/(?P<version>v1(?:beta1)?)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/batchPredictionJobs(?:/(?P<job>[^/:]+))?(?::(?P<verb>cancel))?$"
)
_GENERATE = re.compile(
    r"^/(?P<version>v1(?:beta1)?)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/publishers/google/models/(?P<model>[^/:]+):generateContent$"
)
_MODEL = re.compile(r"^(?:projects/[^/]+/locations/[^/]+/)?publishers/google/models/(?P<model>[^/:]+)$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_TERM = re.compile(r'^(?P<field>[A-Za-z_.]+)\s*(?P<op>!=|=|:)\s*"(?P<value>[^"]*)"$')
Echo = Literal["request", "key", "text"]
_FILTER_FIELDS = {"display_name": "displayName", "state": "state"}


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass
class FakeVertexState:
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    # Per display name: states its job reports on the next GETs, one per GET (the last one stays).
    scripted: dict[str, list[str]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Failure(NamedTuple):
    """An error one of the next calls answers with."""

    on: str | None  # create, get, list, cancel or generate; None: any
    status: int
    code: str  # google.rpc.Code name
    message: str
    after_doing: bool = False  # carry the call out first, then answer the error


# What Vertex AI says with its two transient errors (messages as seen from the service).
QUOTA_MESSAGE = (
    "Resource exhausted. Please try again later. Please refer to "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
)
UNAVAILABLE_MESSAGE = "The service is currently unavailable."


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Refusal(NamedTuple):
    status: int
    code: str
    message: str


def _default_answer(request: dict[str, Any]) -> str:
    """The smallest answer the request's responseSchema allows (the first enum value, the minimum...)."""
    schema = (request.get("generationConfig") or {}).get("responseSchema")
    return json.dumps(schema_instance(schema) if schema else {"answer": "ok"})


def schema_instance(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "OBJECT":
        return {name: schema_instance(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "ARRAY":
        return []
    if kind in ("INTEGER", "NUMBER"):
        return schema.get("minimum", 1)
    if kind == "BOOLEAN":
        return False
    return "The interaction is benign."


class FakeVertex:
    def __init__(self, page_size: int = 2, today: dt.date | None = None) -> None:
        # A small default page size makes the client walk several pages of a list.
        self.state = FakeVertexState()
        self.page_size = page_size
        self.today = today
        # (project, model name) pairs with prior use: they keep a model closed to new access.
        self.used: set[tuple[str, str]] = set()
        # The answer text of a generateContent request (before the model's thinking and cap apply).
        self.online_answer: Callable[[dict[str, Any]], str] = _default_answer
        self.gemini = GeminiThinking()
        self._ids = itertools.count(1_000_000_001)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> FakeVertex:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeVertex:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        with self.state.lock:
            self.state.jobs.clear()
            self.state.requests.clear()
            self.state.scripted.clear()
            self.state.failures.clear()
        self.today = None
        self.used.clear()
        self.online_answer = _default_answer
        self.gemini = GeminiThinking()

    # --- inspection and control from tests -------------------------------------------------------------

    def created(self) -> list[RecordedRequest]:
        """The batch job create requests, in order (refused ones included)."""
        return [
            r for r in self.state.requests if r.method == "POST" and r.path.endswith("/batchPredictionJobs")
        ]

    def generated(self) -> list[RecordedRequest]:
        """The generateContent requests, in order."""
        return [r for r in self.state.requests if r.path.endswith(":generateContent")]

    def on(self) -> dt.date:
        return self.today or dt.datetime.now(dt.UTC).date()

    def access_refusal(self, project: str, location: str, model: str) -> Refusal | None:
        """How Vertex refuses `model` (a publisher model name or path) for `project` in `location`."""
        match = _MODEL.match(model) or re.match(r"^(?P<model>gemini-[^/]+)$", model)
        name = match["model"] if match else model
        path = f"projects/{project}/locations/{location}/publishers/google/models/{name}"
        row = lookup(name)
        missing = Refusal(
            404,
            "NOT_FOUND",
            f"Publisher Model `{path}` was not found or your project does not have access to it. "
            "Please ensure you are using a valid model version.",
        )
        if row is None or not row.serves(location):
            return missing
        state = row.lifecycle(self.on())
        if state == "unreleased":
            return missing
        if state != "current" and (project, row.name) not in self.used:
            message = f"Project `{project}` is not allowed to use Publisher Model `{path}`"
            return Refusal(400, "FAILED_PRECONDITION", message)
        if state == "retired":
            return missing
        return None

    def jobs(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [json.loads(json.dumps(job)) for job in self.state.jobs.values()]

    def job_by_display_name(self, display_name: str) -> dict[str, Any]:
        matches = [job for job in self.jobs() if job["displayName"] == display_name]
        assert matches, f"no job named {display_name!r}; have {[j['displayName'] for j in self.jobs()]}"
        return matches[-1]

    def set_state(self, name: str, state: str, **fields: Any) -> None:
        with self.state.lock:
            job = self.state.jobs[name.rsplit("/", 1)[-1]]
            job["state"] = state
            job["updateTime"] = _now()
            job.update(fields)

    def fail_next(
        self,
        status: int,
        code: str,
        message: str,
        *,
        times: int = 1,
        on: str | None = None,
        after_doing: bool = False,
    ) -> None:
        """The next `times` calls (of operation `on`: create, get, list, cancel or generate; None: any) answer
        `status` with Google's error body instead of doing anything (`after_doing`: after doing it)."""
        with self.state.lock:
            self.state.failures.extend([Failure(on, status, code, message, after_doing)] * times)

    def quota_exhausted(self, *, times: int = 1, on: str | None = None) -> None:
        """The next `times` calls answer 429 RESOURCE_EXHAUSTED (a refusal: nothing is done)."""
        self.fail_next(429, "RESOURCE_EXHAUSTED", QUOTA_MESSAGE, times=times, on=on)

    def unavailable(self, *, times: int = 1, on: str | None = None, after_doing: bool = False) -> None:
        """The next `times` calls answer 503 UNAVAILABLE (`after_doing`: the call was done all the same)."""
        self.fail_next(503, "UNAVAILABLE", UNAVAILABLE_MESSAGE, times=times, on=on, after_doing=after_doing)

    def script_states(self, display_name: str, states: list[str]) -> None:
        """The next GETs of the job with this display name (created before or after this call) report these
        states in turn: progress for --wait."""
        with self.state.lock:
            self.state.scripted[display_name] = list(states)

    def run_job(
        self,
        name: str,
        gcs_client: Any,
        answer: Callable[[dict[str, Any]], dict[str, Any] | None],
        state: str = "JOB_STATE_SUCCEEDED",
        echo: Echo = "request",
    ) -> str:
        """Write the job's output for its input, as Vertex does, and end it in `state`.

        `answer(line)` gets each input line and returns what to add to its output line: `{"response":
        ...}`, `{"status": "..."}` (a failed line in predictions.jsonl), `{"error": {"code", "message"}}`
        (a failed instance in errors.jsonl, as the BatchPredictionJob output reference describes), or
        None to leave the line out. `echo` is what the output line carries of the input: "request" (the
        documented shape: the request as it ran, labels included, and no custom id), "key" (also the
        sibling `key`, as observed in practice), or "text" (the request without its labels).
        """
        job = self.jobs_by_name()[name.rsplit("/", 1)[-1]]
        (uri,) = job["inputConfig"]["gcsSource"]["uris"]
        bucket, _, blob_name = uri[len("gs://") :].partition("/")
        data = gcs_client.bucket(bucket).blob(blob_name).download_as_bytes()
        predictions: list[str] = []
        errors: list[str] = []
        for raw in data.splitlines():
            if not raw.strip():
                continue
            line = json.loads(raw)
            extra = answer(line)
            if extra is None:
                continue
            instance = _echo(line, echo)
            if "error" in extra:
                errors.append(json.dumps({**instance, "error": extra["error"]}))
            else:
                predictions.append(json.dumps({**instance, "status": "", "processed_time": _now(), **extra}))
        predictions.reverse()  # Vertex does not keep input order; neither does this fake
        prefix = job["outputConfig"]["gcsDestination"]["outputUriPrefix"].rstrip("/")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out_dir = f"{prefix}/prediction-model-{stamp}"
        bucket, _, dir_name = out_dir[len("gs://") :].partition("/")
        for file, lines in (("predictions.jsonl", predictions), ("errors.jsonl", errors)):
            if lines or file == "predictions.jsonl":
                gcs_client.bucket(bucket).blob(f"{dir_name}/{file}").upload_from_string(
                    "\n".join(lines) + "\n" if lines else ""
                )
        failed = len(errors) + sum(1 for line in predictions if json.loads(line).get("status"))
        self.set_state(
            name,
            state,
            outputInfo={"gcsOutputDirectory": out_dir},
            completionStats={
                "successfulCount": str(len(predictions) + len(errors) - failed),
                "failedCount": str(failed),
            },
            endTime=_now(),
        )
        return out_dir

    def run_job_as_gemini(
        self,
        name: str,
        gcs_client: Any,
        answer_text: Callable[[dict[str, Any]], str],
        gemini: GeminiThinking | None = None,
        **kwargs: Any,
    ) -> str:
        """`run_job` with each line answered by `gemini` (the job's model as its catalogue row and Google's
        pages describe it) giving the text `answer_text(line)` would be, if its output tokens allow; a
        line the model refuses gets a `status`."""
        model = self.jobs_by_name()[name.rsplit("/", 1)[-1]]["model"]
        behaviour = gemini or self.gemini
        return self.run_job(
            name,
            gcs_client,
            lambda line: behaviour.respond(line["request"], model, answer_text(line)),
            **kwargs,
        )

    def jobs_by_name(self) -> dict[str, dict[str, Any]]:
        with self.state.lock:
            return {key: json.loads(json.dumps(job)) for key, job in self.state.jobs.items()}

    # --- HTTP ------------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            lost: Failure | None = None  # an error to answer instead of what the call did

            def _send(self, status: int, body: Any) -> None:
                if self.lost is not None:
                    lost, self.lost = self.lost, None
                    self._error(lost.status, lost.code, lost.message)
                    return
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, code: str, message: str) -> None:
                self._send(status, {"error": {"code": status, "message": message, "status": code}})

            def _handle(self, method: str) -> None:
                self.lost = None
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                query = parse_qs(split.query)
                with fake.state.lock:
                    fake.state.requests.append(
                        RecordedRequest(method, split.path, query, dict(self.headers.items()), body)
                    )
                if not self.headers.get("Authorization", "").startswith("Bearer "):
                    self._error(401, "UNAUTHENTICATED", "Request is missing a bearer token.")
                    return
                generate = _GENERATE.match(split.path)
                if generate and method == "POST":
                    failure = fake._take_failure("generate")
                    if failure is not None and not failure.after_doing:
                        self._error(failure.status, failure.code, failure.message)
                    else:
                        self.lost = failure
                        self._generate(generate, body or {})
                    return
                match = _COLLECTION.match(split.path)
                if not match:
                    self._error(404, "NOT_FOUND", f"no route for {method} {split.path}")
                    return
                parent = f"projects/{match['project']}/locations/{match['location']}"
                job_id, verb = match["job"], match["verb"]
                operation = verb or ("get" if job_id else "create" if method == "POST" else "list")
                failure = fake._take_failure(operation)
                if failure is not None and not failure.after_doing:
                    self._error(failure.status, failure.code, failure.message)
                    return
                self.lost = failure
                if method == "POST" and job_id is None:
                    refusal = fake.access_refusal(
                        match["project"], match["location"], (body or {}).get("model", "")
                    )
                    if refusal is not None:
                        self._error(*refusal)
                    else:
                        self._send(200, fake._create(parent, body or {}))
                elif method == "GET" and job_id is None:
                    self._list(query)
                elif method == "GET":
                    job = fake._get(job_id)
                    if job is None:
                        self._error(404, "NOT_FOUND", f"BatchPredictionJob {job_id} not found.")
                    else:
                        self._send(200, job)
                elif method == "POST" and verb == "cancel":
                    if fake._get(job_id) is None:
                        self._error(404, "NOT_FOUND", f"BatchPredictionJob {job_id} not found.")
                    else:
                        fake.set_state(job_id, "JOB_STATE_CANCELLED")
                        self._send(200, {})
                else:
                    self._error(405, "UNIMPLEMENTED", f"{method} {split.path}")

            def _generate(self, match: re.Match[str], body: dict[str, Any]) -> None:
                refusal = fake.access_refusal(match["project"], match["location"], match["model"])
                if refusal is not None:
                    self._error(*refusal)
                    return
                model = match["model"]
                problem = request_problem(model, body)
                if problem is not None:
                    self._error(400, "INVALID_ARGUMENT", problem)
                    return
                answer = fake.gemini.respond(body, model, fake.online_answer(body))
                self._send(200, answer["response"])

            def _list(self, query: dict[str, list[str]]) -> None:
                flt = query.get("filter", [""])[0]
                try:
                    selected = fake._select(flt)
                except ValueError as exc:
                    self._error(400, "INVALID_ARGUMENT", f"Invalid filter {flt!r}: {exc}")
                    return
                size = int(query.get("pageSize", [fake.page_size])[0])
                size = min(size, fake.page_size)
                start = int(query.get("pageToken", ["0"])[0] or 0)
                page = selected[start : start + size]
                body: dict[str, Any] = {"batchPredictionJobs": page} if page else {}
                if start + size < len(selected):
                    body["nextPageToken"] = str(start + size)
                self._send(200, body)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        return Handler

    def _create(self, parent: str, body: dict[str, Any]) -> dict[str, Any]:
        missing = [k for k in ("displayName", "model", "inputConfig", "outputConfig") if k not in body]
        if missing:
            raise AssertionError(f"create request lacks {missing}")
        job_id = str(next(self._ids))
        now = _now()
        job = {
            "name": f"{parent}/batchPredictionJobs/{job_id}",
            "displayName": body["displayName"],
            "model": body["model"],
            "inputConfig": body["inputConfig"],
            "outputConfig": body["outputConfig"],
            "state": "JOB_STATE_PENDING",
            "createTime": now,
            "updateTime": now,
            "modelVersionId": "1",
        }
        with self.state.lock:
            self.state.jobs[job_id] = job
        return job

    def _take_failure(self, operation: str) -> Failure | None:
        with self.state.lock:
            for index, failure in enumerate(self.state.failures):
                if failure.on in (None, operation):
                    del self.state.failures[index]
                    return failure
        return None

    def _get(self, job_id: str) -> dict[str, Any] | None:
        with self.state.lock:
            job = self.state.jobs.get(job_id)
            if job is None:
                return None
            script = self.state.scripted.get(job["displayName"])
            if script:
                job["state"] = script.pop(0) if len(script) > 1 else script[0]
            return json.loads(json.dumps(job))

    def _select(self, flt: str) -> list[dict[str, Any]]:
        with self.state.lock:
            jobs = [json.loads(json.dumps(job)) for job in self.state.jobs.values()]
        # The real service lists newest first.
        jobs.sort(key=lambda job: job["createTime"], reverse=True)
        for term in (t.strip() for t in flt.split(" AND ")) if flt.strip() else ():
            _matches({}, term)  # a bad term is refused even when there is no job to compare
            jobs = [job for job in jobs if _matches(job, term)]
        return jobs


def _echo(line: dict[str, Any], echo: Echo) -> dict[str, Any]:
    request = dict(line["request"])
    if echo == "text":
        request.pop("labels", None)
    instance: dict[str, Any] = {"request": request}
    if echo == "key" and "key" in line:
        instance = {"key": line["key"], **instance}
    return instance


def _matches(job: dict[str, Any], term: str) -> bool:
    match = _TERM.match(term)
    if not match:
        raise ValueError(f"cannot parse {term!r}")
    if match["field"] not in _FILTER_FIELDS:
        raise ValueError(f"unsupported field {match['field']!r} (supported: {sorted(_FILTER_FIELDS)})")
    actual, value, op = job.get(_FILTER_FIELDS[match["field"]], ""), match["value"], match["op"]
    if op == ":":
        if match["field"] != "display_name":
            raise ValueError(f"{match['field']} supports = and != only")
        pattern = "^" + ".*".join(re.escape(part) for part in value.split("*")) + "$"
        return re.match(pattern, actual) is not None
    return (actual == value) == (op == "=")


# What the dynamic budget of a 2.5 model may spend at most when the request does not set one.
_DYNAMIC_CAP = 8192
_DEFAULT_MAX_OUTPUT = 65535
_REFUSED = "Bad Request: 400 INVALID_ARGUMENT: "
# What a Gemini 3 model thinks per level on a judge prompt: 0 and 466 as observed for 3.5 Flash-Lite
# (the catalogue's evidence for minimal and low); medium and high are this fake's own assumptions.
LEVEL_THOUGHTS = {"MINIMAL": 0, "LOW": 466, "MEDIUM": 1500, "HIGH": 4000}


def _thinking_config(request: dict[str, Any]) -> dict[str, Any]:
    """`generationConfig.thinkingConfig` with its keys in lowerCamelCase: proto3 JSON accepts a field's
    original name too (`thinking_level`), and google-genai's typed config sends that spelling."""
    config = request.get("generationConfig") or request.get("generation_config") or {}
    thinking = config.get("thinkingConfig") or config.get("thinking_config") or {}
    names = {"thinking_level": "thinkingLevel", "thinking_budget": "thinkingBudget"}
    return {names.get(key, key): value for key, value in thinking.items()}


def request_problem(model: str, request: dict[str, Any]) -> str | None:
    """Why `model` refuses this request (400 INVALID_ARGUMENT), per its catalogue row; None to accept."""
    row = lookup(model)
    if row is None:
        return f"Model {model} is not supported."
    for key, value in (request.get("labels") or {}).items():
        if not (_LABEL_KEY.match(str(key)) and isinstance(value, str) and _LABEL_VALUE.match(value)):
            return f"Invalid label {key}={value!r}: labels are lower-case letters, digits, '_' and '-'."
    thinking = _thinking_config(request)
    if "thinkingBudget" in thinking and "thinkingLevel" in thinking:
        return "You can only set one of thinking budget and thinking level."
    control = row.thinking
    if control.control == "level":
        if "thinkingBudget" in thinking:
            return "Thinking budget is not supported for this model. Please use thinking level instead."
        level = thinking.get("thinkingLevel")
        if level is not None and str(level).lower() not in control.levels:
            return f"Thinking level {level} is not supported for this model."
        return None
    if "thinkingLevel" in thinking:
        return "thinking_level is not supported by this model."
    budget = thinking.get("thinkingBudget")
    assert control.minimum is not None
    assert control.maximum is not None
    if budget == 0 and not control.can_turn_off:
        return "Budget 0 is invalid. This model only works in thinking mode."
    if budget not in (None, 0, -1) and not control.minimum <= budget <= control.maximum:
        return (
            f"The thinking budget {budget} is invalid. Please choose a value between "
            f"{control.minimum} and {control.maximum}."
        )
    return None


@dataclass
class GeminiThinking:
    """How a Gemini model spends its output tokens on one request.

    Follows Vertex AI's "Thinking" guide and the Gemini 3 guides, with the model's catalogue row for its
    control: a 2.5 model thinks by default with a dynamic budget (Pro and Flash; Flash-Lite only when
    given a budget), `thinkingBudget` 0 turns thinking off where the model allows it; a Gemini 3 model
    thinks at its level (the request's `thinkingLevel`, else the row's default), `LEVEL_THOUGHTS` tokens
    of it. A request the model refuses (`request_problem`) gets a per-line `status`, as batch prediction
    reports a failed request. The thinking counts against `maxOutputTokens`, and an answer that does not
    fit after it ends with `finishReason: MAX_TOKENS` and empty or cut text. `usageMetadata` carries
    `thoughtsTokenCount` (left out when zero, as proto3 JSON does). `thoughts` is what a 2.5 model would
    think on this judge prompt with a free hand: "thousands of tokens" for a dynamic budget.
    """

    thoughts: int = 1500
    chars_per_token: int = 4
    level_thoughts: dict[str, int] = field(default_factory=lambda: dict(LEVEL_THOUGHTS))

    def respond(self, request: dict[str, Any], model: str, text: str) -> dict[str, Any]:
        name = model.rsplit("/", 1)[-1]
        problem = request_problem(name, request)
        if problem is not None:
            return {"status": _REFUSED + problem}
        row = lookup(name)
        assert row is not None
        config = request.get("generationConfig") or {}
        thinking = _thinking_config(request)
        cap = int(config.get("maxOutputTokens", _DEFAULT_MAX_OUTPUT))
        if row.thinking.control == "level":
            level = str(thinking.get("thinkingLevel") or row.thinking.default).upper()
            thoughts = self.level_thoughts[level]
        else:
            budget = thinking.get("thinkingBudget")
            if budget is None and not row.thinking.thinks_by_default:
                budget = 0
            limit = _DYNAMIC_CAP if budget in (None, -1) else budget
            thoughts = min(self.thoughts, limit)
        thoughts = min(thoughts, cap)
        room = cap - thoughts
        needed = -(-len(text) // self.chars_per_token)
        finish = "STOP" if needed <= room else "MAX_TOKENS"
        shown = text if finish == "STOP" else text[: room * self.chars_per_token]
        prompt_chars = sum(
            len(part.get("text", ""))
            for content in [*request.get("contents", []), request.get("systemInstruction") or {}]
            for part in content.get("parts", [])
        )
        usage: dict[str, Any] = {"promptTokenCount": prompt_chars // self.chars_per_token}
        produced = min(needed, room)
        if produced:
            usage["candidatesTokenCount"] = produced
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        usage["totalTokenCount"] = usage["promptTokenCount"] + produced + thoughts
        content: dict[str, Any] = {"role": "model", "parts": [{"text": shown}] if shown else []}
        return {
            "response": {
                "candidates": [{"content": content, "finishReason": finish}],
                "usageMetadata": usage,
                "modelVersion": name,
            }
        }
