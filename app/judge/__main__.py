"""``python -m app.judge``: see app/judge/cli.py."""

import sys

from app.judge.cli import main

sys.exit(main())
