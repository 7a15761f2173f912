"""The judge CLI's exit codes and its usage error: one module below every CLI module (cli.py is the top:
it parses, registers the subcommands of compare_cli.py, eval_cli.py and calibrate_cli.py, and turns
``UsageError`` into ``EXIT_USAGE``).

Exit codes (all commands):
  0  success: every item judged ok / the server is healthy / the warm-up judgement succeeded / the
     comparison was made / every evaluator reached the pass rate
  1  completed with problems: some judgements failed or input lines were malformed (run), the server
     is unhealthy or unreachable (health), the server did not come up or the warm-up failed (warmup),
     unreadable lines or agreement below --min-kappa (compare), an evaluator below --min-pass-rate or a
     failed request (eval), an item not judged or the model-change gate failed (calibrate)
  2  usage or configuration error: bad arguments, invalid settings, invalid prompt file, unreadable input
  130 interrupted (Ctrl-C / SIGINT); the output is consistent and re-running the command resumes
"""

from __future__ import annotations

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

HELP = "Exit codes: 0 ok, 1 completed with problems, 2 usage/config error, 130 interrupted."


class UsageError(Exception):
    pass
