"""Kubernetes value rules the ``llm-judge:aws`` sections share: object, Service and namespace names,
labels, quantities, image references and a container's ``resources`` block.

Each rule is an ``Annotated`` type whose validator says what is expected (``namespace: DnsLabel``
fails with the characters an RFC 1123 label may hold). ``quantity_value`` and ``image_ref`` are the
two that checks and builders compute with.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from .base import ConfigModel, Problems, pattern

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_IMAGE_REPO = re.compile(r"^[a-z0-9]+([._/:-][a-z0-9]+)*$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_IMAGE_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _dns_label(value: str) -> str:
    """RFC 1123 label: namespaces, container names, most object names."""
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            "must be an RFC 1123 label: lower-case letters, digits and '-', starting and ending "
            "with a letter or digit, at most 63 characters"
        )
    return value


def _service_name(value: str) -> str:
    """Services are RFC 1035 labels: like RFC 1123, but must start with a letter."""
    _dns_label(value)
    if not value[0].isalpha():
        raise ValueError("a Service name must start with a letter (RFC 1035 label)")
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(
            "must be an RFC 1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters"
        )
    return value


def label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"label key {key!r}: the prefix must be a DNS subdomain"
    if len(name) > 63 or not _LABEL_NAME.match(name):
        return f"label key {key!r}: the name must be 1-63 of [A-Za-z0-9-_.], starting and ending alphanumeric"
    return None


def label_value_problem(key: str, value: str) -> str | None:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return (
            f"label {key!r}: value {value!r} must be at most 63 of [A-Za-z0-9-_.], "
            "starting and ending alphanumeric"
        )
    return None


LABEL_VALUE_MAX = 63
DIGEST_CHARS = 6
_NOT_IN_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]+")


def with_digest(text: str, limit: int, whole: str) -> str:
    """``text`` cut to fit ``limit`` with ``-<hash of whole>`` at the end, so that two wholes that were
    cut or rewritten to the same text still give two names; the cut never leaves ``-``, ``.`` or ``_``
    before the hash."""
    digest = hashlib.sha256(whole.encode()).hexdigest()[:DIGEST_CHARS]
    head = text[: limit - DIGEST_CHARS - 1].rstrip("-._")
    return f"{head}-{digest}" if head else digest


def label_value_of(text: str) -> str:
    """``text`` as a Kubernetes label value (at most 63 of ``[A-Za-z0-9-_.]``, alphanumeric at both
    ends): unchanged when it is one already (a stack ``dev`` is ``dev``), else with every other run of
    characters made ``-``, its ends trimmed, cut, and a hash of the whole text appended (``with_digest``),
    so two texts never share a value as they would by rewriting alone (``_dev`` and ``dev``).

    Not GCP's rule (app/gcp_labels.py: lower case only, no ``.``): each platform's values by its own."""
    if text and label_value_problem("", text) is None:
        return text
    return with_digest(_NOT_IN_LABEL_VALUE.sub("-", text).strip("-._"), LABEL_VALUE_MAX, text)


def _labels(value: dict[str, str]) -> dict[str, str]:
    problems = [p for k, v in value.items() for p in (label_key_problem(k), label_value_problem(k, v)) if p]
    if problems:
        raise ValueError("; ".join(problems))
    return value


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError("must be a Kubernetes quantity such as '500m', '2', '8Gi'")
    return value


def _image_repo(value: str) -> str:
    if ":" in value.rsplit("/", 1)[-1] or "@" in value or not _IMAGE_REPO.match(value):
        raise ValueError("must be an image repository without tag or digest, e.g. 'vllm/vllm-openai'")
    return value


def _image_tag(value: str) -> str:
    if value == "latest" or not _IMAGE_TAG.match(value):
        raise ValueError("must be a pinned image tag (not 'latest'), e.g. 'v0.33.0'")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
ServiceName = Annotated[str, AfterValidator(_service_name)]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
Labels = Annotated[dict[str, str], AfterValidator(_labels)]
Quantity = Annotated[str, AfterValidator(_quantity)]
ImageRepo = Annotated[str, AfterValidator(_image_repo)]
ImageTag = Annotated[str, AfterValidator(_image_tag)]
ImageDigest = Annotated[
    str,
    AfterValidator(pattern(_IMAGE_DIGEST, "an image content digest: 'sha256:' and 64 lower-case hex digits")),
]
Namespace = Annotated[
    str, AfterValidator(pattern(_DNS_LABEL, "a namespace name (RFC 1123 label)")), Field(max_length=63)
]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "m": Decimal("0.001"),
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def quantity_value(quantity: str) -> Decimal:
    """The number a Kubernetes quantity stands for (``"500m"`` -> 0.5, ``"2Gi"`` -> 2147483648)."""
    match = _QUANTITY.match(quantity)
    if not match:
        raise ValueError(f"not a quantity: {quantity!r}")
    suffix = match.group(3) or ""
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"not a quantity: {quantity!r}") from exc
    return number * (_BINARY.get(suffix) or _DECIMAL[suffix])


def image_ref(repo: str, tag: str, digest: str | None) -> str:
    """``repo:tag``, or ``repo:tag@sha256:...``: the runtime pulls by digest and ignores the tag, which
    stays for the reader (and for the registry's UI)."""
    return f"{repo}:{tag}@{digest}" if digest else f"{repo}:{tag}"


class Quantities(ConfigModel):
    cpu: Quantity | None = None
    memory: Quantity | None = None


class ResourcesConfig(ConfigModel):
    """Container requests and limits (Kubernetes quantities)."""

    requests: Quantities = Field(default_factory=Quantities)
    limits: Quantities = Field(default_factory=Quantities)

    @model_validator(mode="after")
    def _check(self) -> ResourcesConfig:
        p = Problems()
        for kind in ("cpu", "memory"):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            if request and limit:
                p.check(
                    quantity_value(request) <= quantity_value(limit),
                    f"requests.{kind}",
                    f"{request} is greater than limits.{kind} {limit}",
                )
        p.raise_if_any()
        return self

    def manifest(self, extra: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
        """The ``resources`` block of a container (``extra`` goes into both requests and limits)."""
        out: dict[str, dict[str, str]] = {}
        for part in ("requests", "limits"):
            q: Quantities = getattr(self, part)
            values = {k: v for k, v in (("cpu", q.cpu), ("memory", q.memory)) if v is not None}
            values.update(extra or {})
            if values:
                out[part] = values
        return out


def container_resources(cpu: str, memory: str, cpu_limit: str | None, memory_limit: str) -> ResourcesConfig:
    return ResourcesConfig(
        requests=Quantities(cpu=cpu, memory=memory), limits=Quantities(cpu=cpu_limit, memory=memory_limit)
    )
