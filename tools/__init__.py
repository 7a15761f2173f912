"""Developer tools: the offline plan (``python -m tools.plan``), its diff, and the mock runtime."""
