"""Benchmark: the day's report over a million result lines and fourteen days of history.

    venv/bin/python -m bench.report [--records 1000000] [--keep DIR]

A local tree laid out as the bucket (tools/report_sample.py: the day's results of the Gemini judge, the
same day judged by vLLM, the raw records, and thirteen earlier days' summary.json) is generated once.
Then, each in a fresh process (so its ru_maxrss is its own), on the same files:

* read-and-parse (the baseline): every result line parsed with orjson, nothing else;
* report: ``write_day_report`` as ``report --no-excerpts`` runs it: one pass over the results, the
  trend from the earlier days, charts, page and report.json;
* report + excerpts: also one pass over the day's raw records for the listed items (the default);
* report + excerpts + second judge: also the agreement with the vLLM results of the same day (a pass
  over each file, and one more over the first for the reasoning of the largest disagreements);
* what collect writes: all of that, plus the agreement with people's labels of the day (2,000 labels,
  a quarter by two people, against both judges; a month of earlier days' agreement for the trend) and
  the review sample (its strata chosen in the same pass, the texts in the excerpts' pass, the second
  judge's answers in one more pre-filtered pass), with every default of the collect job.

Printed: wall seconds, CPU seconds (robust to other load on a shared machine), lines/s and peak RSS of
each phase; targets: the full report <= 30 s and <= 512 MiB (the Cloud Run job's memory). The data is
generated in a child process too, so no phase inherits its memory (Linux keeps ru_maxrss across exec).
Reading from GCS instead of local files adds the download (bench/batch_input.py measures that path).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

DAY = dt.date(2026, 11, 29)
LABELS = 2000
TARGET_SECONDS = 30.0
TARGET_RSS_MIB = 512.0


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(root: str, records: int, queue: Any) -> None:
    from tools.report_sample import write_sample_tree

    started = time.perf_counter()
    write_sample_tree(Path(root), DAY, records=records, days=14, history_records=2000, labels=LABELS)
    size = sum(p.stat().st_size for p in Path(root).rglob("*.jsonl")) / 2**20
    queue.put({"seconds": time.perf_counter() - started, "mib": size})


def _baseline(root: str, queue: Any) -> None:
    import orjson

    cpu = time.process_time()
    started = time.perf_counter()
    n = 0
    with (Path(root) / "judgements" / DAY.isoformat() / "results.jsonl").open("rb") as fh:
        for line in fh:
            orjson.loads(line)
            n += 1
    queue.put(
        {
            "seconds": time.perf_counter() - started,
            "cpu": time.process_time() - cpu,
            "lines": n,
            "rss": _peak_rss_mib(),
        }
    )


def _report(root: str, excerpts: bool, compare: bool, collect: bool, queue: Any) -> None:
    # Timed from before the imports: the command pays for loading matplotlib too.
    cpu = time.process_time()
    started = time.perf_counter()
    from app.batch_job.report_cmd import _local_records
    from app.report.daily import write_day_report
    from app.report.store import LocalStore
    from tools.report_sample import production_extras

    written = write_day_report(
        LocalStore(Path(root)),
        DAY,
        compare=LocalStore(Path(root) / "vllm") if compare else None,
        records=_local_records(Path(root), DAY) if excerpts else None,
        **(production_extras() if collect else {}),
    )
    seconds = time.perf_counter() - started
    report = written.report
    queue.put(
        {
            "seconds": seconds,
            "cpu": time.process_time() - cpu,
            "lines": report["totals"]["records"],
            "rss": _peak_rss_mib(),
            "page_kib": Path(written.page).stat().st_size / 1024,
            "trend_days": sum(p["records"] is not None for p in report["trend"]),
            "paired": (report["agreement"] or {}).get("counts", {}).get("paired"),
            "labels": (report.get("people") or {}).get("labels"),
            "tasks": (report.get("review") or {}).get("tasks"),
        }
    )


def _run(target: Any, *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this directory and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        if not (root / "judgements" / DAY.isoformat() / "results.jsonl").is_file():
            made = _run(_generate, str(root), args.records)
            mib, seconds = made["mib"], made["seconds"]
            print(f"generated {args.records:,} records ({mib:,.0f} MiB of JSONL) in {seconds:.0f} s")
        phases: list[tuple[str, Any, tuple[Any, ...]]] = [
            ("read-and-parse (baseline)", _baseline, ()),
            ("report (--no-excerpts)", _report, (False, False, False)),
            ("report + excerpts (default)", _report, (True, False, False)),
            ("report + excerpts + 2nd judge", _report, (True, True, False)),
            ("+ labels + review (collect's)", _report, (True, True, True)),
        ]
        for label, target, extra in phases:
            r = _run(target, str(root), *extra)
            line = (
                f"{label:<31} {r['seconds']:6.1f} s (CPU {r['cpu']:5.1f} s)  "
                f"{r['lines'] / r['seconds']:>9,.0f} lines/s  peak RSS {r['rss']:4.0f} MiB"
            )
            if target is _report:
                ok = r["seconds"] <= TARGET_SECONDS and r["rss"] <= TARGET_RSS_MIB
                line += (
                    f"  [{r['trend_days']} days in the trend, page {r['page_kib']:.0f} KiB"
                    + (f", {r['paired']:,} pairs" if r["paired"] else "")
                    + (f", {r['labels']:,} labels, {r['tasks']} review tasks" if r["labels"] else "")
                    + f"]  <= {TARGET_SECONDS:.0f} s, <= {TARGET_RSS_MIB:.0f} MiB: {'OK' if ok else 'MISS'}"
                )
            print(line, flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
