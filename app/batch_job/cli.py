"""python -m app.batch_job submit|status|cancel|collect|report|check|import-labels: flags override the
environment (BatchJobSettings).

Exit status: 0 done, 1 a job failed, Google Cloud refused a call or a report could not be written, 2 invalid
settings or input (also no Google credentials), 3 collect found no predictions yet."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app import logs
from app.batch_job.exits import EXIT_JOB_FAILED, EXIT_USAGE, HELP, REPORT_HELP
from app.batch_job.settings import BatchJobSettings, SettingsError
from app.credentials import EXIT_NO_CREDENTIALS, MISSING_CREDENTIALS, is_missing_credentials

MAX_RANGE_DAYS = 366


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project", dest="gcp_project", help="GCP project (env GCP_PROJECT)")
    common.add_argument(
        "--location",
        dest="gcp_location",
        help="Vertex AI location: global, us, eu or a region (env GCP_LOCATION)",
    )
    common.add_argument(
        "--input", dest="gcs_input_uri", help="input pattern, may hold {date} (env GCS_INPUT_URI)"
    )
    common.add_argument(
        "--output", dest="gcs_output_prefix", help="output root gs://... (env GCS_OUTPUT_PREFIX)"
    )
    common.add_argument("--prompt", dest="prompt_path", help="the .prompt.yml file (env PROMPT_PATH)")
    when = common.add_argument_group("day (default: yesterday, UTC)")
    when.add_argument("--date", type=_date, help="one day, YYYY-MM-DD")
    when.add_argument("--from", dest="date_from", type=_date, help="first day of a range (with --to)")
    when.add_argument("--to", dest="date_to", type=_date, help="last day of a range, inclusive")
    common.add_argument("-v", "--verbose", action="store_true")

    parser = argparse.ArgumentParser(
        prog="python -m app.batch_job",
        description=__doc__,
        epilog=HELP,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    submit = sub.add_parser("submit", parents=[common], help="build the day's input and start the judge")
    submit.add_argument("--force", action="store_true", help="judge the day again even if it has jobs")
    submit.add_argument("--dry-run", action="store_true", help="write the input and print the job request(s)")
    submit.add_argument(
        "--wait", action="store_true", help="poll until the job(s) end; non-zero if one failed"
    )
    _backend_arguments(submit)
    check = sub.add_parser(
        "check",
        parents=[common],
        help="send the canary alone: one request with the day's exact settings (the post-deploy smoke test)",
        description="One generateContent with the project, location, model and request settings the "
        "nightly submit would use (or, with --backend openai, one judgement through the self-hosted "
        "server with the prompt's schema); prints the answer's token counts, thoughtsTokenCount included. "
        + HELP,
    )
    _backend_arguments(check)

    sub.add_parser("status", parents=[common], help="show the state of the day's job(s)")
    sub.add_parser("cancel", parents=[common], help="cancel the day's queued or running job(s)")
    collect = sub.add_parser("collect", parents=[common], help="turn the day's predictions into judgements/")
    collect.add_argument("--force", action="store_true", help="replace results another backend wrote")
    collect.add_argument(
        "--lookback",
        type=int,
        metavar="DAYS",
        help="the last DAYS days up to yesterday (UTC), for a scheduled run: days never submitted and "
        "days whose jobs are still queued or running are left for a later run",
    )
    collect.add_argument(
        "--no-report", action="store_true", help="do not write reports/<date>/ after collecting a day"
    )
    _report_parser(sub, common)
    from app.batch_job import labels_cmd

    labels_cmd.add_parser(sub, common)
    return parser


def _backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=["vertex", "openai"], help="vertex (default) or a self-hosted server"
    )
    parser.add_argument("--base-url", dest="openai_base_url", help="OpenAI-compatible URL (backend openai)")
    parser.add_argument("--model", help="Vertex model id, or the served model name with --backend openai")


def _report_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    report = sub.add_parser(
        "report",
        parents=[common],
        help="write the day's report: reports/<date>/index.html and report.json",
        description="The day's judgement report from judgements/<date>/ under --output (a gs:// root or a "
        "local directory with the same layout), written to reports/<date>/; or, with --results, the "
        "report of loose files (e.g. the output of python -m app.judge run). " + REPORT_HELP,
    )
    report.add_argument(
        "--days", type=int, help="days in the trend, ending with the reported day (env REPORT_DAYS, 14)"
    )
    report.add_argument(
        "--lookback",
        type=int,
        metavar="DAYS",
        help="the last DAYS days up to yesterday; days without results are skipped",
    )
    report.add_argument(
        "--compare-output",
        help="output root of a second judge's results (gs://BUCKET/vllm or a directory): add their agreement "
        "(env REPORT_COMPARE_PREFIX)",
    )
    report.add_argument(
        "--no-excerpts", action="store_true", help="do not read the day's raw records for excerpts"
    )
    loose = report.add_argument_group("loose files instead of a day under --output")
    loose.add_argument("--results", type=Path, help="result lines (collect's or python -m app.judge run's)")
    loose.add_argument("--compare", type=Path, help="a second judge's result lines for the same records")
    loose.add_argument("--records", type=Path, help='the judged records ({"id", "prompt", "response"} lines)')
    loose.add_argument("--out", type=Path, help="directory for index.html and report.json")


def settings_from(
    args: argparse.Namespace, env_settings: Callable[..., BatchJobSettings]
) -> BatchJobSettings:
    overrides: dict[str, Any] = {}
    for name in ("gcp_project", "gcp_location", "gcs_input_uri", "gcs_output_prefix", "prompt_path"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    backend = getattr(args, "backend", None)
    if backend is not None:
        overrides["backend"] = backend
    if getattr(args, "openai_base_url", None):
        overrides["openai_base_url"] = args.openai_base_url
    model = getattr(args, "model", None)
    if model:
        overrides["openai_model" if backend == "openai" else "model_id"] = model
    return env_settings(**overrides)


def resolve_days(args: argparse.Namespace, today: dt.date) -> list[dt.date]:
    lookback = getattr(args, "lookback", None)
    if lookback is not None:
        if args.date or args.date_from or args.date_to:
            raise SettingsError("--lookback and --date/--from/--to exclude each other")
        if not 1 <= lookback <= MAX_RANGE_DAYS:
            raise SettingsError(f"--lookback {lookback}: give 1 to {MAX_RANGE_DAYS} days")
        return [today - dt.timedelta(days=n) for n in range(lookback, 0, -1)]
    if args.date and (args.date_from or args.date_to):
        raise SettingsError("--date and --from/--to exclude each other")
    if bool(args.date_from) != bool(args.date_to):
        raise SettingsError("--from and --to go together")
    if args.date_from:
        if args.date_from > args.date_to:
            raise SettingsError(f"--from {args.date_from} is after --to {args.date_to}")
        span = (args.date_to - args.date_from).days + 1
        if span > MAX_RANGE_DAYS:
            raise SettingsError(f"--from/--to covers {span} days; at most {MAX_RANGE_DAYS} per run")
        return [args.date_from + dt.timedelta(days=n) for n in range(span)]
    return [args.date or today - dt.timedelta(days=1)]


def main(
    argv: Sequence[str] | None = None,
    *,
    env_settings: Callable[..., BatchJobSettings] = BatchJobSettings,
    today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date(),
    context_factory: Callable[[BatchJobSettings], Any] | None = None,
) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(level=logging.DEBUG if args.verbose else logging.INFO)
    try:
        settings = settings_from(args, env_settings)
        run_date = today()
        days = resolve_days(args, run_date)
        if args.command == "report":
            from app.batch_job import report_cmd

            report_cmd.check_args(args)
            if report_cmd.is_local(args, settings):
                return report_cmd.run_local(settings, days, args)
        elif args.command == "import-labels":
            from app.batch_job import report_cmd

            if report_cmd.is_local(args, settings):
                return report_cmd.import_labels_local(settings, days, args)
        elif len(days) > 1 and not settings.input_is_dated:
            raise SettingsError("a --from/--to range needs an input pattern with {date} (GCS_INPUT_URI)")
        if context_factory is None:
            from app.batch_job.context import Context, make_storage_client

            ctx = Context(settings, make_storage_client(settings))
        else:
            ctx = context_factory(settings)
        from app.batch_job import commands

        return commands.run(args.command, ctx, days, args, today=run_date)
    except (SettingsError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        if is_missing_credentials(exc):
            print(f"error: {MISSING_CREDENTIALS}", file=sys.stderr)
            return EXIT_NO_CREDENTIALS
        if _is_google_api_error(exc):
            # A refused or failed call (403 without a role, 404 for a wrong bucket, 5xx): the service's
            # own message says which; a traceback would add nothing but noise.
            print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
            return EXIT_JOB_FAILED
        raise


def _is_google_api_error(exc: BaseException) -> bool:
    from google.api_core.exceptions import GoogleAPIError
    from google.genai.errors import APIError

    return isinstance(exc, GoogleAPIError | APIError)
