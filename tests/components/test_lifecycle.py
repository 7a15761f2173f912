"""The dates of what the repository pins (components/lifecycle.py).

``test_no_default_of_the_repository_ends_within_30_days`` is the real check, against today: it runs in
``make test`` and every week on main (.github/workflows/lifecycle.yml), so a date that passes with no
commit still turns the build red. The other tests pin the date to prove each side of the 30- and
90-day lines, and that the table is read from the version tables it names.
"""

from __future__ import annotations

import datetime as dt

import yaml

from components import lifecycle
from components.aws import autoscaler_versions
from components.config import eks_versions, load_stack_config
from components.lifecycle import Choice, Entry
from tests.components.aws.helpers import render_aws
from tests.support.stack_files import stack_block
from tools.plan_runtime import REPO_ROOT

STACKS = ("dev", "prod")


def _stack(name: str, **aws_overrides: object):
    aws = {**stack_block(name, "aws"), **aws_overrides}
    return load_stack_config({"aws": aws, "gcp": stack_block(name, "gcp")})


def repository_defaults() -> list[Choice]:
    """Everything the repository pins by default: the keys' defaults, what the committed stacks use,
    the images' base and what the workflows run on."""
    choices = lifecycle.default_choices()
    for name in STACKS:
        choices += [
            Choice(c.subject, c.version, f"Pulumi.{name}.yaml {c.where}")
            for c in lifecycle.stack_choices(_stack(name))
        ]
    for path in sorted((REPO_ROOT / "build").glob("Dockerfile.*")):
        choices += lifecycle.dockerfile_choices(f"build/{path.name}", path.read_text())
    for path in sorted((REPO_ROOT / "prompts").glob("*.prompt.yml")):
        choices += lifecycle.prompt_choices(f"prompts/{path.name}", yaml.safe_load(path.read_text()))
    for path in sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        choices += lifecycle.workflow_choices(f".github/workflows/{path.name}", workflow)
    return choices


def _problems(choices: list[Choice], today: dt.date) -> list[str]:
    lines, unknown = lifecycle.ending(choices, today, lifecycle.DEFAULT_FAILURE_DAYS)
    return lines + [
        f"{c.where}: {c.subject} {c.version} has no entry in components/lifecycle.py: record its end "
        "date (or a review-by date with the reason), its source and the day it was read"
        for c in unknown
    ]


def test_no_default_of_the_repository_ends_within_30_days():
    problems = _problems(repository_defaults(), dt.date.today())

    assert not problems, "\n".join(problems)


def test_the_defaults_cover_every_kind_of_pin():
    subjects = {c.subject for c in repository_defaults()}

    assert subjects >= {
        "eks",
        "cluster-autoscaler",
        "keda",
        "keda-add-ons-http",
        "vllm",
        "nvidia-device-plugin",
        "al2023",
        "python",
        "debian",
        "node",
        "actions-runtime",
    }


def _soonest(choices: list[Choice]) -> Entry:
    table = lifecycle.entries()
    found = [lifecycle.find(c, table) for c in choices]
    return min((e for e in found if e is not None), key=lambda e: e.ends)


def test_a_default_fails_from_30_days_before_its_date_naming_entry_date_source_and_change():
    defaults = repository_defaults()
    soonest = _soonest(defaults)

    assert _problems(defaults, soonest.ends - dt.timedelta(days=31)) == []
    problems = _problems(defaults, soonest.ends - dt.timedelta(days=30))
    assert problems
    for line in problems:
        assert soonest.name in line
        assert str(soonest.ends) in line
        assert soonest.source in line
        assert f"Change: {soonest.change}" in line


def test_a_default_with_no_entry_fails():
    unpinned = Choice("vllm", "v9.0.0", "llm-judge:aws.vllm.tag")

    (problem,) = _problems([unpinned], lifecycle.READ)

    assert "vllm v9.0.0 has no entry in components/lifecycle.py" in problem


def test_an_action_on_the_node20_runtime_fails_and_a_new_major_must_be_recorded():
    workflow = {
        "jobs": {
            "j": {
                "steps": [
                    {"uses": "actions/upload-artifact@v4.6.2"},
                    {"uses": "actions/checkout@v9.0.0"},
                    {"uses": "actions/setup-node@v7.0.0", "with": {"node-version": "20"}},
                ]
            }
        }
    }

    problems = _problems(lifecycle.workflow_choices("ci.yml", workflow), lifecycle.READ)

    assert any("actions/upload-artifact@v4.6.2" in p and "node20 ended on 2026-09-16" in p for p in problems)
    assert any("unrecorded (actions/checkout@v9)" in p for p in problems)
    assert any("node 20 has no entry" in p for p in problems)


def test_the_base_image_gives_python_and_debian():
    text = "ARG PYTHON_IMAGE=python:3.11.16-slim-trixie\nFROM ${PYTHON_IMAGE} AS build\n"

    assert lifecycle.dockerfile_choices("Dockerfile.x", text) == [
        Choice("python", "3.11", "Dockerfile.x (3.11.16-slim-trixie)"),
        Choice("debian", "13", "Dockerfile.x (3.11.16-slim-trixie)"),
    ]
    (unreadable,) = lifecycle.dockerfile_choices("Dockerfile.y", "FROM python:latest\n")
    assert lifecycle.find(unreadable, lifecycle.entries()) is None


def test_the_plan_warns_from_90_days_before_a_stack_choice_ends():
    for name in STACKS:
        cfg = _stack(name)
        soonest = _soonest(lifecycle.stack_choices(cfg))

        assert lifecycle.stack_warnings(cfg, soonest.ends - dt.timedelta(days=91)) == []
        warnings = lifecycle.stack_warnings(cfg, soonest.ends - dt.timedelta(days=90))
        assert warnings, name
        assert all(soonest.name in w and soonest.source in w for w in warnings)


def test_after_an_eks_versions_date_the_plan_warns_once():
    cfg = _stack("dev")
    version = cfg.aws.cluster.version
    ends = eks_versions.lookup(version).end_of_standard_support
    assert ends is not None

    before = lifecycle.stack_warnings(cfg, ends - dt.timedelta(days=1))
    after = lifecycle.stack_warnings(cfg, ends + dt.timedelta(days=1))

    assert [w for w in before if f": eks {version} ends on {ends}" in w]
    assert not [w for w in after if f": eks {version} " in w], "eks_versions.support_warnings says it"
    assert eks_versions.support_warnings(version, ends + dt.timedelta(days=1))


def test_what_a_stack_switches_off_is_not_its_choice():
    cfg = _stack("dev", autoscaling={"enabled": False}, devicePlugin={"enabled": False})

    subjects = {c.subject for c in lifecycle.stack_choices(cfg)}

    assert not subjects & {"keda", "keda-add-ons-http", "nvidia-device-plugin"}
    assert {"eks", "vllm"} <= subjects


def test_make_plan_shows_the_warning():
    # The autoscaler row for 1.32 left the fix window when 1.36.0 shipped: the plan of a stack on
    # 1.32 says so whatever today's date (the same render as tests/components/aws/test_scaling.py).
    plan = render_aws("dev", {"cluster": {"version": "1.32"}})

    warnings = [message for severity, message in plan.diagnostics if severity == "warning"]
    assert any("cluster-autoscaler 1.32 ended on 2026-07-01" in w for w in warnings), warnings


def test_eks_and_autoscaler_entries_are_read_from_their_tables():
    table = lifecycle.entries()
    for version in eks_versions.CALENDAR:
        entry = lifecycle.find(Choice("eks", version.version, "-"), table)
        assert (entry.ends if entry else None) == version.end_of_standard_support
    rows = {e.version: e for e in table if e.subject == "cluster-autoscaler"}
    assert set(rows) == set(autoscaler_versions.RELEASES)
    # 1.32 + 4 = 1.36, the newest minor: out of the window since the day it shipped.
    assert (rows["1.32"].ends, rows["1.32"].fixed) == (autoscaler_versions.NEWEST_MINOR_RELEASED, True)
    assert rows["1.33"].ends < rows["1.34"].ends < rows["1.35"].ends
    assert not rows["1.35"].fixed


def test_every_entry_has_a_source_a_reading_date_and_one_meaning():
    table = lifecycle.entries()
    for entry in table:
        assert entry.source.startswith("https://"), entry.name
        assert entry.read_on <= dt.date.today(), entry.name
        assert entry.what, entry.name
        assert entry.change, entry.name
    names = [e.name for e in table]
    assert len(names) == len(set(names)), "two entries for the same pin"


def test_an_entry_covers_its_version_as_a_prefix():
    entry = lifecycle.find(Choice("keda", "2.21.0", "-"), lifecycle.entries())

    assert entry is not None
    assert entry.covers("keda", "2.21.4")
    assert not entry.covers("keda", "2.210.0")
    assert not entry.covers("keda", "2.22.0")


def test_gemini_rows_come_from_the_model_catalogue():
    from app.batch_job import catalogue

    models = catalogue.models()

    rows = lifecycle.gemini_entries(models)

    assert len(rows) == len(models)
    for model, row in zip(models, rows, strict=True):
        assert row.source == model.source
        assert row.fixed == (model.retirement is not None and model.retirement_announced)
    (default,) = [c for c in lifecycle.default_choices() if c.subject == "gemini"]
    entry = lifecycle.find(default, lifecycle.entries())
    assert entry is not None
    assert entry.version == "gemini-3.5-flash-lite"  # not gemini-3.5-flash: a name is not a prefix
    retired = lifecycle.find(lifecycle.Choice("gemini", "gemini-2.5-flash", "-"), lifecycle.entries())
    assert retired is not None
    assert lifecycle.ending([default], dt.date(2026, 12, 6), 30)[0] == []
    assert lifecycle.ending([lifecycle.Choice("gemini", "gemini-2.5-flash", "x")], dt.date(2026, 12, 6), 30)[
        0
    ]
