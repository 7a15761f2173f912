"""Everything the repository pins that has an end date: one table, and the checks that read it.

Each ``Entry`` says what is pinned (a subject and the version prefix it covers), the day it ends, what
happens that day, where that was read and when, and what to change. Where the upstream gives no date
(KEDA supports a minor "until N+2 ships", vLLM and the device plugin promise nothing), the entry holds a
*review-by* date with its reason (``fixed=False``), so the repository still notices when it comes.

Read by:

- ``stack_warnings`` (``make plan`` and ``pulumi preview``, through components/program.py): a stack's
  own choices (its EKS version and the autoscaler that follows it, chart versions, image tags) that end
  within ``PLAN_WARNING_DAYS``;
- ``tests/components/test_lifecycle.py`` (``make test``, and weekly on main by
  ``.github/workflows/lifecycle.yml``): fails when one of the repository's own defaults (a key's default,
  what the committed stacks use, the Dockerfiles' base image, the workflows' Python, Node and action
  runtimes) ends within ``DEFAULT_FAILURE_DAYS``, or has no entry at all.

EKS versions come from components/config/eks_versions.py and the autoscaler rows from
components/aws/autoscaler_versions.py (read, not copied). Gemini models come from the batch job's model
catalogue through ``gemini_entries``. The date to check against is always a parameter: tests pass fixed
dates on both sides of each line, the real check passes today.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from components.aws import autoscaler_versions
from components.aws.builders import node_group
from components.config import StackConfig, eks_versions
from components.config.aws import AwsConfig
from components.config.gcp import GcpConfig

PLAN_WARNING_DAYS = 90
DEFAULT_FAILURE_DAYS = 30
READ = dt.date(2026, 12, 5)
"""When the dates below without a date of their own were read (``/work/shared/FACTS.md``-style notes:
stored copies of the upstream sources, confirmed where a newer copy existed)."""


@dataclass(frozen=True)
class Entry:
    subject: str
    """What is pinned: ``eks``, ``cluster-autoscaler``, ``keda``, ``python`` ... (``Choice.subject``)."""
    version: str
    """The version the entry covers, as a prefix: ``"2.21"`` covers chart 2.21.0 and 2.21.3, ``"3.11"``
    covers python:3.11.16-slim-trixie; a leading ``v`` is ignored on both sides."""
    ends: dt.date
    what: str
    """What happens on ``ends`` (or, for a review-by date, why that date)."""
    source: str
    read_on: dt.date
    change: str
    """What to change when the date comes."""
    fixed: bool = True
    """True: the upstream's own date. False: a review-by date of ours (no upstream date exists)."""

    @property
    def name(self) -> str:
        return f"{self.subject} {self.version}"

    def covers(self, subject: str, version: str) -> bool:
        mine, theirs = self.version.removeprefix("v"), version.removeprefix("v")
        return subject == self.subject and (theirs == mine or theirs.startswith(mine + "."))


@dataclass(frozen=True)
class Choice:
    """One pinned thing in use: what, which version, and where it is set (a config key or a file)."""

    subject: str
    version: str
    where: str


# --- The entries whose dates are upstream facts or review-by dates of ours --------------------------

_CHANGE_VLLM = "llm-judge:aws.vllm.tag (default in components/config/aws_vllm.py; both stack files)"
_CHANGE_PYTHON = "ARG PYTHON_IMAGE in build/Dockerfile.* and python-version in .github/workflows/"

STATIC: tuple[Entry, ...] = (
    Entry(
        "keda",
        "2.21",
        dt.date(2027, 5, 10),
        "KEDA fixes a minor until the second one after it ships (N+2); v2.23 is planned for "
        "the 2nd week of May 2027 (ROADMAP.md). Chart 2.21.0: others' "
        "manifests and charts show it released (2.21.1, pinned before, was not found upstream)",
        "https://github.com/kedacore/keda/blob/main/ROADMAP.md",
        READ,
        "llm-judge:aws.autoscaling.keda.chartVersion (default in components/config/aws_scaling.py)",
        fixed=False,
    ),
    Entry(
        "keda-add-ons-http",
        "0.15",
        dt.date(2027, 6, 5),
        "the HTTP add-on is beta with no support policy. HTTPScaledObject (http.keda.sh/v1alpha1) is "
        "deprecated since 0.14 in favour of InterceptorRoute and goes 'in a future release' before v1.0 "
        "(CHANGELOG); the wake path renders InterceptorRoute (components/aws/builders/judge_scaling.py)",
        "https://github.com/kedacore/http-add-on/blob/main/CHANGELOG.md",
        READ,
        "llm-judge:aws.autoscaling.wake.chartVersion (default in components/config/aws_scaling.py)",
        fixed=False,
    ),
    Entry(
        "vllm",
        "0.33",
        dt.date(2027, 6, 5),
        "vLLM supports no release line; a minor ships every few weeks and deprecates APIs "
        "(max_tokens, guided_json) within a few minors. The v0.33.0 image tag was not seen upstream in "
        "the copies read: look it up (and its digest) before deploying",
        "https://github.com/vllm-project/vllm/releases",
        READ,
        _CHANGE_VLLM,
        fixed=False,
    ),
    Entry(
        "nvidia-device-plugin",
        "0.20",
        dt.date(2027, 6, 5),
        "NVIDIA gives the device plugin no support window; v0.20.0 (2026-08-19) is the newest "
        "tag seen upstream (v0.20.1 was not found)",
        "https://github.com/NVIDIA/k8s-device-plugin/releases/tag/v0.20.0",
        READ,
        "llm-judge:aws.devicePlugin.tag (default in components/config/aws_device_plugin.py)",
        fixed=False,
    ),
    Entry(
        "python",
        "3.11",
        dt.date(2027, 10, 31),
        "Python 3.11 reaches end of life: no more security releases, and no more python:3.11 images",
        "https://devguide.python.org/versions/",
        READ,
        _CHANGE_PYTHON + " (and the locks: tools/locks.py, pyproject.toml)",
    ),
    Entry(
        "debian",
        "13",
        dt.date(2028, 8, 9),
        "Debian 13 (trixie), the base of the python:*-slim-trixie images, leaves security support",
        "https://wiki.debian.org/DebianReleases",
        READ,
        "the -trixie suffix of ARG PYTHON_IMAGE in build/Dockerfile.*",
    ),
    Entry(
        "node",
        "22",
        dt.date(2027, 4, 30),
        "Node.js 22 (the workflows' Node, for the npm schema packages and Renovate's validator) reaches "
        "end of life",
        "https://github.com/nodejs/Release#release-schedule",
        READ,
        "node-version in .github/workflows/",
    ),
    Entry(
        "actions-runtime",
        "node24",
        dt.date(2028, 4, 30),
        "Node.js 24 reaches end of life; GitHub removes a runtime from its runners after that "
        "(Node 20: end of life 2026-04-30, removed 2026-09-16)",
        "https://github.com/nodejs/Release#release-schedule",
        READ,
        "each action's newer major that runs on a newer runtime (its action.yml, runs.using)",
        fixed=False,
    ),
    Entry(
        "actions-runtime",
        "node20",
        dt.date(2026, 9, 16),
        "GitHub removes Node 20 from its runners (the date its deprecation warnings quote); actions whose "
        "action.yml says runs.using: node20 stop working",
        "https://github.com/actions/runner/pull/3948",
        READ,
        "the action's newer major that runs on node24",
    ),
    Entry(
        "al2023",
        "AL2023",
        dt.date(2027, 6, 30),
        "Amazon Linux 2023 (the EKS node AMIs) leaves active support for maintenance support (security "
        "fixes only, until 2029-06-30)",
        "https://docs.aws.amazon.com/linux/al2023/ug/release-cadence.html",
        READ,
        "the AMI type in components/aws/builders/node_group.py (AMI_TYPE) and cluster.systemNodes.amiType, "
        "once EKS publishes AMIs of AL2023's successor",
    ),
)

ACTION_RUNTIMES: dict[str, str] = {
    # action@major -> runs.using of its action.yml (read at the pinned release tag, READ).
    "actions/checkout@v6": "node24",
    "actions/setup-python@v6": "node24",
    "actions/setup-node@v7": "node24",
    "actions/upload-artifact@v4": "node20",
    "actions/upload-artifact@v7": "node24",
    "aws-actions/configure-aws-credentials@v5": "node20",
    "aws-actions/configure-aws-credentials@v6": "node24",
    "google-github-actions/auth@v3": "node24",
    "pulumi/actions@v7": "node24",
}
"""The runtime each GitHub Action major runs on: ``https://github.com/<action>/blob/<tag>/action.yml``,
``runs.using``. A new major (Renovate proposes them) needs its line here."""


# --- Entries read from the version tables --------------------------------------------------------


def eks_entries() -> list[Entry]:
    """EKS versions with dates, from components/config/eks_versions.py: each ends with standard support
    (extended support costs extra per cluster hour)."""
    out = []
    for version in eks_versions.CALENDAR:
        if version.end_of_standard_support is None:
            continue  # undated: eks_versions.support_warnings asks for the dates
        out.append(
            Entry(
                "eks",
                version.version,
                version.end_of_standard_support,
                f"EKS standard support of Kubernetes {version.version} ends; extended support (extra cost "
                f"per cluster hour) until {version.end_of_extended_support}",
                eks_versions.SOURCE,
                eks_versions.CALENDAR_CHECKED,
                "llm-judge:aws.cluster.version after upgrading the cluster (default: "
                "components/config/eks_versions.py DEFAULT_VERSION)",
            )
        )
    return out


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def autoscaler_entries() -> list[Entry]:
    """One entry per row of components/aws/autoscaler_versions.py, dated by the autoscaler's rule: fixes
    go to the newest minor and the three before it, so a row leaves that window when the fourth minor
    after it ships. Minors that shipped have their date; later ones are estimated from the cadence of
    Kubernetes minors (a review-by date)."""
    newest = autoscaler_versions.NEWEST_MINOR
    out = []
    for row in autoscaler_versions.RELEASES.values():
        leaves_with = _minor(row.kubernetes) + autoscaler_versions.SUPPORTED_MINORS
        ahead = leaves_with - _minor(newest)
        ends = autoscaler_versions.NEWEST_MINOR_RELEASED + dt.timedelta(
            days=ahead * autoscaler_versions.MINOR_CADENCE_DAYS
        )
        if ahead <= 0:
            what = (
                f"no more fixes: 1.{leaves_with} left the 'latest minor and the three before it' window "
                f"when 1.{_minor(newest)}.0 shipped"
            )
        else:
            what = (
                f"fixes stop when 1.{leaves_with}.0 ships ('latest minor and the three before "
                f"it'), expected about {ahead} Kubernetes minor(s) after 1.{_minor(newest)}.0 "
                f"({autoscaler_versions.NEWEST_MINOR_RELEASED})"
            )
        if ahead < 0:
            ends = autoscaler_versions.NEWEST_MINOR_RELEASED  # the earliest date known to be past
        out.append(
            Entry(
                "cluster-autoscaler",
                row.kubernetes,
                ends,
                what,
                autoscaler_versions.SOURCE,
                autoscaler_versions.CHECKED,
                "upgrade the cluster and llm-judge:aws.cluster.version (the autoscaler follows it); "
                "record newer patches in components/aws/autoscaler_versions.py",
                fixed=ahead <= 0,
            )
        )
    return out


class GeminiModel(Protocol):
    """What ``gemini_entries`` reads of a model of app/batch_job/catalogue.py."""

    @property
    def name(self) -> str: ...
    @property
    def release(self) -> dt.date: ...
    @property
    def retirement(self) -> dt.date | None: ...
    @property
    def retirement_announced(self) -> bool: ...
    @property
    def source(self) -> str: ...
    @property
    def read_on(self) -> dt.date: ...


def gemini_entries(models: Iterable[GeminiModel]) -> list[Entry]:
    """The Gemini rows, from the batch job's model catalogue (``catalogue.models()``), which holds the
    one copy of Gemini's dates. A retirement Google announced is a fixed date; one it has not is the
    "no earlier than" date of Vertex's model-versions table, a year after release when none is given."""
    out = []
    for model in models:
        name = model.name.rsplit("/", 1)[-1]
        if model.retirement is not None and model.retirement_announced:
            ends, fixed = model.retirement, True
            what = f"Vertex AI retires {name} (new projects lose access a month before)"
        else:
            ends = model.retirement or model.release + dt.timedelta(days=365)
            fixed = False
            what = f"{name}'s retirement is 'no earlier than' this date (not announced)"
        out.append(
            Entry(
                "gemini",
                name,
                ends,
                what,
                model.source,
                model.read_on,
                "llm-judge:gcp.jobs.judge.modelId (default in components/config/gcp_judge_job.py): a "
                "current model of app/batch_job/catalogue.py",
                fixed=fixed,
            )
        )
    return out


def gemini_choice(gcp: GcpConfig) -> Choice:
    """The Gemini model a stack's batch job uses, as a choice ``gemini_entries`` can cover."""
    return Choice("gemini", gcp.jobs.judge.model_id.rsplit("/", 1)[-1], "llm-judge:gcp.jobs.judge.modelId")


def entries() -> tuple[Entry, ...]:
    """The whole table."""
    from app.batch_job import catalogue

    return (*STATIC, *eks_entries(), *autoscaler_entries(), *gemini_entries(catalogue.models()))


# --- Choices: what a stack, the defaults and the repository's files pin ---------------------------


def aws_choices(aws: AwsConfig, *, everything: bool = False) -> list[Choice]:
    """What an AWS config pins that has an end date. ``everything``: also what a switched-off part would
    pin (the repository's defaults are checked whether a stack turns them on or not)."""
    key = "llm-judge:aws"
    version = aws.cluster.version
    out = [
        Choice("eks", version, f"{key}.cluster.version"),
        Choice("al2023", node_group.AMI_TYPE.split("_")[0], "components/aws/builders/node_group.py AMI_TYPE"),
        Choice("vllm", aws.vllm.tag, f"{key}.vllm.tag"),
    ]
    if aws.cluster.create or everything:
        ami = aws.cluster.system_nodes.ami_type
        out.append(Choice("al2023", ami.split("_")[0], f"{key}.cluster.systemNodes.amiType"))
    autoscaler = aws.cluster_autoscaler
    # The row that follows cluster.version is only in use when no override replaces it.
    if (everything or aws.installs_cluster_autoscaler) and autoscaler.chart_version is None:
        out.append(Choice("cluster-autoscaler", version, f"{key}.cluster.version (clusterAutoscaler)"))
    if everything or aws.device_plugin.enabled:
        out.append(Choice("nvidia-device-plugin", aws.device_plugin.tag, f"{key}.devicePlugin.tag"))
    scaling = aws.autoscaling
    if everything or (scaling.enabled and scaling.keda.install):
        out.append(Choice("keda", scaling.keda.chart_version, f"{key}.autoscaling.keda.chartVersion"))
    if everything or (scaling.enabled and scaling.wake.enabled and scaling.wake.install):
        out.append(
            Choice("keda-add-ons-http", scaling.wake.chart_version, f"{key}.autoscaling.wake.chartVersion")
        )
    return out


def stack_choices(cfg: StackConfig) -> list[Choice]:
    """What a stack's config pins, as far as it deploys it."""
    out = aws_choices(cfg.aws) if cfg.aws.enabled else []
    if cfg.gcp.enabled:
        out.append(gemini_choice(cfg.gcp))
    return out


def default_choices() -> list[Choice]:
    """What a stack gets without setting a key."""
    return [*aws_choices(AwsConfig(), everything=True), gemini_choice(GcpConfig())]


_FROM_PYTHON = re.compile(
    r"^ARG PYTHON_IMAGE=python:(?P<tag>(?P<python>\d+\.\d+)\.\d+-slim-(?P<codename>\w+))$", re.M
)
DEBIAN_CODENAMES = {"bookworm": "12", "trixie": "13", "forky": "14"}


def dockerfile_choices(name: str, text: str) -> list[Choice]:
    """The base image of one of build/Dockerfile.*: Python's minor and the Debian release under it."""
    found = _FROM_PYTHON.search(text)
    if found is None:
        return [
            Choice("python-image", "unreadable", f"{name}: no ARG PYTHON_IMAGE=python:X.Y.Z-slim-<debian>")
        ]
    codename = found["codename"]
    return [
        Choice("python", found["python"], f"{name} ({found['tag']})"),
        Choice("debian", DEBIAN_CODENAMES.get(codename, codename), f"{name} ({found['tag']})"),
    ]


def workflow_choices(name: str, workflow: dict) -> list[Choice]:
    """A GitHub workflow's pins: setup-python's and setup-node's versions, and each action's runtime."""
    out = []
    for job_name, job in workflow.get("jobs", {}).items():
        for step in job.get("steps", []):
            uses = step.get("uses")
            if not uses or "@" not in uses:
                continue
            action, ref = uses.split("@", 1)
            where = f"{name}: {job_name}: {uses}"
            major = f"{action}@{ref.split('.')[0]}"
            out.append(Choice("actions-runtime", ACTION_RUNTIMES.get(major, f"unrecorded ({major})"), where))
            inputs = step.get("with") or {}
            if action == "actions/setup-python":
                out.append(Choice("python", str(inputs.get("python-version")), where))
            if action == "actions/setup-node":
                out.append(Choice("node", str(inputs.get("node-version")), where))
    return out


def prompt_choices(name: str, prompt: dict) -> list[Choice]:
    """A prompt file's own ``model`` when it names a Gemini model (``google/gemini-...``): gh-models runs
    the prompt on it, and it reads as the model the prompt was written for."""
    model = str(prompt.get("model") or "")
    if not model.removeprefix("google/").startswith("gemini-"):
        return []
    return [Choice("gemini", model.removeprefix("google/"), f"{name}: model")]


# --- The checks ------------------------------------------------------------------------------------


def find(choice: Choice, table: Iterable[Entry]) -> Entry | None:
    return next((e for e in table if e.covers(choice.subject, choice.version)), None)


def describe(entry: Entry, choice: Choice, today: dt.date) -> str:
    days = (entry.ends - today).days
    if entry.fixed:
        when = f"ended on {entry.ends}" if days < 0 else f"ends on {entry.ends} (in {days} days)"
    else:
        when = f"was due for review on {entry.ends}" if days < 0 else f"is due for review on {entry.ends}"
        when += f" (in {days} days; no upstream end date)" if days >= 0 else " (no upstream end date)"
    return (
        f"{choice.where}: {entry.name} {when}: {entry.what}. Source: {entry.source} (read "
        f"{entry.read_on}). Change: {entry.change}"
    )


def ending(
    choices: Iterable[Choice], today: dt.date, within_days: int, table: Iterable[Entry] | None = None
) -> tuple[list[str], list[Choice]]:
    """(one line per choice whose entry ends within ``within_days`` of ``today`` or has ended, the
    choices no entry covers)."""
    rows = tuple(entries() if table is None else table)
    lines, unknown = [], []
    for choice in choices:
        entry = find(choice, rows)
        if entry is None:
            unknown.append(choice)
        elif (entry.ends - today).days <= within_days:
            lines.append(describe(entry, choice, today))
    return lines, unknown


# eks_versions.support_warnings already says what to do once an EKS version's date has passed.
_WARNED_ELSEWHERE_AFTER_THE_END = frozenset({"eks"})


def stack_warnings(cfg: StackConfig, today: dt.date, within_days: int = PLAN_WARNING_DAYS) -> list[str]:
    """``make plan``'s warnings: the stack's choices that end within ``within_days`` (or have ended).
    A choice with no entry (a version the stack file sets that the table does not know) is left to
    the reviewer of that stack file: the defaults' coverage is what the tests enforce."""
    rows = entries()
    out = []
    for choice in stack_choices(cfg):
        entry = find(choice, rows)
        if entry is None or (entry.ends - today).days > within_days:
            continue
        if entry.ends <= today and entry.subject in _WARNED_ELSEWHERE_AFTER_THE_END:
            continue
        out.append(describe(entry, choice, today))
    return out
