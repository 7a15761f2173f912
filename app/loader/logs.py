"""The loader's logging: the apps' one setup (``app.logs``), on stdout, JSON in a container."""

from __future__ import annotations

import logging
import sys

from app import logs as app_logs
from app.logs import log

__all__ = ["LOGGER_NAME", "log", "setup"]

LOGGER_NAME = "app.loader"


def setup(level: str = "INFO") -> logging.Logger:
    app_logs.setup(level=level, stream=sys.stdout)
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    return logger
