"""The test tree's layout: shared helpers live in tests/support and nowhere else.

A test module that imports from another test module or from a conftest couples two packages' tests
(and runs the other module's import-time code); a helper module beside the tests is found by nobody
looking in tests/support. Both are refused here, naming the file, the line and where the helper goes.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SUPPORT = TESTS / "support"
#: What may sit in a test package besides tests/support.
TEST_FILES = ("test_*.py", "conftest.py", "__init__.py")


def _module_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path, root: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The absolute module names an import statement reads (``from a import b`` may mean module a.b)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        package = _module_of(path, root).split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        base = ".".join(package[: len(package) - node.level + 1])
        module = f"{base}.{node.module}" if node.module else base
    else:
        module = node.module or ""
    return [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]


def _allowed(module: str) -> bool:
    top, _, rest = module.partition(".")
    return top != "tests" or rest == "support" or rest.startswith("support.")


def layout_problems(root: Path = TESTS) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(root.parent)
        if not path.is_relative_to(root / "support") and not any(
            path.match(pattern) for pattern in TEST_FILES
        ):
            problems.append(f"{where}: a helper module outside tests/support; move it to tests/support/")
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for module in _imported(path, root, node):
                if not _allowed(module):
                    problems.append(
                        f"{where}:{node.lineno}: imports {module}; import shared helpers from "
                        "tests.support.<topic> (move the helper there; fixtures stay in conftest.py)"
                    )
    return problems


def test_tests_import_helpers_only_from_tests_support() -> None:
    assert layout_problems() == []


def test_the_layout_check_sees_imports_from_test_modules_and_conftests(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    (tests / "support").mkdir(parents=True)
    (tests / "pkg").mkdir()
    (tests / "support" / "topic.py").write_text("from tests.support.other import x\n")
    (tests / "pkg" / "conftest.py").write_text("from tests.support import topic\n")
    (tests / "pkg" / "test_a.py").write_text(
        "from tests.other.conftest import fixture_helper\n"
        "from .conftest import y\n"
        "import tests.other.test_b\n"
    )
    (tests / "pkg" / "helpers.py").write_text("")
    assert layout_problems(tests) == [
        "tests/pkg/helpers.py: a helper module outside tests/support; move it to tests/support/",
        "tests/pkg/test_a.py:1: imports tests.other.conftest; import shared helpers from "
        "tests.support.<topic> (move the helper there; fixtures stay in conftest.py)",
        "tests/pkg/test_a.py:2: imports tests.pkg.conftest; import shared helpers from "
        "tests.support.<topic> (move the helper there; fixtures stay in conftest.py)",
        "tests/pkg/test_a.py:3: imports tests.other.test_b; import shared helpers from "
        "tests.support.<topic> (move the helper there; fixtures stay in conftest.py)",
    ]
