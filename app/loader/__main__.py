"""``python -m app.loader``: load the topic up to the end offsets seen at start.

Exit codes (``app.loader.exits``, also in ``--help``): 0 done (completed, stopped cleanly by
SIGTERM/SIGINT, or superseded by a newer task with the same group instance id), 1 the run failed,
2 invalid settings or missing Google credentials, 3 no partition was assigned while the group had
messages left that nobody loaded.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence

from app.credentials import EXIT_NO_CREDENTIALS, MISSING_CREDENTIALS, is_missing_credentials
from app.loader import logs
from app.loader.crash import CrashPoints
from app.loader.exits import ExitCode
from app.loader.runner import Loader
from app.loader.settings import SettingsError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load_settings(argv)
        crash = CrashPoints.from_env()
    except (SettingsError, ValueError) as exc:
        logs.setup().error(str(exc))
        return ExitCode.USAGE
    logger = logs.setup(settings.loader_log_level)
    # The imports leave ~57k long-lived objects (pydantic, google-cloud, ...) that the cyclic GC would
    # re-scan on every full collection, which the per-message dicts trigger: freezing them saves a few
    # percent of the per-message cost (measured in-process, 6.2 -> 6.0 us parse + buffer).
    gc.freeze()
    try:
        return Loader(settings, logger=logger, crash=crash).run().exit_code
    except Exception as exc:
        if not is_missing_credentials(exc):
            raise
        logger.error(MISSING_CREDENTIALS)
        return EXIT_NO_CREDENTIALS


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skips waiting for upload threads still running after a SIGTERM: what they write is not
    # committed, and the next run finds it through the chunk manifests.
    os._exit(code)
