"""The judge's namespace."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from .builders.scheduling import PART_OF

TYPE = "llm-judge:aws:JudgeNamespace"


class JudgeNamespace(pulumi.ComponentResource):
    name: pulumi.Output[str]
    resource: k8s.core.v1.Namespace

    def __init__(self, name: str, namespace: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        # No Pod Security Admission enforce label: the model cache needs a hostPath volume, which even
        # the 'baseline' profile refuses. Each pod sets its own restricted security context instead.
        self.resource = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={"name": namespace, "labels": dict(PART_OF)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = pulumi.Output.from_input(namespace)
        self.register_outputs({"name": self.name})
