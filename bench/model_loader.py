"""Benchmark: the model loader from start to "ready" against the bare transfer of the same files, from
the same server, in the same run.

    venv/bin/python -m bench.model_loader [--source hub,xet,s3] [--mib 1024] [--files 4] [--runs 2]
                                          [--wire-mib-s 0,64]

Sources (each started here on loopback, in this process, and used by both contenders):

* ``hub``: the tests' fake Hugging Face hub (tests/support/fake_hf_hub.py) serving LFS files over plain
  HTTP (resolve -> 302 -> "CDN" origin);
* ``xet``: the same fake hub serving the files Xet-backed (its CAS: reconstructions and ranged xorb
  reads), the path real nodes take with hf-xet installed;
* ``s3``: moto's ``ThreadedMotoServer`` (the real S3 REST API) holding a mirror made by
  ``python -m app.model_loader mirror``.

Contenders, each a fresh child process, alternated ``--runs`` times on an empty directory after an
``os.sync()`` (so no run inherits another's dirty pages):

* bare: for the hub, ``huggingface_hub.snapshot_download`` of the revision (``max_workers`` as the
  loader's ``DOWNLOAD_WORKERS``), nothing else; for S3, s3transfer downloads of the same objects with the
  loader's concurrency and part size, nothing else: the floor of any loader;
* loader: ``python -m app.model_loader download`` with its defaults: resolve, download, verify every
  file against the source's sha256 and size, fsync, marker, atomic rename, served link; its exit is the
  moment it is ready (``serve`` turns ``/readyz`` to 200 at the same point).

The hub sources run once per ``--wire-mib-s`` value: 0 sends as fast as loopback goes, which on a 2-core
machine makes the run CPU-bound (the fake hub's server takes a core, and the loader's hashing and fsync
compete with the client for the other: a contest of this machine's CPU, not of the wire); a positive value
paces every response to that many MiB/s (``FakeHfHub.wire_bytes_per_second``), as a network link would.
64 MiB/s per connection is the order of one stream from the Hub's CDN to EC2; the loader fetches the
four files on four connections (8 workers), 256 MiB/s in all. moto's S3 server is slower than that on
its own, so the S3 source runs once, unpaced.

Printed per source: the best and median wall seconds of each, the ratio bare/loader (goal >= 0.9, as
issue 22 asks: the loader downloads at >= 90 % of the bare transfer's rate) and the loader's peak RSS.
On a shared 2-core machine everything is noisy: the best of the runs is the figure to read.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPO_ID = "bench/judge-1g"
TARGET_RATIO = 0.9
WORKERS = 8  # the loader's DOWNLOAD_WORKERS default

BARE_HUB = """
import sys
from huggingface_hub import snapshot_download
snapshot_download(sys.argv[1], revision=sys.argv[2], local_dir=sys.argv[3], cache_dir=sys.argv[4],
                  endpoint=sys.argv[5], max_workers=int(sys.argv[6]))
"""

BARE_S3 = """
import os, sys
from boto3.session import Session
from botocore.config import Config
from s3transfer.manager import TransferConfig, TransferManager
bucket, out, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
concurrency, part = 16, 8 << 20  # the loader's S3_CONCURRENCY default and part size
client = Session().client("s3", config=Config(max_pool_connections=concurrency + 2))
config = TransferConfig(multipart_threshold=part, multipart_chunksize=part,
                        max_request_concurrency=concurrency)
with TransferManager(client, config) as manager:
    futures = [manager.download(bucket, key, os.path.join(out, key.rsplit("/", 1)[1])) for key in keys]
    for future in futures:
        future.result()
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float  # the child's user + system time (robust to other load on the machine)
    rss_mib: float


@dataclass
class Timings:
    bare: list[Run] = field(default_factory=list)
    loader: list[Run] = field(default_factory=list)


def _weights(files: int, mib: int) -> dict[str, bytes]:
    """Incompressible like real weights (hf-xet would compress a repeated pattern)."""
    rng = random.Random(22)
    size = mib * 2**20 // files
    block = 1 << 24
    return {
        f"model-{i + 1:05d}-of-{files:05d}.safetensors": b"".join(
            rng.randbytes(min(block, size - offset)) for offset in range(0, size, block)
        )
        for i in range(files)
    }


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING", "MODEL", "AWS_"))}
    env.update(PYTHONPATH=str(ROOT), HF_HUB_DISABLE_PROGRESS_BARS="1", HF_HUB_DISABLE_TELEMETRY="1", **extra)
    return env


# Children are started by this small launcher, itself started before the weights fill this process's
# memory: Linux keeps ru_maxrss across fork and exec, so a child of this process would report its
# parent's 1 GiB as its own peak.
LAUNCHER = """
import json, os, subprocess, sys, time
for line in sys.stdin:
    job = json.loads(line)
    with open(job["log"], "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(job["args"], env=job["env"], cwd=job["cwd"],
                                stdout=subprocess.DEVNULL, stderr=log)
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "rss_mib": usage.ru_maxrss / 1024,
                      "cpu": usage.ru_utime + usage.ru_stime, "code": os.waitstatus_to_exitcode(status)}),
          flush=True)
"""


class Launcher:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def run(self, args: list[str], env: dict[str, str], log: Path) -> Run:
        """Wall and CPU seconds of a child process and its own peak RSS (from wait4)."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        job = {"args": args, "env": env, "cwd": str(ROOT), "log": str(log)}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        result = json.loads(self.proc.stdout.readline())
        if result["code"] != 0:
            raise SystemExit(f"{' '.join(args[:4])} failed:\n{log.read_text()[-3000:]}")
        return Run(result["seconds"], result["cpu"], result["rss_mib"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def _run_loader(launcher: Launcher, work: Path, **source: str) -> Run:
    """``python -m app.model_loader download`` of REPO_ID@main into a fresh directory, from ``source``
    (its environment: the hub's endpoint, or the S3 mirror and its client settings)."""
    out = _fresh(work / "loader")
    env = _env(
        MODELS_DIR=str(out), MODEL_REPO_ID=REPO_ID, FREE_SPACE_MARGIN_BYTES="0", LOG_FORMAT="json", **source
    )
    return launcher.run(
        [sys.executable, "-m", "app.model_loader", "download", "--revision", "main"], env, work / "loader.log"
    )


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.sync()
    return path


def _alternate(runs: int, bare: Callable[[], Run], loader: Callable[[], Run]) -> Timings:
    timings = Timings()
    for n in range(runs):
        timings.bare.append(bare())
        timings.loader.append(loader())
        b, ld = timings.bare[-1], timings.loader[-1]
        print(
            f"  run {n + 1}: bare {b.seconds:.2f} s ({b.cpu_seconds:.2f} CPU-s), "
            f"loader {ld.seconds:.2f} s ({ld.cpu_seconds:.2f} CPU-s), load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    return timings


def bench_hub(
    launcher: Launcher, work: Path, weights: dict[str, bytes], runs: int, *, xet: bool, wire_mib_s: int = 0
) -> Timings:
    from tests.support.fake_hf_hub import FakeFile, FakeHfHub, FakeRepo, FakeRevision

    files = [
        FakeFile("config.json", b'{"model_type": "bench"}'),
        *(FakeFile(p, c, lfs=True) for p, c in weights.items()),
    ]
    repo = FakeRepo(REPO_ID)
    revision = repo.add(FakeRevision({f.path: f for f in files}), "main")
    hub = FakeHfHub([repo], xet=xet)
    hub.chunk_size = 1 << 20
    hub.wire_bytes_per_second = wire_mib_s << 20
    for file in files:
        _ = file.sha256  # the fake hub hashes each file once, on first use: not inside either contender's run
    if xet:
        started = time.perf_counter()
        for file in files:
            hub.xet_of(file)  # hf-xet's own upload to a local CAS: real xorbs and shards
        print(f"  Xet objects made in {time.perf_counter() - started:.1f} s", flush=True)
    with hub:

        def bare() -> Run:
            out = _fresh(work / "bare")
            args = [
                sys.executable,
                "-c",
                BARE_HUB,
                REPO_ID,
                revision.commit,
                str(out / "dl"),
                str(out / "cache"),
                hub.endpoint,
                str(WORKERS),
            ]
            return launcher.run(args, _env(HF_HOME=str(out / "hf-home")), work / "bare.log")

        def loader() -> Run:
            return _run_loader(launcher, work, HF_ENDPOINT=hub.endpoint)

        return _alternate(runs, bare, loader)


def bench_s3(launcher: Launcher, work: Path, weights: dict[str, bytes], runs: int) -> Timings:
    from app.model_loader.mirror_layout import S3Location
    from tests.support.s3 import LocalS3, put_mirror

    with LocalS3() as s3:
        location = S3Location.parse(f"s3://{s3.make_bucket('bench-models')}/mirror")
        keys = put_mirror(
            s3, location, REPO_ID, {"config.json": b'{"model_type": "bench"}', **weights}, refs=("main",)
        )

        def bare() -> Run:
            out = _fresh(work / "bare")
            args = [sys.executable, "-c", BARE_S3, location.bucket, str(out), *keys]
            return launcher.run(args, _env(**s3.client_env()), work / "bare.log")

        def loader() -> Run:
            return _run_loader(
                launcher, work, MODEL_SOURCE=location.url, MODEL_SOURCE_FALLBACK="none", **s3.client_env()
            )

        return _alternate(runs, bare, loader)


def report(source: str, t: Timings) -> bool:
    bare = min(r.seconds for r in t.bare)
    loader = min(r.seconds for r in t.loader)
    ratio = bare / loader
    print(
        f"{source}: bare best {bare:.2f} s (median {statistics.median(r.seconds for r in t.bare):.2f}),"
        f" loader best {loader:.2f} s (median {statistics.median(r.seconds for r in t.loader):.2f});"
        f" ratio {ratio:.2f} (goal >= {TARGET_RATIO}); CPU-s bare {min(r.cpu_seconds for r in t.bare):.2f},"
        f" loader {min(r.cpu_seconds for r in t.loader):.2f}; loader peak RSS"
        f" {max(r.rss_mib for r in t.loader):.0f} MiB",
        flush=True,
    )
    return ratio >= TARGET_RATIO


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", default="hub,xet,s3", help="comma-separated: hub, xet, s3")
    parser.add_argument("--mib", type=int, default=1024, help="total size of the weights (MiB)")
    parser.add_argument("--files", type=int, default=4, help="number of weight files")
    parser.add_argument("--runs", type=int, default=2, help="alternated runs of each contender")
    parser.add_argument(
        "--wire-mib-s",
        default="0,64",
        help="hub sources: comma-separated MiB/s per response, 0 for unpaced (see above)",
    )
    args = parser.parse_args()
    print(f"{args.mib} MiB in {args.files} files, {args.runs} runs each")
    launcher = Launcher()
    weights = _weights(args.files, args.mib)
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-model-loader-") as tmp:
        for source in args.source.split(","):
            work = Path(tmp) / source
            if source == "s3":
                print(f"{source}:", flush=True)
                ok = report(source, bench_s3(launcher, work, weights, args.runs)) and ok
                continue
            for wire in (int(w) for w in args.wire_mib_s.split(",")):
                label = f"{source} ({f'{wire} MiB/s per connection' if wire else 'unpaced, CPU-bound here'})"
                print(f"{label}:", flush=True)
                timings = bench_hub(launcher, work, weights, args.runs, xet=source == "xet", wire_mib_s=wire)
                ok = report(label, timings) and ok
    launcher.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
