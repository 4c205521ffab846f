"""No import cycles in harness/, counting imports inside functions too.

import-linter sees only what Python's import graph sees; a cycle "fixed" by moving one import
into a function still couples the two modules both ways. This walks every module's AST and
takes every ``import``/``from ... import`` of a harness module wherever it stands, except under
``if TYPE_CHECKING:`` (those never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import harness

ROOT = Path(harness.__file__).resolve().parent


def _modules(root: Path) -> dict[str, Path]:
    mods = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skip.update(id(n) for n in ast.walk(child))
    return skip


def _imported(module: str, path: Path, known: Mapping[str, Path]) -> Iterator[str]:
    """The harness modules ``module`` imports (a name imported from a package counts as the
    submodule when there is one, else as the package)."""
    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = resolve(alias.name)
                if target:
                    yield target
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            if base.split(".")[0] != ROOT.name:
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                target = target if target in known else resolve(base)
                if target:
                    yield target


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = _modules(root)
    return {m: {t for t in _imported(m, p, known) if t != m} for m, p in known.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_harness_has_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 100  # the walk found the package
    found = cycles(graph)
    assert not found, (
        "import cycles in harness/ (function-level imports count): "
        + "; ".join(" <-> ".join(c) for c in found)
        + ". Move the shared piece into its own module or pass it as a parameter/Protocol.")


def test_the_checker_sees_function_level_imports_and_skips_type_checking(tmp_path: Path) -> None:
    pkg = tmp_path / ROOT.name
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text(
        "def f():\n    from harness.sub.b import g\n    return g\n")
    (pkg / "sub" / "b.py").write_text("from . import c\n")
    (pkg / "sub" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from harness.sub import b\n"
        "import harness.sub.a\n")
    (pkg / "sub" / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from harness.sub import e\n")
    (pkg / "sub" / "e.py").write_text("from harness.sub.d import x\n")
    graph = import_graph(pkg)
    assert graph["harness.sub.a"] == {"harness.sub.b"}
    assert graph["harness.sub.c"] == {"harness.sub.a"}
    assert graph["harness.sub.d"] == set()
    assert cycles(graph) == [["harness.sub.a", "harness.sub.b", "harness.sub.c"]]
