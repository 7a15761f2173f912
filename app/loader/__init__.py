"""The interaction loader: Kafka topic -> gs://BUCKET/raw/<source>/<date>/*.jsonl, exactly once.

Run as ``python -m app.loader`` (see ``settings.py`` for the environment and flags, and
docs/loader.md for the guarantees and how they are kept).
"""
