"""What the GCP docs tell an operator to do, against the code. Text scans, cheap enough to run on every
change of a doc.

The brokers' firewall: Cloud Run does not support its network tags as the source of an ingress
firewall rule with Direct VPC egress ("use source IP ranges instead"), so a rule that admits the loader
by tag drops every packet it sends: the docs must say to admit the subnet's range, and keep the tags
(``jobs.loader.network.tags``) to egress rules. The APIs an admin enables: the docs list exactly the
ones the stack enables (they once said "seven" for nine)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.gcp.services import SERVICES

REPO = Path(__file__).resolve().parents[3]
DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md"), *REPO.glob("Pulumi.*.yaml")])
# Tags as what an ingress rule matches on: "source tag(s)", "--source-tags", "sourceTags", "admit ... by tag".
TAG_AS_SOURCE = re.compile(r"\bsource[ _-]?tags?\b|\bsourceTags\b|\badmits?\b[^.|]*\bby (source )?tag", re.I)
SAYS_IT_FAILS = re.compile(r"not supported|cannot|can't|never|no part|matches none", re.I)


def paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks; a table row or a YAML line is a block of its own."""
    blocks: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.splitlines()
        if any(line.lstrip().startswith(("|", "#")) or ":" in line for line in lines):
            blocks.extend(lines)
        else:
            blocks.append(block)
    return blocks


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_no_doc_advises_network_tags_for_the_brokers_ingress_rule(path):
    blocks = paragraphs(path.read_text())
    assert blocks, f"{path.name} is empty"
    for block in blocks:
        if TAG_AS_SOURCE.search(block):
            assert SAYS_IT_FAILS.search(block), f"{path.name} advises tags as an ingress source: {block!r}"


@pytest.mark.parametrize("path", sorted(REPO.glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_the_stack_files_keep_the_loaders_tags_to_egress_rules(path):
    tagged = [
        line
        for line in path.read_text().splitlines()
        if re.match(r"\s*tags:", line) and "interaction-loader" in line
    ]
    assert tagged, f"{path.name} sets no tags for the loader: nothing to check"
    for line in tagged:
        assert "egress" in line, line
        assert "subnet's range" in line, line


def test_the_gcp_docs_say_to_admit_the_subnets_range():
    text = (REPO / "docs" / "gcp.md").read_text()
    (row,) = [line for line in text.splitlines() if line.startswith("| **a firewall rule**")]
    assert "source IP range = the subnet's range" in row
    assert "--source-ranges" in text


def test_the_apis_an_admin_enables_are_the_ones_the_stack_enables():
    text = (REPO / "docs" / "gcp.md").read_text()
    command = re.search(r"gcloud services enable (.+?) --project", text.replace("\\\n", " "), re.S)
    assert command is not None
    assert command.group(1).split() == list(SERVICES)
    tree = re.search(r"ProjectServices \.+ (.+?) \(enabled", text, re.S)
    assert tree is not None
    listed = [name.strip(" │\n") for name in tree.group(1).split(",")]
    assert listed == [service.split(".", 1)[0] for service in SERVICES]
    assert not re.search(r"\b(two|three|four|five|six|seven|eight|nine|ten|\d+) APIs\b", text)
