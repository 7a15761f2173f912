"""Secret material travels only by reference."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .base import containers, env_entries, get, is_list, items

# --- secrets-never-plain -------------------------------------------------------------------------

_SECRET_NAME = re.compile(
    r"(^|_)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)($|_)"
)
_NOT_A_SECRET_NAME = re.compile(
    r"_(FILE|PATH|DIR|URL|URI|ENDPOINT|ID|NAME|ARN)$|^GOOGLE_APPLICATION_CREDENTIALS$"
)
_SECRET_FLAGS = re.compile(r"^--(api-key|token|hf-token|password|secret|access-key)(=.+)?$")
CREDENTIAL_PATTERNS = {
    "a Hugging Face token": re.compile(r"\bhf_[A-Za-z0-9]{30,}"),
    "an AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a GCP service account key": re.compile(r'"private_key_id"\s*:'),
    "a GitHub token": re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    "an OpenAI-style API key": re.compile(r"\bsk-[A-Za-z0-9_-]{32,}"),
}
# The fields made to hold secret material (the providers mark them secret in their schemas).
SECRET_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "kubernetes:core/v1:Secret": (("data",), ("stringData",)),
    "gcp:secretmanager/secretVersion:SecretVersion": (("secretData",),),
    "aws:secretsmanager/secretVersion:SecretVersion": (("secretString",), ("secretBinary",)),
    "docker-build:index:Image": (("registries", "*", "password"),),
}


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, (*path, str(k)))
    elif is_list(value):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, str(i)))


def _in_secret_field(resource_type: str, path: tuple[str, ...]) -> bool:
    for field in SECRET_FIELDS.get(resource_type, ()):
        if len(path) >= len(field) and all(f in ("*", p) for f, p in zip(field, path, strict=False)):
            return True
    return False


def check_secrets(resource_type: str, props: Mapping[str, Any], name: str) -> Iterator[str]:
    for where, container in containers(resource_type, props):
        for env in env_entries(resource_type, container):
            env_name = get(env, "name")
            if not isinstance(env_name, str) or not _SECRET_NAME.search(env_name.upper()):
                continue
            if _NOT_A_SECRET_NAME.search(env_name.upper()):
                continue
            value = get(env, "value")
            if isinstance(value, str) and value:
                yield (
                    f"{where} env {env_name} holds a literal value: take it from a secret "
                    "(valueFrom.secretKeyRef, or valueSource.secretKeyRef on Cloud Run)"
                )
        args = [a for key in ("command", "args") for a in items(get(container, key))]
        for i, arg in enumerate(args):
            if not isinstance(arg, str) or not (match := _SECRET_FLAGS.match(arg)):
                continue
            if match.group(2) or (i + 1 < len(args) and isinstance(args[i + 1], str)):
                flag = arg.split("=", 1)[0]
                yield f"{where} passes {flag} on the command line: read it from an env var set from a secret"
    for path, text in _strings(props):
        if _in_secret_field(resource_type, path):
            continue
        for what, pattern in CREDENTIAL_PATTERNS.items():
            if pattern.search(text):
                where = ".".join(path) or "(value)"
                yield f"{where} holds what looks like {what}: keep it in a secret and refer to it"
