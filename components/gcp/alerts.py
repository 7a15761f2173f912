"""The GCP half's alerting: e-mail notification channels, log-based metrics on the apps' summary lines,
and the alert policies that read them (all built in builders/log_metrics.py and alert_policies.py),
created once Monitoring knows the metrics (metric_wait.py)."""

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
from .metric_wait import MetricsVisible

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

        # A policy naming a log-based metric is refused until Monitoring knows the metric, which can take
        # minutes after it is created: the policies that read one wait for all of them (metric_wait.py).
        token = gcp.organizations.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        visible = MetricsVisible(
            f"{name}-metrics-visible",
            project=project,
            metric_types=[m.metric_type for m in metrics.all()],
            access_token=token.access_token,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(created.values())),
        )

        self.policies = {}
        for spec in alert_policies(config, metrics, context, loader_no_success_hours=loader_no_success_hours):
            needs: list[pulumi.Resource] = [created[m.key] for m in spec.metrics]
            if needs:
                needs.append(visible)
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
