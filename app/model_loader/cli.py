"""`python -m app.model_loader COMMAND`: argument parsing, settings, and printing. The work is in
store.py (disk), hub.py (network) and service.py (serve / wait loops)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, ValidationError

from app.model_loader import __version__, layout, xet
from app.model_loader.errors import (
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    LoaderError,
    ModelInvalidError,
    UsageError,
)
from app.model_loader.logs import EventLogger, human_bytes, setup_logging
from app.model_loader.remote import Hub
from app.model_loader.settings import LoaderSettings
from app.model_loader.store import CleanupReport, KeepSpec, ModelStore, check_tree

log = EventLogger("model_loader.cli")

EPILOG = """\
exit codes:
  0  success          1  internal error      2  bad usage/configuration
  3  model absent, incomplete or invalid      4  not enough free disk space
  5  hub refused (repo/revision not found, token)  6  hub unreachable  7  timeout

Every flag has an environment variable (MODELS_DIR, MODEL_REPO_ID, MODEL_REVISION, HF_TOKEN, HF_ENDPOINT,
...); flags win. See docs/model-loader.md.
"""


# ---- argument parsing ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--models-dir", type=Path, help="models root on the node disk (MODELS_DIR, default /models)"
    )
    common.add_argument(
        "--log-format",
        choices=["auto", "json", "text"],
        help="LOG_FORMAT (default auto: text in a terminal, JSON otherwise)",
    )
    common.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="LOG_LEVEL")

    model = argparse.ArgumentParser(add_help=False)
    model.add_argument(
        "--repo-id", help="Hugging Face repo id, e.g. Qwen/Qwen2.5-7B-Instruct-AWQ (MODEL_REPO_ID)"
    )
    model.add_argument("--revision", help="branch, tag or commit sha (MODEL_REVISION, default main)")

    parser = argparse.ArgumentParser(
        prog="python -m app.model_loader",
        description="Puts Hugging Face model weights onto this node's disk: verified, atomically, once.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"model-loader {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=parents,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add("download", "download a revision (verified, atomic) and serve it", [common, model])
    p.add_argument("--no-switch", action="store_true", help="stage the revision beside the served one only")
    p.add_argument("--force", action="store_true", help="download again even if the revision is present")
    p.add_argument("--deep", action="store_true", help="re-hash a present revision instead of checking sizes")
    p.add_argument(
        "--attempts", type=int, help="tries for transient hub errors (DOWNLOAD_ATTEMPTS, default 3)"
    )

    p = add("serve", "DaemonSet mode: download or verify, then answer /healthz and /readyz", [common, model])
    p.add_argument("--port", type=int, help="probe port (MODEL_LOADER_PORT, default 8080; 0 = any free port)")
    p.add_argument("--bind", help="probe address (MODEL_LOADER_BIND, default 0.0.0.0)")

    p = add(
        "wait", "init-container mode: wait until the model is complete (never downloads)", [common, model]
    )
    p.add_argument(
        "--timeout", type=float, help="seconds before giving up (WAIT_TIMEOUT_SECONDS, default 3600)"
    )
    p.add_argument("--poll-interval", type=float, help="seconds between checks (POLL_INTERVAL_SECONDS)")

    p = add("list", "list models and revisions on this node", [common])
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--deep", action="store_true", help="re-hash every file (slow) instead of checking sizes")

    p = add("verify", "check served models (or --all revisions) against their manifests", [common, model])
    p.add_argument(
        "--deep", action="store_true", help="re-hash every file (sha256) instead of checking sizes"
    )
    p.add_argument("--all", action="store_true", help="every revision in the store, not only the served ones")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add(
        "cleanup", "remove revisions that are neither served nor kept, and stale partial downloads", [common]
    )
    p.add_argument(
        "--keep", action="append", default=[], metavar="REPO[@REV]", help="also keep this repo (or revision)"
    )
    p.add_argument("--dry-run", action="store_true", help="only show what would be removed")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add(
        "mirror",
        "copy a revision from the hub to an S3 mirror (files, then the manifest, then the ref)",
        [common, model],
    )
    p.add_argument("--to", required=True, metavar="s3://BUCKET/PREFIX", help="the mirror (model.source)")

    p = add("update", "download a new revision beside the served one and switch atomically", [common, model])
    p.add_argument("--prune", action="store_true", help="remove the previously served revision afterwards")
    return parser


_FLAG_TO_FIELD = {
    "models_dir": "models_dir",
    "repo_id": "repo_id",
    "revision": "revision",
    "log_format": "log_format",
    "log_level": "log_level",
    "port": "port",
    "bind": "bind",
    "timeout": "wait_timeout",
    "poll_interval": "poll_interval",
    "attempts": "download_attempts",
}


def load_settings(args: argparse.Namespace) -> LoaderSettings:
    overrides = {
        field: getattr(args, flag)
        for flag, field in _FLAG_TO_FIELD.items()
        if getattr(args, flag, None) is not None
    }
    try:
        return LoaderSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "settings"
            flag = next((f"--{k.replace('_', '-')}" for k, v in _FLAG_TO_FIELD.items() if v == name), None)
            where = f"{flag} / " if flag else ""
            env = (
                LoaderSettings.model_fields[name].validation_alias
                if name in LoaderSettings.model_fields
                else None
            )
            env_name = env.choices[0] if isinstance(env, AliasChoices) else name
            problems.append(f"{where}{env_name}: {error['msg']}")
        raise UsageError("invalid settings: " + "; ".join(problems)) from None


def configure_environment(settings: LoaderSettings) -> None:
    """Environment huggingface_hub and hf-xet read at import: must run before hub.py is imported."""
    os.environ.setdefault("HF_HOME", str(layout.hf_home(settings.models_dir)))
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    buffer = xet.buffer_bytes(settings.xet_buffer_bytes, xet.memory_limit())
    for name, value in xet.xet_environment(buffer=buffer, high_performance=settings.fast_transfer).items():
        os.environ.setdefault(name, value)
    if settings.hf_endpoint:
        os.environ["HF_ENDPOINT"] = settings.hf_endpoint


def make_store(settings: LoaderSettings) -> ModelStore:
    return ModelStore(
        settings.models_dir,
        hash_workers=settings.hash_workers,
        lock_timeout=settings.lock_timeout,
        progress_interval=settings.progress_interval,
        free_space_margin=settings.free_space_margin_bytes,
    )


def make_hf_hub(settings: LoaderSettings) -> Hub:
    """The hub itself (huggingface_hub is imported here, after the environment it reads at import)."""
    configure_environment(settings)
    from app.model_loader.hub import HfHub, quiet_library

    quiet_library()
    return HfHub(
        endpoint=settings.hf_endpoint,
        token=settings.token,
        max_workers=settings.download_workers,
        timeout=settings.hub_timeout,
    )


def make_hub(settings: LoaderSettings) -> Hub:
    """The configured source (``MODEL_SOURCE``): the hub, or the S3 mirror with the hub as fallback."""
    location = settings.s3_location
    if location is None:
        return make_hf_hub(settings)
    from app.model_loader.s3 import S3Mirror
    from app.model_loader.sources import FallbackSource

    mirror = S3Mirror(location, max_concurrency=settings.s3_concurrency)
    if settings.source_fallback == "none":
        return mirror
    return FallbackSource(mirror, lambda: make_hf_hub(settings))


# ---- commands ----------------------------------------------------------------------------------------
def _create_models_dir(settings: LoaderSettings) -> None:
    """A models directory that cannot be created is a setup mistake (a wrong path or mount), not a bug."""
    try:
        settings.models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--models-dir / MODELS_DIR {settings.models_dir}: cannot create it ({exc.strerror}); "
            "give a writable directory (in the DaemonSet: the hostPath mount)"
        ) from None


def cmd_download(args: argparse.Namespace, settings: LoaderSettings) -> int:
    from app.model_loader.service import ensure_with_retries

    store = make_store(settings)
    _create_models_dir(settings)
    result = ensure_with_retries(
        store,
        make_hub(settings),
        settings,
        attempts=settings.download_attempts,
        switch=not args.no_switch,
        force=args.force,
        deep_check=args.deep,
    )
    manifest = result.manifest
    _out(
        f"{manifest.repo_id}@{manifest.commit} complete ({len(manifest.files)} files, "
        f"{human_bytes(manifest.total_size)})"
        + (
            ""
            if args.no_switch
            else f", served at {layout.served_model_path(str(store.root), manifest.repo_id)}"
        )
    )
    return EXIT_OK


def cmd_serve(_args: argparse.Namespace, settings: LoaderSettings) -> int:
    from app.model_loader.service import serve

    _create_models_dir(settings)
    code = serve(settings, make_store(settings), lambda: make_hub(settings))
    # A download still running in huggingface_hub's (non-daemon) pool threads would keep the interpreter
    # alive past SIGTERM until the pod is killed; leave now: the kernel drops the flock and the next
    # run resumes the temp tree.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(code)


def cmd_wait(_args: argparse.Namespace, settings: LoaderSettings) -> int:
    from app.model_loader.service import wait

    return wait(
        make_store(settings),
        settings.require_repo_id(),
        settings.revision,
        timeout=settings.wait_timeout,
        poll_interval=settings.poll_interval,
        progress_interval=settings.progress_interval,
    )


def cmd_update(args: argparse.Namespace, settings: LoaderSettings) -> int:
    from app.model_loader.service import ensure_with_retries

    if not settings.revision:
        raise UsageError("update needs the new revision: pass --revision (branch, tag or commit)")
    store = make_store(settings)
    repo_id = settings.require_repo_id()
    result = ensure_with_retries(
        store, make_hub(settings), settings, attempts=settings.download_attempts, allow_offline=False
    )
    new = result.manifest.commit
    previous = result.previous_commit
    if previous == new:
        _out(f"{repo_id} already serves {new} ({settings.revision}); nothing switched")
        return EXIT_OK
    _out(f"{repo_id}: switched {previous or '(nothing)'} -> {new} ({settings.revision})")
    if args.prune and previous:
        with store.model_lock(layout.model_dir_name(repo_id), f"prune {previous[:12]}"):
            freed = store.remove_revision(repo_id, previous)
        _out(f"removed the previous revision {previous} ({human_bytes(freed)} freed)")
    return EXIT_OK


def cmd_mirror(args: argparse.Namespace, settings: LoaderSettings) -> int:
    """Download (verified, into the models dir, not served) from the hub, then publish to S3."""
    from app.model_loader.mirror_layout import S3Location
    from app.model_loader.service import ensure_with_retries

    try:
        location = S3Location.parse(args.to)
    except ValueError as exc:
        raise UsageError(f"--to: {exc}") from None
    store = make_store(settings)
    _create_models_dir(settings)
    result = ensure_with_retries(
        store, make_hf_hub(settings), settings, attempts=settings.download_attempts, switch=False
    )
    manifest = result.manifest
    from app.model_loader.s3 import make_client, mapped_s3_errors, publish

    tree = layout.revision_dir(store.root, manifest.repo_id, manifest.commit)
    with mapped_s3_errors(location.url, missing="the bucket is missing"):
        client = make_client(settings.s3_concurrency)
    sent = publish(
        client, location, tree, manifest, ref=settings.target_revision, concurrency=settings.s3_concurrency
    )
    ref = settings.target_revision
    _out(
        f"mirrored {manifest.repo_id}@{manifest.commit} ({len(manifest.files)} files,"
        f" {human_bytes(manifest.total_size)}; {human_bytes(sent)} uploaded) to {location.url}"
        + ("" if layout.is_commit(ref) else f"; refs/{ref} -> {manifest.commit}")
    )
    return EXIT_OK


def cmd_list(args: argparse.Namespace, settings: LoaderSettings) -> int:
    items = make_store(settings).inventory(deep=args.deep)
    if args.json:
        _out(json.dumps(items, indent=2))
        return EXIT_OK
    if not items:
        _out(f"no models under {settings.models_dir}")
        return EXIT_OK
    rows = [("MODEL", "COMMIT", "REFS", "STATUS", "SERVED", "SIZE")]
    for item in items:
        size = human_bytes(item["size_bytes"])
        if item.get("total_bytes"):
            size += f" of {human_bytes(item['total_bytes'])}"
        rows.append(
            (
                item["model"],
                (item.get("commit") or "-")[:12],
                ",".join(item.get("refs") or []) or "-",
                item["status"] + (f" (pid {item['pid']})" if item["kind"] == "partial" else ""),
                "yes" if item["served"] else "-",
                size,
            )
        )
    _table(rows)
    for item in items:
        for problem in item.get("problems") or []:
            _out(f"  {item['model']}@{item['commit'][:12]}: {problem}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, settings: LoaderSettings) -> int:
    store = make_store(settings)
    targets: list[tuple[str, Path, str]] = []  # (label, tree, commit)
    if settings.repo_id:
        dir_name = layout.model_dir_name(settings.repo_id)
        commit = _local_commit(store, settings.repo_id, settings.revision)
        if commit is None:
            what = f"revision {settings.revision}" if settings.revision else "served revision"
            raise ModelInvalidError(f"{settings.repo_id} has no {what} under {store.root}")
        targets.append((settings.repo_id, layout.revision_dir(store.root, settings.repo_id, commit), commit))
    else:
        for dir_name in store.model_dir_names():
            served = store.served_commit(dir_name)
            for tree in store.revisions(dir_name):
                if args.all or tree.name == served:
                    targets.append((dir_name, tree, tree.name))
    results = []
    for label, tree, commit in targets:
        checked = check_tree(tree, commit=commit, deep=args.deep, workers=settings.hash_workers)
        name = checked.manifest.repo_id if checked.manifest else label
        results.append(
            {
                "model": name,
                "commit": commit,
                "ok": checked.ok,
                "checked": "sha256" if args.deep else "sizes",
                "files": len(checked.manifest.files) if checked.manifest else None,
                "size_bytes": checked.manifest.total_size if checked.manifest else None,
                "problems": checked.problems,
                "path": str(tree),
            }
        )
    if args.json:
        _out(json.dumps(results, indent=2))
    elif not results:
        _out(f"no served models under {store.root}")
    for result in [] if args.json else results:
        if result["ok"]:
            _out(
                f"OK    {result['model']}@{result['commit'][:12]}  {result['files']} files, "
                f"{human_bytes(result['size_bytes'])} ({result['checked']} checked)"
            )
        else:
            _out(f"FAIL  {result['model']}@{result['commit'][:12]}")
            for problem in result["problems"]:
                _out(f"      {problem}")
    return EXIT_OK if all(r["ok"] for r in results) else EXIT_INVALID


def cmd_cleanup(args: argparse.Namespace, settings: LoaderSettings) -> int:
    try:
        keep = [KeepSpec.parse(text) for text in args.keep]
    except ValueError as exc:
        raise UsageError(f"--keep: {exc}") from None
    report = make_store(settings).cleanup(keep, dry_run=args.dry_run)
    if args.json:
        _out(json.dumps(_report_dict(report), indent=2))
        return EXIT_OK
    verb = "would remove" if report.dry_run else "removed"
    for item in report.removed:
        _out(f"{verb:<12}  {item.kind:<8}  {item.path}  {human_bytes(item.size)}  ({item.reason})")
    for item in report.kept:
        _out(f"{'kept':<12}  {item.kind:<8}  {item.path}  {human_bytes(item.size)}  ({item.reason})")
    for item in report.skipped:
        _out(f"{'skipped':<12}  {item.kind:<8}  {item.path}  ({item.reason})")
    _out(f"{verb} {len(report.removed)} item(s), {human_bytes(report.freed_bytes)}")
    return EXIT_OK


def _report_dict(report: CleanupReport) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "dry_run": report.dry_run,
        "freed_bytes": report.freed_bytes,
        "removed": [asdict(i) for i in report.removed],
        "kept": [asdict(i) for i in report.kept],
        "skipped": [asdict(i) for i in report.skipped],
    }


def _local_commit(store: ModelStore, repo_id: str, revision: str | None) -> str | None:
    """Resolve a revision against what is on this node (no network): served, full/short sha, or ref."""
    dir_name = layout.model_dir_name(repo_id)
    if revision is None:
        return store.served_commit(dir_name)
    commits = [tree.name for tree in store.revisions(dir_name)]
    if revision in commits:
        return revision
    ref = store.ref_commit(repo_id, revision)
    if ref in commits:
        return ref
    matches = [c for c in commits if len(revision) >= 7 and c.startswith(revision)]
    return matches[0] if len(matches) == 1 else None


COMMANDS = {
    "download": cmd_download,
    "serve": cmd_serve,
    "wait": cmd_wait,
    "list": cmd_list,
    "verify": cmd_verify,
    "cleanup": cmd_cleanup,
    "update": cmd_update,
    "mirror": cmd_mirror,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args)
    except UsageError as exc:
        setup_logging(args.log_format)
        log.error("settings.invalid", str(exc))
        return EXIT_USAGE
    setup_logging(settings.log_format, settings.log_level)
    try:
        return COMMANDS[args.command](args, settings)
    except LoaderError as exc:
        log.error(f"{args.command}.failed", str(exc), error=type(exc).__name__, exit_code=exc.exit_code)
        return exc.exit_code
    except ValueError as exc:  # e.g. an invalid repo id reaching layout functions
        log.error(f"{args.command}.failed", str(exc), error=type(exc).__name__, exit_code=EXIT_USAGE)
        return EXIT_USAGE
    except Exception as exc:
        log.error(f"{args.command}.crashed", f"internal error: {exc}", exc_info=True, exit_code=EXIT_INTERNAL)
        return EXIT_INTERNAL


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        _out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
