"""``make mutants``: a mutation run (cosmic-ray) over the critical paths, outside ``make test``.

A test suite proves a guarantee only if breaking the code behind it fails a test. A mutation run breaks
it in every small way a tool can think of (``<`` for ``<=``, ``and`` for ``or``, a ``not`` dropped, a
loop that never runs, a decorator removed, ...), one change at a time, runs the tests that should notice,
and lists the changes no test noticed: the *surviving mutants*. Each is either a missing test, or a
change that makes no difference (an *equivalent* mutant), which docs/testing.md says of each.

Each target is one module, the functions in it that carry a guarantee, and the fast subset of tests that
should catch a change to them. For each, in a copy of the tree under ``build/mutants/<target>/``
(cosmic-ray edits the file in place while it tests a mutant, so the work tree is never touched),
cosmic-ray lists every mutation of the functions' lines (the operators in ``SKIPPED_OPERATORS`` left
out), runs the target's tests once per mutant (``-x``: the first failure kills it; a time-out, four
times the unmutated run, kills it too) and records the outcome. The report, ``build/mutants/report.md``
(and stdout), gives each target's score and every survivor as a diff.

    python -m tools.mutants                  # every target, two at a time
    python -m tools.mutants served-link      # one (or a few) by name
    python -m tools.mutants --list           # the targets and how many mutants each has
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "build" / "mutants"
BIN = Path(sys.executable).parent

# Mutations that say little about a test suite and cost a test run each: arithmetic into operators the
# code never means (``+`` into ``**`` or ``<<``), identity for equality and back (``==`` into ``is``: on
# the values here, the same test outcome or a TypeError), ``+x``/``~x``, and the two operators that put
# arbitrary names or values into the code.
SKIPPED_OPERATORS = (
    r"core/ReplaceBinaryOperator_(?!(Add_Sub|Sub_Add|Mul_Div|Div_Mul|FloorDiv_Div|Mod_Div|BitOr_BitAnd|BitAnd_BitOr)$)",
    r"core/ReplaceComparisonOperator_(Eq|NotEq|Lt|LtE|Gt|GtE)_(Is|IsNot)$",
    r"core/ReplaceComparisonOperator_(Is|IsNot)_(Eq|NotEq|Lt|LtE|Gt|GtE)$",
    r"core/ReplaceUnaryOperator_\w+_(UAdd|Invert)$",
    r"core/ReplaceUnaryOperator_(UAdd|Invert)_\w+$",
    r"core/VariableReplacer",
    r"core/VariableInserter",
)


@dataclass(frozen=True)
class Target:
    name: str
    module: str
    functions: tuple[str, ...]  # "function", "Class.method", or "Class" (the whole class), in the module
    tests: tuple[str, ...]  # pytest paths or node ids: the fast subset that should kill the mutants
    why: str = ""

    def line_ranges(self, root: Path = REPO) -> list[tuple[int, int]]:
        """The lines of each function or class, decorators included (RemoveDecorator mutates those)."""
        tree = ast.parse((root / self.module).read_text())
        found: dict[str, tuple[int, int]] = {}

        def span(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> tuple[int, int]:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            return first, node.end_lineno or node.lineno

        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found[node.name] = span(node)
            elif isinstance(node, ast.ClassDef):
                found[node.name] = span(node)
                for child in node.body:
                    if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                        found[f"{node.name}.{child.name}"] = span(child)
        missing = [f for f in self.functions if f not in found]
        if missing:
            raise SystemExit(
                f"{self.name}: {self.module} has no {', '.join(missing)} (update tools/mutants.py)"
            )
        return sorted(found[f] for f in self.functions)


TARGETS = (
    Target(
        "served-link",
        "app/model_loader/switch.py",
        ("StoreSwitch.served_commit", "StoreSwitch._switch"),
        (
            "tests/app/model_loader/test_served_link.py",
            "tests/app/model_loader/test_download.py",
            "tests/app/model_loader/test_maintenance.py",
            "tests/app/model_loader/test_processes.py::test_update_switches_revisions_without_ever_serving_a_partial_tree",
        ),
        "vLLM reads the served path at any moment: a complete tree, the old one or the new one",
    ),
    Target(
        "tree-check",
        "app/model_loader/verify.py",
        ("check_tree", "verify_against_hub"),
        (
            "tests/app/model_loader/test_served_link.py",
            "tests/app/model_loader/test_download.py",
            "tests/app/model_loader/test_maintenance.py",
        ),
        "nothing is served or kept that does not match the hub, file by file",
    ),
    Target(
        "collect-join",
        "app/batch_job/collect.py",
        (
            "PartIndex.__init__",
            "PartIndex.resolve",
            "output_files",
            "unanswered",
            "iter_predictions",
            "collect_day",
        ),
        ("tests/app/batch_job/test_collect.py",),
        "every record gets exactly one result line, joined to its own prediction, part by part",
    ),
    Target(
        "collect-write",
        "app/batch_job/judgements.py",
        (
            "result_line",
            "SummaryBuilder.add",
            "SummaryBuilder.to_dict",
            "JudgementsWriter.add",
            "JudgementsWriter.close",
        ),
        ("tests/app/batch_job/test_collect.py", "tests/app/batch_job/test_summary.py"),
        "the result lines and the summary's counts are what collect joined",
    ),
    Target(
        "loader-commits",
        "app/loader/commits.py",
        (
            "LoaderCommits._harvest",
            "LoaderCommits._settle_orphan",
            "LoaderCommits._commit",
            "LoaderCommits._drain",
        ),
        ("tests/app/loader/test_commits.py", "tests/app/loader/test_runner.py"),
        "an offset is committed only behind durable objects",
    ),
    Target(
        "config-base",
        "components/config/base.py",
        ("ConfigModel", "pattern", "Problems", "_key", "format_validation_error"),
        ("tests/components/aws/test_config.py", "tests/components/gcp/test_config.py"),
        "a stack file with a typo or a bad value is refused, naming the key",
    ),
    Target(
        "config-values",
        "components/config/k8s_values.py",
        (
            "_dns_label",
            "_service_name",
            "_dns_subdomain",
            "label_key_problem",
            "label_value_problem",
            "_labels",
        ),
        ("tests/components/aws/test_config.py",),
        "names and labels the cluster would refuse are refused before deploying",
    ),
    Target(
        "config-jobs",
        "components/config/gcp_jobs.py",
        ("_image_ref", "JobResources._check", "JobConfig._no_test_hooks"),
        ("tests/components/gcp/test_config.py",),
        "a Cloud Run job's image, size and environment are ones Cloud Run accepts and a deployment may have",
    ),
    Target(
        "config-loader-job",
        "components/config/gcp_loader_job.py",
        ("VpcEgressConfig._check", "LoaderJobConfig._check", "loader_overlap_problem"),
        ("tests/components/gcp/test_config.py",),
        "two loader executions never overlap; extraEnv never overrides the stack or fails the loader",
    ),
    Target(
        "config-schedules",
        "components/config/gcp_schedules.py",
        ("_cron", "_time_zone", "RetryConfig._check"),
        ("tests/components/gcp/test_config.py",),
        "schedules Cloud Scheduler accepts, in a time zone that exists",
    ),
)


@dataclass
class Result:
    target: Target
    baseline_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    survivors: list[dict] = field(default_factory=list)
    error: str = ""

    @property
    def tested(self) -> int:
        return sum(self.counts.get(k, 0) for k in ("killed", "survived"))

    @property
    def score(self) -> float:
        return self.counts.get("killed", 0) / self.tested if self.tested else 0.0


def _copy_tree(dest: Path) -> None:
    """The work tree as git sees it (tracked and new files, nothing ignored), plus the CRDs the plan
    tests read: cosmic-ray edits files in place, so it works on this copy."""
    if dest.exists():
        shutil.rmtree(dest)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        source = REPO / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    crds = REPO / "tools" / "crds" / "node_modules"
    if crds.is_dir():
        (dest / "tools" / "crds" / "node_modules").symlink_to(crds)


def _test_command(target: Target) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-n",
        "0",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        *target.tests,
    ]


def _toml_list(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def _config(target: Target, timeout: float) -> str:
    ranges = [f"{a}-{b}" for a, b in target.line_ranges()]
    return "\n".join(
        [
            "[cosmic-ray]",
            f"module-path = {json.dumps(target.module)}",
            f"timeout = {timeout:.0f}",
            "excluded-modules = []",
            f"test-command = {json.dumps(shlex.join(_test_command(target)))}",
            "",
            "[cosmic-ray.distributor]",
            'name = "local"',
            "",
            "[cosmic-ray.filters.operators-filter]",
            f"exclude-operators = {_toml_list(SKIPPED_OPERATORS)}",
            "",
            "[cosmic-ray.filters.line-filter.lines]",
            f"{json.dumps(target.module)} = {_toml_list(ranges)}",
            "",
        ]
    )


def _run(args: list[str], cwd: Path, log: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    with log.open("a") as fh:
        fh.write(f"$ {shlex.join(args)}\n{done.stdout}{done.stderr}\n")
    return done


def _outcomes(session: Path, cwd: Path) -> tuple[dict[str, int], list[dict]]:
    dumped = subprocess.run(
        [str(BIN / "cosmic-ray"), "dump", str(session)], cwd=cwd, capture_output=True, text=True, check=True
    )
    counts: dict[str, int] = {}
    survivors = []
    for line in dumped.stdout.splitlines():
        item, result = json.loads(line)
        if result is None:
            outcome = "not run"
        elif result["worker_outcome"] == "skipped":
            outcome = "skipped"
        elif result["worker_outcome"] != "normal":
            outcome = result["worker_outcome"]  # exception, no-test, abnormal
        else:
            outcome = {"killed": "killed", "survived": "survived"}.get(result["test_outcome"], "incompetent")
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == "survived" and result is not None:
            (mutation,) = item["mutations"]
            survivors.append(
                {
                    "line": mutation["start_pos"][0],
                    "operator": mutation["operator_name"],
                    "diff": "\n".join(
                        d for d in (result.get("diff") or "").splitlines() if not d.startswith(("---", "+++"))
                    ),
                }
            )
    survivors.sort(key=lambda s: (s["line"], s["operator"]))
    return counts, survivors


def run_target(target: Target) -> Result:
    result = Result(target)
    work = OUT / target.name
    tree = work / "tree"
    _copy_tree(tree)
    log = work / "cosmic-ray.log"
    log.write_text("")
    started = time.monotonic()
    baseline = _run(_test_command(target), tree, log)
    result.baseline_s = time.monotonic() - started
    if baseline.returncode != 0:
        result.error = f"the tests fail without any mutation (see {log.relative_to(REPO)})"
        return result
    config = work / "config.toml"
    config.write_text(_config(target, timeout=max(60.0, 4 * result.baseline_s)))
    session = work / "session.sqlite"
    session.unlink(missing_ok=True)
    steps = [
        [str(BIN / "cosmic-ray"), "init", str(config), str(session)],
        [str(BIN / "cr-filter-operators"), str(session), str(config)],
        [str(BIN / "cr-filter-lines"), "--config", str(config), str(session)],
        [str(BIN / "cosmic-ray"), "exec", str(config), str(session)],
    ]
    for step in steps:
        done = _run(step, tree, log)
        if done.returncode != 0:
            result.error = f"{Path(step[0]).name} failed (see {log.relative_to(REPO)})"
            return result
    result.counts, result.survivors = _outcomes(session, tree)
    shutil.rmtree(tree)  # the sessions and logs stay; the copy is 4 MB per target
    return result


def count_target(target: Target) -> int:
    """How many mutants a run of ``target`` tests (init and filters only, on the work tree's file)."""
    work = OUT / target.name
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.toml"
    config.write_text(_config(target, timeout=60))
    session = work / "count.sqlite"
    session.unlink(missing_ok=True)
    log = work / "count.log"
    log.write_text("")
    for step in (
        [str(BIN / "cosmic-ray"), "init", str(config), str(session)],
        [str(BIN / "cr-filter-operators"), str(session), str(config)],
        [str(BIN / "cr-filter-lines"), "--config", str(config), str(session)],
    ):
        _run(step, REPO, log)
    counts, _ = _outcomes(session, REPO)
    session.unlink(missing_ok=True)
    return counts.get("not run", 0)


def report(results: list[Result], seconds: float) -> str:
    lines = [
        "# Mutation run",
        "",
        f"`make mutants` (tools/mutants.py, cosmic-ray), {time.strftime('%Y-%m-%d')}, {seconds / 60:.0f} min",
        "",
        "| target | module | functions | killed | survived | score | tests (one run) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        t = r.target
        lines.append(
            f"| {t.name} | `{t.module}` | {', '.join(t.functions)} | {r.counts.get('killed', 0)} | "
            f"{r.counts.get('survived', 0)} | {r.score:.0%} | {r.baseline_s:.0f} s |"
            + (f" **{r.error}**" if r.error else "")
        )
    killed = sum(r.counts.get("killed", 0) for r in results)
    tested = sum(r.tested for r in results)
    lines += [
        "",
        f"Overall: {killed} of {tested} mutants killed ({killed / tested if tested else 0:.0%}).",
        "",
    ]
    for r in results:
        if not r.survivors:
            continue
        lines += [f"## Survivors: {r.target.name} (`{r.target.module}`)", ""]
        for s in r.survivors:
            lines += [f"- line {s['line']}, {s['operator']}:", "", "```diff", s["diff"], "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.mutants",
        description="A mutation run (cosmic-ray) over the critical paths (docs/testing.md).",
    )
    parser.add_argument(
        "targets", nargs="*", help=f"targets to run (default all): {[t.name for t in TARGETS]}"
    )
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTANT_JOBS", "2")))
    parser.add_argument("--list", action="store_true", help="list the targets and their mutant counts")
    args = parser.parse_args(argv)
    by_name = {t.name: t for t in TARGETS}
    unknown = [n for n in args.targets if n not in by_name]
    if unknown:
        parser.error(f"unknown target(s) {unknown}; known: {sorted(by_name)}")
    chosen = [by_name[n] for n in args.targets] or list(TARGETS)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.list:
        for target in chosen:
            functions = ", ".join(target.functions)
            print(f"{target.name:18} {count_target(target):4} mutants  {target.module}: {functions}")
        return 0
    started = time.monotonic()
    with cf.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(run_target, chosen))
    text = report(results, time.monotonic() - started)
    (OUT / "report.md").write_text(text)
    print(text)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
