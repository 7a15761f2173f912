"""Errors of the model loader, each with the process exit code the CLI maps it to.

Exit codes (documented in docs/model-loader.md and `--help`):
    0  success (model complete and valid / command done)
    1  unexpected internal error (a bug: the traceback is logged)
    2  bad usage or configuration (flag, env var, repo id)
    3  model absent, incomplete or invalid (verify, wait's final state, a download that failed verification)
    4  not enough free disk space for the download
    5  the hub refused the request for good (repo or revision not found, token missing or not allowed)
    6  the hub could not be reached (network, timeouts, 5xx) after the retries
    7  timed out (wait, lock)
"""

from __future__ import annotations

import errno

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INVALID = 3
EXIT_NO_SPACE = 4
EXIT_HUB_REFUSED = 5
EXIT_HUB_UNREACHABLE = 6
EXIT_TIMEOUT = 7


class LoaderError(Exception):
    exit_code = EXIT_INTERNAL


class UsageError(LoaderError):
    exit_code = EXIT_USAGE


class ModelInvalidError(LoaderError):
    """A model tree is missing, incomplete, or does not match its expected sizes/hashes."""

    exit_code = EXIT_INVALID

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        detail = "; ".join(self.problems[:10])
        if len(self.problems) > 10:
            detail += f"; ... ({len(self.problems) - 10} more)"
        super().__init__(f"{message}: {detail}" if detail else message)


class InsufficientSpaceError(LoaderError):
    exit_code = EXIT_NO_SPACE


class HubRefusedError(LoaderError):
    """Permanent hub error: retrying will not help until the configuration changes."""

    exit_code = EXIT_HUB_REFUSED


class MirrorObjectUnavailableError(HubRefusedError):
    """The S3 mirror did not deliver an object its manifest lists: missing (404), or denied (403, what S3
    answers for a missing key to a reader that may not list it). The hub, where it is the fallback,
    delivers the revision instead; a delivered object of the wrong size or hash is not this."""

    def __init__(self, message: str, key: str) -> None:
        self.key = key
        super().__init__(message)


class HubUnreachableError(LoaderError):
    """Transient hub error (network, timeout, 5xx): worth retrying later."""

    exit_code = EXIT_HUB_UNREACHABLE


class LoaderTimeoutError(LoaderError):
    exit_code = EXIT_TIMEOUT


def os_error(exc: OSError, what: str) -> LoaderError:
    """A failed write or transfer: the disk full, the models directory not writable, or (anything else,
    e.g. huggingface_hub's "Consistency check failed" after a truncated transfer) worth retrying later."""
    if exc.errno == errno.ENOSPC:
        return InsufficientSpaceError(f"{what}: the disk filled up during the download: {exc}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UsageError(f"{what}: cannot write the models directory: {exc}")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return HubUnreachableError(f"{what}: download failed: {first}")
