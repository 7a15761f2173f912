"""aws.cluster.version: the accepted EKS versions, their support dates, and the plan's warnings."""

from __future__ import annotations

import datetime as dt

import pytest
from kubernetes_validate.utils import all_versions, major_minor

from components.config import AwsConfig, ConfigError, load_stack_config
from components.config import eks_versions as ev
from tests.components.aws.helpers import render_aws
from tools import manifests as k8s


def version_problem(version: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_stack_config({"aws": {"cluster": {"name": "c", "version": version}}, "gcp": {"enabled": False}})
    (problem,) = info.value.problems
    return problem


def test_the_default_is_in_standard_support_on_the_day_the_calendar_was_checked():
    assert AwsConfig().cluster.version == ev.DEFAULT_VERSION == "1.35"
    default = ev.lookup(ev.DEFAULT_VERSION)
    assert default is not None
    assert default.dated
    assert default.end_of_standard_support is not None
    assert default.end_of_standard_support > ev.CALENDAR_CHECKED
    assert ev.support_warnings(ev.DEFAULT_VERSION, ev.CALENDAR_CHECKED) == []


def test_every_accepted_version_can_be_validated_by_kubernetes_validate():
    checkable = {major_minor(v) for v in all_versions()}
    assert set(ev.ACCEPTED_VERSIONS) <= checkable
    for version in ev.ACCEPTED_VERSIONS:
        k8s.check_version_supported(version)


def test_no_accepted_version_was_past_extended_support_when_the_calendar_was_checked():
    for entry in ev.CALENDAR:
        if entry.end_of_extended_support is not None:
            assert entry.end_of_extended_support > ev.CALENDAR_CHECKED, entry
        if entry.dated:
            assert entry.end_of_standard_support is not None
            assert entry.eks_release is not None
            # EKS: 14 months of standard support from the release, then 12 months of extended support.
            assert (entry.end_of_standard_support - entry.eks_release).days in range(420, 430), entry
            assert (entry.end_of_extended_support - entry.end_of_standard_support).days in (365, 366), entry


@pytest.mark.parametrize("version", ["1.31", "1.30", "1.38", "1.40"])
def test_versions_out_of_support_or_without_schemas_are_refused(version):
    problem = version_problem(version)
    assert problem.startswith(f"llm-judge:aws.cluster.version: {version} is not a version this stack accepts")
    assert "1.32, 1.33, 1.34, 1.35, 1.36, 1.37" in problem


def test_a_malformed_version_is_refused():
    assert version_problem("1.35.2").startswith("llm-judge:aws.cluster.version: must be a Kubernetes minor")


def test_support_warnings_follow_the_calendar():
    assert ev.support_warnings("1.34", dt.date(2026, 12, 1)) == []
    (standard,) = ev.support_warnings("1.34", dt.date(2026, 12, 2))
    assert "left EKS standard support on 2026-12-02" in standard
    assert "until 2027-12-02" in standard
    (extended,) = ev.support_warnings("1.33", dt.date(2027, 7, 29))
    assert "left EKS extended support on 2027-07-29" in extended
    (undated,) = ev.support_warnings("1.37", ev.CALENDAR_CHECKED)
    assert "not recorded in components/config/eks_versions.py" in undated


def test_the_plan_warns_about_a_version_in_extended_support_and_a_cluster_on_another_version():
    # 1.33 left standard support in July 2026; the mocked existing cluster runs the default, 1.35.
    plan = render_aws("dev", {"cluster": {"version": "1.33"}})
    warnings = [m for sev, m in plan.diagnostics if sev == "warning"]
    assert any("1.33 left EKS standard support on 2026-07-29" in m for m in warnings), warnings
    assert any("cluster.version is 1.33 but cluster runs Kubernetes 1.35" in m for m in warnings), warnings


def test_the_stack_files_use_the_default_and_validate_manifests_against_it():
    # (Support warnings depend on today's date: test_support_warnings_follow_the_calendar pins them.)
    for stack in ("dev", "prod"):
        plan = render_aws(stack)
        assert plan.config is not None
        assert plan.config.aws.cluster.version == ev.DEFAULT_VERSION
        assert k8s.kubernetes_version(plan) == ev.DEFAULT_VERSION
        assert not [m for _, m in plan.diagnostics if "but cluster runs" in m], plan.diagnostics
