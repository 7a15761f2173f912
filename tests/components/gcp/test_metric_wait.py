"""components/gcp/metric_wait.py: the first `pulumi up` creates the alert policies only once Cloud
Monitoring knows the log-based metrics they read, waits at most Google's ten minutes, and then stops with
a message that says what to do. Against a small Monitoring server of the tests' own that speaks the
REST API (tests/support/fake_monitoring.py)."""

from __future__ import annotations

import pytest
from pulumi.runtime.rpc import wrap_rpc_secret

from components.gcp import metric_wait
from components.gcp.metric_wait import MetricsNotVisible, MetricsVisibleProvider, wait_for_metrics
from tests.support.fake_monitoring import FakeMonitoring

RUNS = "logging.googleapis.com/user/llm-judge/loader_runs"
LAG = "logging.googleapis.com/user/llm-judge/loader_lag_over_threshold"
TOKEN = "test-token"


class FakeTime:
    """A clock that moves only when the code sleeps: production's 10 s polls and 600 s bound, at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def monitoring():
    with FakeMonitoring(TOKEN) as server:
        yield server


def wait(server: FakeMonitoring, time: FakeTime, *types: str) -> float:
    return wait_for_metrics(
        endpoint=server.url,
        project="llm-judge-dev",
        metric_types=types,
        token=TOKEN,
        clock=time.clock,
        sleep=time.sleep,
    )


def test_it_waits_until_monitoring_knows_every_metric(monitoring):
    monitoring.appear_after(RUNS, 3)
    monitoring.appear_after(LAG, 1)
    time = FakeTime()
    assert wait(monitoring, time, RUNS, LAG) == 30.0
    assert time.sleeps == [10.0, 10.0, 10.0]
    paths = [path for path, _ in monitoring.state.requests]
    # A known metric is not asked for again; the type's slashes stay in the path (name pattern "**").
    assert paths.count(f"/v3/projects/llm-judge-dev/metricDescriptors/{LAG}") == 2
    assert paths.count(f"/v3/projects/llm-judge-dev/metricDescriptors/{RUNS}") == 4
    assert {auth for _, auth in monitoring.state.requests} == {f"Bearer {TOKEN}"}


def test_it_gives_up_after_ten_minutes_saying_what_to_do(monitoring):
    monitoring.appear_after(LAG, 0)
    time = FakeTime()
    with pytest.raises(MetricsNotVisible) as info:
        wait(monitoring, time, RUNS, LAG)
    message = str(info.value)
    assert message.startswith(f"Cloud Monitoring does not know the log-based metric(s) {RUNS} 600 s after")
    assert "404 " in message
    assert "Run `pulumi up` again in a few minutes" in message
    assert sum(time.sleeps) == metric_wait.WAIT_SECONDS == 600


def test_an_answer_waiting_cannot_change_stops_at_once(monitoring):
    monitoring.deny(403)
    with pytest.raises(MetricsNotVisible, match=r"answered 403 .*monitoring\.metricDescriptors\.get"):
        wait(monitoring, FakeTime(), RUNS)
    assert len(monitoring.state.requests) == 1


def test_the_provider_creates_with_the_secret_token_and_production_timings(monitoring):
    monitoring.appear_after(RUNS, 0)
    props = {
        "project": "llm-judge-dev",
        "metric_types": [RUNS],
        "endpoint": monitoring.url,
        "access_token": wrap_rpc_secret(TOKEN),  # as the provider host hands a secret input over
    }
    result = MetricsVisibleProvider().create(props)
    assert result.outs is not None
    assert "access_token" not in result.outs  # the token is not kept in the state's outputs
    assert result.outs["metric_types"] == [RUNS]
    assert result.outs["waited_seconds"] < metric_wait.POLL_SECONDS


def test_only_other_metrics_make_it_wait_again():
    provider = MetricsVisibleProvider()
    olds = {"project": "p", "metric_types": [RUNS], "endpoint": metric_wait.MONITORING, "waited_seconds": 12}
    same = {**olds, "access_token": "a token of a later run"}
    assert provider.diff("id", olds, same).changes is False
    more = provider.diff("id", olds, {**same, "metric_types": [LAG, RUNS]})
    assert more.changes is True
    assert more.replaces == ["metric_types"]
