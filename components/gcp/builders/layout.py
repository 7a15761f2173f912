"""The bucket's top-level prefixes, as the applications write them (app/records.py and
app/loader/naming.py for the loader, app/batch_job/layout.py for the batch job). IAM grants are
scoped to these prefixes; tests/components/gcp/test_builders.py checks they agree with the apps."""

from __future__ import annotations

RAW = "raw/"
"""Loader output: ``raw/<source>/<YYYY-MM-DD>/<name>.jsonl``; the batch job's input."""
DEADLETTER = "deadletter/"
"""Loader: messages that are not valid records, kept for inspection."""
LOADER_STATE = "_loader/"
"""Loader: per-chunk manifests that fix each chunk's offset range before its data is written."""
BATCH = "batch/"
"""Batch job: Vertex AI input parts, manifests; Vertex AI writes its predictions under it."""
JUDGEMENTS = "judgements/"
"""Batch job: one results file and a summary per day."""
REPORTS = "reports/"
"""Batch job (collect, report): one HTML report and its report.json per day."""

LOADER_OWNED = (RAW, DEADLETTER, LOADER_STATE)
ALL = (RAW, DEADLETTER, LOADER_STATE, BATCH, JUDGEMENTS, REPORTS)
