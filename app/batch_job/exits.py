"""The batch job's exit codes, and their text in ``--help``: one module below every CLI module
(cli.py parses and dispatches, commands.py and report_cmd.py run the subcommands and return these).

A missing Google credential exits ``app.credentials.EXIT_NO_CREDENTIALS`` (the usage/configuration
code, 2); invalid settings raise ``app.batch_job.settings.SettingsError``, which cli.py turns into 2."""

from __future__ import annotations

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_PREDICTIONS = 3

HELP = (
    "Exit codes: 0 done; 1 failed at run time (a job failed, Vertex AI unavailable, a report could not be "
    "written, check: no usable answer); 2 usage or configuration error (also: the canary refused, "
    "naming what to change); 3 collect: the day's jobs are still running or left no predictions."
)
REPORT_HELP = (
    "Exit codes: 0 written; 1 a day has no results or the report could not be written; "
    "2 usage or configuration error."
)
