"""The three service accounts of the GCP half and their only project-level roles."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from .builders.iam import PROJECT_GRANTS, Principal
from .builders.names import Names

TYPE = "llm-judge:gcp:ServiceAccounts"

_DESCRIPTIONS: dict[Principal, tuple[str, str]] = {
    "loader": ("Interaction loader", "Cloud Run job interaction-loader: Kafka raw-interactions -> GCS raw/"),
    "batch": ("Batch judge", "Cloud Run job llm-judge-trigger: GCS raw/ -> Vertex AI batch -> judgements/"),
    "invoker": ("Job invoker", "Cloud Scheduler's identity: may only start the pipeline's Cloud Run jobs"),
}


class ServiceAccounts(pulumi.ComponentResource):
    emails: dict[Principal, pulumi.Output[str]]
    members: dict[Principal, pulumi.Output[str]]
    project_bindings: list[gcp.projects.IAMMember]

    def __init__(
        self,
        name: str,
        names: Names,
        *,
        project: str,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(depends_on))
        ids: dict[Principal, str] = {
            "loader": names.loader_account,
            "batch": names.batch_account,
            "invoker": names.invoker_account,
        }
        accounts: dict[Principal, gcp.serviceaccount.Account] = {
            key: gcp.serviceaccount.Account(
                f"{name}-{key}",
                account_id=account_id,
                project=project,
                display_name=_DESCRIPTIONS[key][0],
                description=_DESCRIPTIONS[key][1],
                opts=child,
            )
            for key, account_id in ids.items()
        }
        self.emails = {key: a.email for key, a in accounts.items()}
        self.members = {key: a.member for key, a in accounts.items()}
        self.project_bindings = [
            gcp.projects.IAMMember(
                f"{name}-{grant.key}",
                project=project,
                role=grant.role,
                member=self.members[grant.principal],
                opts=pulumi.ResourceOptions(parent=self),
            )
            for grant in PROJECT_GRANTS
        ]
        self.register_outputs({f"{key}_email": email for key, email in self.emails.items()})
