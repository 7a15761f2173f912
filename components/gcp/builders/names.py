"""Names of the GCP resources: the seed's, behind an optional per-stack prefix."""

from __future__ import annotations

from dataclasses import dataclass

SA_ID_MAX = 30
STACK_LABEL = "llm-judge-stack"
"""The label every GCP resource of a stack carries; its value is ``app.gcp_labels.label_value(stack)``."""


@dataclass(frozen=True)
class Names:
    prefix: str = ""

    def _n(self, base: str) -> str:
        return f"{self.prefix}{base}"

    @property
    def loader_job(self) -> str:
        return self._n("interaction-loader")

    @property
    def judge_job(self) -> str:
        return self._n("llm-judge-trigger")

    @property
    def collect_job(self) -> str:
        return self._n("llm-judge-collect")

    @property
    def loader_schedule(self) -> str:
        return self._n("trigger-loader-hourly")

    @property
    def judge_schedule(self) -> str:
        return self._n("trigger-judge-daily")

    @property
    def collect_schedule(self) -> str:
        return self._n("trigger-collect-daily")

    @property
    def loader_account(self) -> str:
        return self._n("loader-sa")

    @property
    def batch_account(self) -> str:
        return self._n("batch-judge-sa")

    @property
    def invoker_account(self) -> str:
        return self._n("job-invoker-sa")

    @property
    def kafka_username_secret(self) -> str:
        return self._n("kafka-sasl-username")

    @property
    def kafka_password_secret(self) -> str:
        return self._n("kafka-sasl-password")

    def log_metric(self, base: str) -> str:
        """A log-based metric's name (``logging.googleapis.com/user/<name>``): the project's metrics in
        one folder of Metrics Explorer, one set per stack."""
        return f"{self.prefix}llm-judge/{base}"

    def repository(self, repository_id: str) -> str:
        """The Artifact Registry repository: per stack too, or two stacks in one project would both
        try to create (and later delete) the same one."""
        return self._n(repository_id)

    def account_ids(self) -> list[str]:
        return [self.loader_account, self.batch_account, self.invoker_account]


def default_bucket_name(project: str, prefix: str = "") -> str:
    """Bucket names are global: the project id makes the default unique, the stack's name prefix keeps
    two stacks in one project apart (at most 30 + 1 + 15 + 17 = 63 characters, the bucket name limit)."""
    return f"{project}-{prefix}llm-judge-history"


def account_email(account_id: str, project: str) -> str:
    return f"{account_id}@{project}.iam.gserviceaccount.com"


def vertex_agent_email(project_number: str) -> str:
    """Vertex AI's service agent, which reads batch input and writes batch output in GCS."""
    return f"service-{project_number}@gcp-sa-aiplatform.iam.gserviceaccount.com"
