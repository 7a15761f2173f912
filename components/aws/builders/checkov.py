"""checkov findings this stack accepts on purpose, recorded on the object they concern.

``make test`` runs checkov over every rendered manifest (tests/test_checkov.py). A finding is either
fixed or skipped with its reason, and a skip that concerns one object lives on that object as
checkov's own annotation, ``checkov.io/skip<N>: <CHECK_ID>=<reason>``, built here from the builder
that makes the object; findings that are a project-wide decision are skipped in ``.checkov.yaml``
instead, each with its reason. To accept a new finding for one object, add ``CHECK_ID: reason`` to the
mapping its builder passes to ``skip_annotations``.
"""

from __future__ import annotations

from collections.abc import Mapping


def skip_annotations(skips: Mapping[str, str]) -> dict[str, str]:
    """``{"CKV_K8S_8": "why"}`` -> ``{"checkov.io/skip1": "CKV_K8S_8=why"}``."""
    for check, reason in skips.items():
        if not reason.strip() or "=" in check:
            raise ValueError(f"checkov skip {check!r} needs a check id and a reason")
    return {f"checkov.io/skip{n}": f"{check}={reason}" for n, (check, reason) in enumerate(skips.items(), 1)}


def digest_skip(images: Mapping[str, str]) -> dict[str, str]:
    """CKV_K8S_43 (images by digest) and CKV_K8S_15 (pull policy Always, which checkov waives for
    digests) are skipped exactly while one of the object's images is pinned by tag alone; ``images``
    maps the config key that sets each image to its reference."""
    by_tag = [key for key, ref in images.items() if "@sha256:" not in ref]
    if not by_tag:
        return {}
    keys = " and ".join(f"llm-judge:aws.{key}" for key in by_tag)
    return {
        "CKV_K8S_43": f"pinned by tag while {keys} has no digest (README: Pinning images by digest)",
        "CKV_K8S_15": f"IfNotPresent with a pinned tag (never latest); a digest in {keys} makes it exact, "
        "where Always would make every pod start depend on the registry",
    }
