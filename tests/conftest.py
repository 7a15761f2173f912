from collections import Counter

import pytest

# Fixture modules shared across areas; add yours to the list.
pytest_plugins = [
    "tests.support.fixtures",
]


def pytest_collection_modifyitems(items):
    """Costliest files first. `make test` hands whole files to its workers (`--dist loadfile`) in the
    order of ``items`` (`--no-loadscope-reorder`: xdist would otherwise queue the files with the most
    tests first, which put the type check's 30 s basedpyright run last, alone on one worker for its
    last 17 s while the others sat idle). A file's `cost(seconds)` mark (its rough wall time on an idle
    2-core machine, a scheduling hint and nothing else) puts it ahead, the costliest first; the files
    without one follow, those with the most tests first."""
    tests_in = Counter(_file(item) for item in items)
    cost: dict[str, float] = {}
    for item in items:
        mark = item.get_closest_marker("cost")
        if mark is not None:
            cost[_file(item)] = max(cost.get(_file(item), 0.0), float(mark.args[0]))
    items.sort(key=lambda item: (-cost.get(_file(item), 0.0), -tests_in[_file(item)], _file(item)))


def _file(item) -> str:
    return item.nodeid.split("::", 1)[0]


# --- no silent skips ---------------------------------------------------------------------------------
# A skipped test is a check nobody ran, and `make test` still says "passed": a missing tool or module
# must fail the test with the way to install it (tests/support/requires.py). A test that may really be
# skipped says why with `@pytest.mark.may_skip("reason")`; xfail keeps its own meaning.


def _skip_allowed(item: pytest.Item) -> bool:
    mark = item.get_closest_marker("may_skip")
    return mark is not None and bool(mark.args and str(mark.args[0]).strip())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and not _skip_allowed(item):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"skipped without leave: {reason}\n(a missing tool or module fails with its install hint; a "
            'skip that is right says why with @pytest.mark.may_skip("reason"), tests/conftest.py)'
        )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    if report.skipped:  # a module-level skip or importorskip: every test of the file silently gone
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{collector.nodeid}: skipped at collection: {reason}"
    return report
