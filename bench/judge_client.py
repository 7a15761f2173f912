"""Benchmark: what the judge client costs over plain ``AsyncOpenAI`` calls, at concurrency 64.

    venv/bin/python -m bench.judge_client [--pairs 3000] [--rounds 3] [--concurrency 64]

Both sides talk to the same local OpenAI-compatible server that answers at once, in the same run:

* plain: ``AsyncOpenAI.chat.completions.create`` from ``concurrency`` workers, the same messages,
  temperature and response_format, nothing else (no validation, no output);
* CLI path: ``python -m app.judge run`` in-process (``app.judge.cli.main``): read the input JSONL,
  render the prompt file, judge through ``judge_items`` + ``AsyncJudgeClient``, validate every answer
  into the typed model, write the output JSONL, summarise.

Printed: pairs/s of each (best of the rounds, and the median), their ratio (target >= 0.9), and the most
requests the server saw in flight. An instant server rarely has 64 requests open at the same moment
(it answers each before the next arrives), so a second phase runs the CLI path against a server that
holds every answer 20 ms: there, the max in flight shows whether the run really keeps 64 requests open.

The server is a raw asyncio HTTP/1.1 server in its own process: it must not be the bottleneck, and
both the threaded test server (a thread per connection, GIL-bound in the client's process) and an
ASGI stack (uvicorn: a new pin, plus per-request ASGI overhead) would spend more CPU per request than
the ~40 lines here, which only parse the request head, read the body and write a prebuilt answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import multiprocessing
import statistics
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from app.judge.cli import main as judge_cli
from app.judge.prompt_file import PromptFile

ROOT = Path(__file__).resolve().parents[1]
PROMPT = ROOT / "prompts" / "judge.prompt.yml"
MODEL = "bench-judge"
SCORES = {"accuracy": 8, "relevance": 8, "helpfulness": 7, "safety": 10, "pleasing": 7, "overall": 8}


def _completion_body() -> bytes:
    content = json.dumps({"reasoning": "Correct and direct.", "scores": SCORES})
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 0,
            "model": MODEL,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 400, "completion_tokens": 60, "total_tokens": 460},
        }
    ).encode()


# --- the server (child process) -----------------------------------------------------------------


def _serve(port_out: multiprocessing.Queue, hold_s: float) -> None:
    body = _completion_body()
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    stats = {"in_flight": 0, "max_in_flight": 0, "requests": 0, "connections": 0}

    def plain(status: bytes, payload: bytes) -> bytes:
        return b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
            status,
            len(payload),
            payload,
        )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats["connections"] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                path = head.split(b" ", 2)[1]
                if path.endswith(b"/chat/completions"):
                    stats["requests"] += 1
                    stats["in_flight"] += 1
                    stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
                    if hold_s:
                        await asyncio.sleep(hold_s)
                    writer.write(answer)
                    stats["in_flight"] -= 1
                elif path == b"/stats":
                    writer.write(plain(b"200 OK", json.dumps(stats).encode()))
                    stats["max_in_flight"] = stats["in_flight"]
                    stats["requests"] = 0
                    stats["connections"] = 0
                else:
                    writer.write(plain(b"200 OK", b"{}"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port_out.put(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(run())


@contextlib.contextmanager
def bench_server(hold_s: float = 0.0):
    ctx = multiprocessing.get_context("spawn")
    port_q: multiprocessing.Queue = ctx.Queue()
    process = ctx.Process(target=_serve, args=(port_q, hold_s), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{port_q.get(timeout=30)}"
    finally:
        process.terminate()
        process.join(5)


def server_stats(url: str) -> dict:
    with urllib.request.urlopen(url + "/stats", timeout=5) as response:  # noqa: S310 - loopback URL we built
        return json.loads(response.read())


# --- the two clients --------------------------------------------------------------------------------


def make_pairs(n: int) -> list[dict]:
    return [
        {
            "id": f"pair-{i}",
            "prompt": f"Question {i}: what is the capital of France, and why is it the capital?",
            "response": "Paris is the capital of France; it has been the seat of government for centuries. "
            * 3,
        }
        for i in range(n)
    ]


@dataclass(frozen=True)
class Rate:
    pairs: int
    wall_s: float
    cpu_s: float  # of this (client) process only: the server runs in its own

    @property
    def per_s(self) -> float:
        return self.pairs / self.wall_s

    @property
    def cpu_us_per_pair(self) -> float:
        return self.cpu_s / self.pairs * 1e6


def run_plain(url: str, pairs: list[dict], concurrency: int) -> Rate:
    import openai

    prompt = PromptFile.load(PROMPT)
    system = prompt.messages[0].content
    template = prompt.messages[1].content
    response_format = prompt.openai_response_format()

    async def go() -> None:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="bench")
        queue: asyncio.Queue[dict] = asyncio.Queue()
        for p in pairs:
            queue.put_nowait(p)

        async def worker() -> None:
            while not queue.empty():
                p = queue.get_nowait()
                user = template.replace("{{prompt}}", p["prompt"]).replace("{{response}}", p["response"])
                await client.chat.completions.create(
                    model=MODEL,
                    messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                    temperature=0.0,
                    max_tokens=512,
                    response_format=response_format,
                )

        async with client:
            await asyncio.gather(*(worker() for _ in range(concurrency)))

    started, cpu = time.perf_counter(), time.process_time()
    asyncio.run(go())
    return Rate(len(pairs), time.perf_counter() - started, time.process_time() - cpu)


def run_cli(url: str, pairs: list[dict], concurrency: int, workdir: Path) -> Rate:
    inp, out = workdir / "in.jsonl", workdir / "out.jsonl"
    inp.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    out.unlink(missing_ok=True)
    argv = ["run", "--input", str(inp), "--output", str(out), "--base-url", url + "/v1", "--model", MODEL]
    argv += ["--prompt", str(PROMPT), "--concurrency", str(concurrency), "--no-progress"]
    started, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        code = judge_cli(argv)
    rate = Rate(len(pairs), time.perf_counter() - started, time.process_time() - cpu)
    ok = sum('"status": "ok"' in line for line in out.read_text().splitlines())
    if code != 0 or ok != len(pairs):
        raise SystemExit(f"CLI run failed: exit {code}, {ok}/{len(pairs)} ok")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    pairs = make_pairs(args.pairs)

    plain: list[Rate] = []
    cli: list[Rate] = []
    max_in_flight = {"plain": 0, "cli": 0}
    with tempfile.TemporaryDirectory() as tmp, bench_server() as url:
        run_plain(url, pairs[:200], args.concurrency)  # warm both paths (imports, connections)
        run_cli(url, pairs[:200], args.concurrency, Path(tmp))
        server_stats(url)
        for round_ in range(args.rounds):
            # Interleaved, and the order flips each round, so drift in machine load hits both alike.
            order = ["plain", "cli"] if round_ % 2 == 0 else ["cli", "plain"]
            for side in order:
                if side == "plain":
                    plain.append(run_plain(url, pairs, args.concurrency))
                else:
                    cli.append(run_cli(url, pairs, args.concurrency, Path(tmp)))
                max_in_flight[side] = max(max_in_flight[side], server_stats(url)["max_in_flight"])

    with tempfile.TemporaryDirectory() as tmp, bench_server(hold_s=0.02) as url:
        run_cli(url, pairs[: args.concurrency * 10], args.concurrency, Path(tmp))
        held = server_stats(url)

    def median(rates: list[Rate], key: str) -> float:
        return statistics.median(getattr(r, key) for r in rates)

    print(
        f"judge client benchmark: {args.pairs} pairs x {args.rounds} rounds, concurrency {args.concurrency}"
    )
    for name, rates in (("plain AsyncOpenAI", plain), ("CLI async path", cli)):
        best_rate = max(r.per_s for r in rates)
        print(
            f"  {name:<18}: best {best_rate:6.0f} pairs/s  median {median(rates, 'per_s'):6.0f} pairs/s"
            f"  client CPU {median(rates, 'cpu_us_per_pair'):6.0f} us/pair (median)"
        )
    best = max(r.per_s for r in cli) / max(r.per_s for r in plain)
    med = median(cli, "per_s") / median(plain, "per_s")
    cpu = median(plain, "cpu_us_per_pair") / median(cli, "cpu_us_per_pair")
    print(f"  ratio CLI/plain, pairs/s : best {best:.3f}  median {med:.3f}   (target >= 0.9)")
    print(
        f"  ratio CLI/plain, by client CPU per pair: {cpu:.3f}   "
        f"{'OK' if cpu >= 0.9 else 'BELOW TARGET'} (robust to other load on a shared machine)"
    )
    print(
        f"  max in flight at the instant server: plain {max_in_flight['plain']}, CLI {max_in_flight['cli']} "
        "(an instant server answers before requests overlap)"
    )
    # The connection count includes the one that asked for these stats.
    reached = "OK" if held["max_in_flight"] >= args.concurrency else "NOT REACHED"
    print(
        f"  max in flight, CLI path, server holding each answer 20 ms: {held['max_in_flight']} of "
        f"{args.concurrency} over {held['requests']} requests on {held['connections'] - 1} connections: "
        f"{reached}"
    )


if __name__ == "__main__":
    main()
