"""The GCP half's alerting: e-mail notification channels, log-based metrics on the apps' summary lines,
and the alert policies that read them (all built in builders/log_metrics.py and alert_policies.py)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from app.gcp_labels import label_value
from components.config.gcp_alerts import GcpAlertsConfig

from .builders.alert_docs import DocContext
from .builders.alert_policies import alert_policies
from .builders.log_metrics import LogMetrics
from .builders.names import STACK_LABEL

TYPE = "llm-judge:gcp:Alerts"


class Alerts(pulumi.ComponentResource):
    channels: list[pulumi.Output[str]]
    policies: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        config: GcpAlertsConfig,
        *,
        project: str,
        metrics: LogMetrics,
        context: DocContext,
        loader_no_success_hours: int,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(TYPE, name, None, opts)
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=list(depends_on))

        channels: list[pulumi.Input[str]] = list(config.notification_channels)
        self.channels = []
        for i, address in enumerate(config.emails):
            channel = gcp.monitoring.NotificationChannel(
                f"{name}-email-{i}",
                project=project,
                type="email",
                display_name=f"llm-judge {context.stack}: {address}",
                labels={"email_address": address},
                opts=after_apis,
            )
            self.channels.append(channel.name)
            channels.append(channel.name)

        created: dict[str, gcp.logging.Metric] = {}
        for metric in metrics.all():
            created[metric.key] = gcp.logging.Metric(
                f"{name}-{metric.key}",
                project=project,
                name=metric.name,
                description=metric.description,
                filter=metric.filter,
                metric_descriptor=metric.descriptor(),
                label_extractors=metric.label_extractors() or None,
                opts=after_apis,
            )

        self.policies = {}
        for spec in alert_policies(config, metrics, context, loader_no_success_hours=loader_no_success_hours):
            # A policy naming a log-based metric is refused until Monitoring knows the metric: create the
            # metric first (and see docs/runbook.md for the first `pulumi up` of a new stack).
            needs = [created[m.key] for m in spec.metrics]
            policy = gcp.monitoring.AlertPolicy(
                f"{name}-{spec.key}",
                project=project,
                display_name=spec.display_name,
                combiner="OR",
                severity=spec.severity,
                conditions=spec.conditions,
                documentation=spec.documentation,
                alert_strategy=spec.alert_strategy,
                notification_channels=channels,
                user_labels={STACK_LABEL: label_value(context.stack)},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*depends_on, *needs]),
            )
            self.policies[spec.key] = policy.name
        self.register_outputs({"channels": self.channels, "policies": self.policies})
