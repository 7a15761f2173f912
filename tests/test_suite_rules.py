"""Rules the suite keeps about its own tests (docs/testing.md): here, that a test whose checks all sit in
a loop makes sure the loop ran. A loop over what a render, a glob or a filter returns passes without
checking anything when that comes back empty (a renamed type token, a moved file)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return bool(node.elts)
    if isinstance(node, ast.Dict):
        return bool(node.keys)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "range":
            return all(isinstance(a, ast.Constant) for a in node.args)
        if node.func.id in ("enumerate", "sorted", "reversed", "zip"):
            return all(_literal(a) for a in node.args)
    return False


class _Module:
    def __init__(self, tree: ast.Module) -> None:
        self.parents = _parents(tree)
        # Helpers of the module that check what they return themselves.
        self.checking_helpers = {
            fn.name
            for fn in tree.body
            if isinstance(fn, ast.FunctionDef) and any(isinstance(n, ast.Assert) for n in ast.walk(fn))
        }

    def never_empty(self, iterable: ast.expr, fn: ast.FunctionDef) -> bool:
        """Known not to be empty: a literal, a module constant (UPPER_CASE), a local list built from a
        literal, or what a helper returns after checking it."""
        if _literal(iterable):
            return True
        if (  # literal.items(), CONSTANT.values(), local.keys()
            isinstance(iterable, ast.Call)
            and isinstance(iterable.func, ast.Attribute)
            and iterable.func.attr in ("items", "values", "keys")
            and not iterable.args
        ):
            return self.never_empty(iterable.func.value, fn)
        target = iterable
        while True:  # CONSTANT, CONSTANT.values(), module.CONSTANT
            if isinstance(target, ast.Attribute) and target.attr.isupper():
                return True
            if isinstance(target, ast.Name):
                if target.id.isupper():
                    return True
                break
            if not isinstance(target, ast.Call | ast.Attribute):
                break
            target = target.func if isinstance(target, ast.Call) else target.value
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name):
            return iterable.func.id in self.checking_helpers
        if isinstance(iterable, ast.Name):
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == iterable.id for t in node.targets)
                    and _literal(node.value)
                ):
                    return True
        return False

    def unchecked_loop(self, node: ast.AST, fn: ast.FunctionDef) -> str | None:
        """The first loop around ``node`` that may run zero times, or None."""
        while node is not fn:
            node = self.parents[node]
            if isinstance(node, ast.While):
                return "while " + ast.unparse(node.test)
            if isinstance(node, ast.For | ast.AsyncFor) and not self.never_empty(node.iter, fn):
                return "for ... in " + ast.unparse(node.iter)
        return None


def loop_only_tests(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        module = _Module(tree)
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith("test"):
                continue
            asserts = [n for n in ast.walk(fn) if isinstance(n, ast.Assert)]
            if not asserts:
                continue  # pytest.raises and friends: another rule
            loops = {module.unchecked_loop(a, fn) for a in asserts}
            if None not in loops:
                found.append(f"{path.relative_to(root.parent)}:{fn.lineno} {fn.name}: {sorted(loops)[0]}")
    return found


def test_a_test_that_checks_only_inside_loops_asserts_that_they_ran():
    found = loop_only_tests(TESTS)
    assert not found, (
        "every check of these tests is inside a loop that may run zero times; assert what it loops over "
        "first (e.g. `assert items`, or count the checks and assert the count):\n" + "\n".join(found)
    )


def test_the_rule_sees_an_empty_loop_and_passes_a_guarded_one(tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "def test_bare(plan):\n"
        "    for r in plan.of_type('x'):\n"
        "        assert r\n"
        "def test_guarded(plan):\n"
        "    found = plan.of_type('x')\n"
        "    assert found\n"
        "    for r in found:\n"
        "        assert r\n"
        "def test_literal():\n"
        "    for stack in ('dev', 'prod'):\n"
        "        assert stack\n"
        "def test_nested(dev, prod):\n"
        "    for plan in (dev, prod):\n"
        "        for r in plan.resources:\n"
        "            assert r\n"
    )
    found = loop_only_tests(tmp_path)
    assert [line.split()[1].rstrip(":") for line in found] == ["test_bare", "test_nested"]


# --- no silent skips (tests/conftest.py) --------------------------------------------------------------

_SKIPPING = """
import pytest

@pytest.fixture
def tool():
    pytest.skip("no tool")

def test_inline():
    pytest.skip("no module")

@pytest.mark.skip(reason="not today")
def test_marked():
    pass

@pytest.mark.skipif(True, reason="no binary")
def test_skipif():
    pass

def test_in_a_fixture(tool):
    pass

@pytest.mark.may_skip("")
def test_leave_without_a_reason():
    pytest.skip("x")

@pytest.mark.may_skip("needs a GPU")
def test_with_leave():
    pytest.skip("no GPU")

@pytest.mark.xfail(reason="known", strict=True)
def test_xfail():
    assert False

def test_a_thread_raises():
    import threading
    def watch():
        raise FileNotFoundError("the served link is gone")
    thread = threading.Thread(target=watch)
    thread.start()
    thread.join()
"""


def test_a_skip_without_leave_or_a_thread_exception_fails_the_run(tmp_path):
    """The suite's own configuration (pyproject.toml's pytest section and the guard in tests/conftest.py),
    run on a suite of its own in a fresh pytest process: every way a test or a whole file can skip fails,
    unless the test says why with ``may_skip``; xfail keeps its meaning; an exception in a thread the test
    started fails the test."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401\n"
    )
    (tmp_path / "test_skips.py").write_text(_SKIPPING)
    (tmp_path / "test_gone.py").write_text(
        "import pytest\npytest.importorskip('no_such_module_here')\n\ndef test_x():\n    pass\n"
    )
    config = ["-c", str(TESTS.parent / "pyproject.toml"), "--rootdir", str(tmp_path)]
    flags = ["-q", "-rA", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist"]
    files = ["--continue-on-collection-errors", "test_skips.py", "test_gone.py"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *config, *flags, *files],
        cwd=tmp_path,
        env={"PYTHONPATH": str(TESTS.parent), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    # -rA's summary: "FAILED test_skips.py::test_inline - ...", but "SKIPPED [1] test_skips.py:28: no GPU"
    outcomes = {}
    for line in result.stdout.splitlines():
        outcome, _, rest = line.partition(" ")
        if outcome == "SKIPPED":
            outcomes[f"skipped: {rest.rpartition(': ')[2]}"] = outcome
        elif outcome in ("PASSED", "FAILED", "ERROR", "XFAIL", "XPASS"):
            outcomes[rest.partition(" ")[0]] = outcome
    assert outcomes == {
        "test_gone.py": "ERROR",
        "test_skips.py::test_inline": "FAILED",
        "test_skips.py::test_marked": "ERROR",
        "test_skips.py::test_skipif": "ERROR",
        "test_skips.py::test_in_a_fixture": "ERROR",
        "test_skips.py::test_leave_without_a_reason": "FAILED",
        "skipped: no GPU": "SKIPPED",
        "test_skips.py::test_xfail": "XFAIL",
        "test_skips.py::test_a_thread_raises": "FAILED",
    }, result.stdout
    assert "skipped without leave: Skipped: no module" in result.stdout
    assert "test_gone.py: skipped at collection" in result.stdout
