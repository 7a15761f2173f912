"""The Google APIs the GCP half uses, enabled in the project and left enabled on destroy."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

TYPE = "llm-judge:gcp:ProjectServices"

SERVICES = (
    "run.googleapis.com",
    "cloudscheduler.googleapis.com",
    "aiplatform.googleapis.com",
    "artifactregistry.googleapis.com",
    "secretmanager.googleapis.com",
    "iam.googleapis.com",
    "storage.googleapis.com",
    # Alert policies and notification channels; log-based metrics (Logging is on in every project,
    # listed so that a project where an admin turned it off fails at enable, not at the first metric).
    "monitoring.googleapis.com",
    "logging.googleapis.com",
)


class ProjectServices(pulumi.ComponentResource):
    services: list[gcp.projects.Service]

    def __init__(
        self,
        name: str,
        project: str,
        services: Sequence[str] = SERVICES,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Never disabled on destroy: other workloads in the project may use the same APIs, and
        # disabling one tears down every resource of that API.
        self.services = [
            gcp.projects.Service(
                f"{name}-{service.split('.', 1)[0]}",
                project=project,
                service=service,
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=child,
            )
            for service in services
        ]
        self.register_outputs({"services": [s.service for s in self.services]})
