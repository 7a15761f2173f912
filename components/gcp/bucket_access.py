"""Bucket-level, prefix-scoped storage grants for the jobs' accounts and Vertex AI's service agent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

from .builders.iam import BUCKET_GRANTS, BucketGrant, Principal, member, prefix_condition
from .builders.names import vertex_agent_email

TYPE = "llm-judge:gcp:BucketAccess"


def _condition(
    grant: BucketGrant, bucket: pulumi.Output[str]
) -> pulumi.Output[gcp.storage.BucketIAMMemberConditionArgsDict] | None:
    """The grant's IAM condition on the bucket's name; none for a whole-bucket grant."""
    prefixes = grant.prefixes
    if not prefixes:
        return None
    return bucket.apply(lambda b: prefix_condition(grant, prefixes, b))


class BucketAccess(pulumi.ComponentResource):
    vertex_agent_member: pulumi.Output[str]
    bindings: list[gcp.storage.BucketIAMMember]

    def __init__(
        self,
        name: str,
        *,
        project: str,
        bucket: pulumi.Input[str],
        members: Mapping[Principal, pulumi.Input[str]],
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(TYPE, name, None, opts)
        # Google creates a service agent lazily; ServiceIdentity makes sure Vertex AI's exists before
        # it is granted anything (a grant to a missing agent fails).
        agent = gcp.projects.ServiceIdentity(
            f"{name}-vertex-agent",
            project=project,
            service="aiplatform.googleapis.com",
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )
        number = gcp.organizations.get_project_output(
            project_id=project, opts=pulumi.InvokeOutputOptions(parent=self)
        ).number
        self.vertex_agent_member = number.apply(lambda n: member(vertex_agent_email(n)))
        all_members: dict[Principal, pulumi.Input[str]] = {**members, "vertex": self.vertex_agent_member}
        bucket_out = pulumi.Output.from_input(bucket)
        self.bindings = [
            gcp.storage.BucketIAMMember(
                f"{name}-{grant.key}",
                bucket=bucket_out,
                role=grant.role,
                member=all_members[grant.principal],
                condition=_condition(grant, bucket_out),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[agent]),
            )
            for grant in BUCKET_GRANTS
        ]
        self.register_outputs({"vertex_agent_member": self.vertex_agent_member})
