"""``kafka``: the brokers, topic, consumer group and security protocol the interaction loader
consumes with (its SASL credentials are top-level secrets, see ``KafkaConfig``)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from .base import ConfigModel, Problems, pattern

_KAFKA_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_BROKER = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})$")

Broker = Annotated[str, AfterValidator(pattern(_BROKER, "HOST:PORT"))]


class KafkaConfig(ConfigModel):
    """``kafka``: where the interaction loader consumes from. SASL credentials are the top-level
    secrets ``llm-judge:kafkaSaslUsername`` / ``llm-judge:kafkaSaslPassword``."""

    brokers: list[Broker] = Field(default_factory=list)
    """Bootstrap brokers, HOST:PORT (required when the GCP half is enabled)."""
    topic: Annotated[str, AfterValidator(pattern(_KAFKA_TOPIC, "a Kafka topic name"))] = "raw-interactions"
    consumer_group: str = Field(default="gcs-loader-v1", min_length=1, max_length=255)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "SASL_SSL"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = "SCRAM-SHA-512"
    """SASL mechanism of a SASL_* protocol; must not be set with PLAINTEXT or SSL."""

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def mechanism(self) -> str | None:
        """The SASL mechanism in effect (None without SASL)."""
        return self.sasl_mechanism if self.uses_sasl else None

    @model_validator(mode="after")
    def _check(self) -> KafkaConfig:
        p = Problems()
        if self.uses_sasl:
            p.check(
                self.sasl_mechanism is not None, "saslMechanism", f"required with {self.security_protocol}"
            )
        else:
            p.check(
                "sasl_mechanism" not in self.model_fields_set or self.sasl_mechanism is None,
                "saslMechanism",
                f"only applies to a SASL_* securityProtocol (this one is {self.security_protocol})",
            )
        p.check(len(set(self.brokers)) == len(self.brokers), "brokers", "lists a broker twice")
        p.check(
            self.consumer_group.strip() == self.consumer_group, "consumerGroup", "has blank space around it"
        )
        p.raise_if_any()
        return self
