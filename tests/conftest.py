from collections import Counter

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
