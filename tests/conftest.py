# Fixture modules shared across areas; add yours to the list.
pytest_plugins = [
    "tests.support.fixtures",
]
