"""`python -m app.model_loader`: see cli.py."""

from app.model_loader.cli import main

raise SystemExit(main())
