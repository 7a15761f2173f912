"""The Kafka SASL credentials in Secret Manager, readable by the loader's account only.

Cloud Run injects one secret version as one environment variable, so the username and the password
are two secrets (one value each) rather than one JSON document the loader would have to parse."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp
from pydantic import SecretStr

from .builders.iam import SECRET_ACCESSOR
from .builders.jobs import SecretRef
from .builders.names import Names

TYPE = "llm-judge:gcp:KafkaCredentials"
OLD_VERSIONS = "ABANDON"
"""What a replaced secret version becomes: left enabled in Secret Manager (Pulumi forgets it), not
deleted or disabled. docs/gcp.md says when to disable it."""


class KafkaCredentials(pulumi.ComponentResource):
    username: SecretRef
    password: SecretRef
    secret_ids: list[pulumi.Output[str]]
    bindings: list[gcp.secretmanager.SecretIamMember]

    def __init__(
        self,
        name: str,
        names: Names,
        *,
        project: str,
        username: SecretStr,
        password: SecretStr,
        reader_member: pulumi.Input[str],
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(TYPE, name, None, opts)
        self.bindings = []
        self.secret_ids = []
        refs: list[SecretRef] = []
        for key, secret_id, value in (
            ("username", names.kafka_username_secret, username),
            ("password", names.kafka_password_secret, password),
        ):
            secret = gcp.secretmanager.Secret(
                f"{name}-{key}",
                project=project,
                secret_id=secret_id,
                replication={"auto": {}},
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
            )
            version = gcp.secretmanager.SecretVersion(
                f"{name}-{key}-version",
                secret=secret.id,
                secret_data=pulumi.Output.secret(value.get_secret_value()),
                # A new credential replaces the version; the old one must stay readable: an execution
                # that started before `up` still references it, and its retries read it again.
                deletion_policy=OLD_VERSIONS,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.bindings.append(
                gcp.secretmanager.SecretIamMember(
                    f"{name}-{key}-accessor",
                    project=project,
                    secret_id=secret.secret_id,
                    role=SECRET_ACCESSOR,
                    member=reader_member,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
            self.secret_ids.append(secret.secret_id)
            refs.append(SecretRef(secret=secret.secret_id, version=version.version))
        self.username, self.password = refs
        self.register_outputs({"secret_ids": self.secret_ids})
