"""Where one day's batch files live, under the output root (gs://OUTPUT_BUCKET or GCS_OUTPUT_PREFIX).

batch/<date>/input/part-00000.jsonl         Vertex input lines (one job per part)
batch/<date>/input/part-00000.index.jsonl   key -> record id, source (for collect)
batch/<date>/rejected.jsonl                 raw lines that are not valid records, with the reason
batch/<date>/manifest.json                  what submit built: counts, parts, prompt
batch/<date>/output/part-00000/             the part's job output (prediction-model-*/...)
judgements/<date>/results.jsonl             one line per record
judgements/<date>/summary.json              counts, failures by reason, distributions, flagged ids
reports/<date>/index.html                   the day's report page (app.report)
reports/<date>/report.json                  the numbers behind it
review/<date>/tasks.json                    the day's review sample, as Label Studio imports tasks
review/labelling-config/<prompt stem>.xml   the Label Studio labelling config of the prompt
labels/<date>/labels.jsonl                  people's labels of the day's records (import-labels)
labels/<date>/agreement.json                each judge against them, as of the last import
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.batch_job.gcs import GcsPath


def part_name(index: int) -> str:
    return f"part-{index:05d}"


@dataclass(frozen=True)
class DayLayout:
    root: GcsPath
    day: dt.date

    @property
    def batch(self) -> GcsPath:
        return self.root.join("batch", self.day.isoformat())

    @property
    def judgements(self) -> GcsPath:
        return self.root.join("judgements", self.day.isoformat())

    def input_part(self, index: int) -> GcsPath:
        return self.batch.join("input", f"{part_name(index)}.jsonl")

    def index_part(self, index: int) -> GcsPath:
        return self.batch.join("input", f"{part_name(index)}.index.jsonl")

    def output_prefix(self, index: int) -> GcsPath:
        return self.batch.join("output", part_name(index))

    @property
    def rejected(self) -> GcsPath:
        return self.batch.join("rejected.jsonl")

    @property
    def manifest(self) -> GcsPath:
        return self.batch.join("manifest.json")

    @property
    def results(self) -> GcsPath:
        return self.judgements.join("results.jsonl")

    @property
    def summary(self) -> GcsPath:
        return self.judgements.join("summary.json")

    @property
    def progress(self) -> GcsPath:
        """Chunks of results of the self-hosted path, kept so an interrupted run resumes."""
        return self.judgements.join("progress")

    @property
    def reports(self) -> GcsPath:
        return self.root.join("reports", self.day.isoformat())

    @property
    def report_page(self) -> GcsPath:
        return self.reports.join("index.html")

    @property
    def report_json(self) -> GcsPath:
        return self.reports.join("report.json")

    @property
    def review_tasks(self) -> GcsPath:
        return self.root.join("review", self.day.isoformat(), "tasks.json")

    @property
    def labels(self) -> GcsPath:
        return self.root.join("labels", self.day.isoformat(), "labels.jsonl")
