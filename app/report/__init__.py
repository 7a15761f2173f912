"""The judgement report: what the judges found on a day, in pictures, and how far two judges agree.

Read from result lines (``judgements/<date>/results.jsonl`` from ``python -m app.batch_job collect``, or
the output of ``python -m app.judge run``), streamed once with constant memory per record; written as
one self-contained HTML page (no script, no network) and the JSON of the numbers behind it.
"""
