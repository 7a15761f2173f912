# Fixture modules shared across areas; add yours to the list.
pytest_plugins = [
    "tests.support.fixtures",
]


def pytest_collection_modifyitems(items):
    # The type check (tests/test_types.py) runs basedpyright for tens of seconds in a process of its
    # own: queued first, it overlaps the rest of the suite under xdist instead of trailing it.
    items.sort(key=lambda item: "test_type_check_is_clean" not in item.nodeid)
