"""The package's shape: no import cycle, short functions, a command line that starts without torch.

These walk the source with :mod:`ast`, so they see imports inside function bodies too, and
count cyclomatic complexity the way radon does (one plus one per branch point).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ascbench"
MAX_LINES = 80
MAX_COMPLEXITY = 20

#: Functions allowed over the limits, each with the reason (keep this empty where possible).
EXCEPTIONS: dict[str, str] = {}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imported(module: str, node: ast.AST, is_package: bool, modules: dict[str, Path]) -> set[str]:
    """The ascbench modules an import statement runs: the target and every package above it."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        names = [target] + [f"{target}.{alias.name}" for alias in node.names]
    found = set()
    for name in names:
        while name:
            if name in modules:
                found.add(name)
            name = name.rpartition(".")[0]
    # a module always runs its own packages first; that is not a dependency between modules
    return {m for m in found if m != module and not module.startswith(m + ".")}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[module] |= _imported(module, node, path.name == "__init__.py", modules)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
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
                    cycles.append(sorted(component))
    return cycles


def test_no_import_cycle_including_imports_inside_functions():
    cycles = import_cycles(import_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


# -- the layer table of ARCHITECTURE.md ---------------------------------------------------------
ARCHITECTURE = PACKAGE.parent / "ARCHITECTURE.md"


def layer_table(text: str) -> list[tuple[str, list[str]]]:
    """``(layer, [module paths])`` for each row of the table under ``## Layers``, top first; a
    path is a backticked name ending in ``.py`` (a module) or ``/`` (a package)."""
    (section,) = [part for part in re.split(r"(?m)^## ", text) if part.startswith("Layers")]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("layer", "") or set(cells[0]) <= {"-"}:
            continue
        names = re.findall(r"`([^`]+)`", cells[1])
        rows.append((cells[0], [n for n in names if n.endswith((".py", "/"))]))
    return rows


def module_of(path: str) -> str:
    """``cli.py`` -> ``ascbench.cli``; ``commands/`` -> ``ascbench.commands``; ``__init__.py``
    -> ``ascbench``."""
    name = path.removesuffix("/").removesuffix(".py").replace("/", ".")
    return "ascbench" if name == "__init__" else f"ascbench.{name}"


def layer_ranks(rows: list[tuple[str, list[str]]], modules) -> tuple[dict[str, int], list[str]]:
    """Each module's row (0 = top, by the longest name that contains it) and the modules no row
    names."""
    named = {module_of(path): rank for rank, (_, paths) in enumerate(rows) for path in paths}
    ranks, unplaced = {}, []
    for module in sorted(modules):
        owner = next(
            (m for m in sorted(named, key=len, reverse=True)
             if module == m or (m != "ascbench" and module.startswith(m + "."))),
            None,
        )  # fmt: skip
        if owner is None:
            unplaced.append(module)
        else:
            ranks[module] = named[owner]
    return ranks, unplaced


def imports_up(graph: dict[str, set[str]], ranks: dict[str, int]) -> list[str]:
    """Every import of a module in a higher row (a smaller rank) than the importer's."""
    return sorted(
        f"{a} -> {b}" for a, targets in graph.items() for b in targets if ranks[b] < ranks[a]
    )


def test_every_import_goes_down_the_layer_table_of_architecture_md():
    rows = layer_table(ARCHITECTURE.read_text())
    assert rows, "ARCHITECTURE.md has no layer table under ## Layers"
    for _, paths in rows:
        for path in paths:
            assert (PACKAGE / path).exists(), f"ARCHITECTURE.md names {path}, which is not there"
    graph = import_graph()
    ranks, unplaced = layer_ranks(rows, _modules())
    assert not unplaced, f"modules no row of ARCHITECTURE.md's layer table names: {unplaced}"
    up = imports_up(graph, ranks)
    assert not up, "imports up ARCHITECTURE.md's layer table: " + "; ".join(up)


def test_the_layer_check_sees_an_import_up_and_a_module_no_row_names():
    text = (
        "## Layers\n\n| layer | modules | may import |\n|---|---|---|\n"
        "| top | `cli.py`, `commands/` | all |\n| bottom | `errors.py`, `__init__.py` | none |\n"
        "\n## Next\n| other | `jobs/` | x |\n"
    )
    rows = layer_table(text)
    assert rows == [("top", ["cli.py", "commands/"]), ("bottom", ["errors.py", "__init__.py"])]
    modules = [
        "ascbench",
        "ascbench.cli",
        "ascbench.commands.run",
        "ascbench.errors",
        "ascbench.jobs",
    ]
    ranks, unplaced = layer_ranks(rows, modules)
    assert unplaced == ["ascbench.jobs"]
    assert ranks == {
        "ascbench": 1,
        "ascbench.cli": 0,
        "ascbench.commands.run": 0,
        "ascbench.errors": 1,
    }
    graph = {"ascbench.errors": {"ascbench.cli"}, "ascbench.cli": {"ascbench.errors"}}
    assert imports_up(graph, ranks) == ["ascbench.errors -> ascbench.cli"]


class _Complexity(ast.NodeVisitor):
    """Radon's cyclomatic complexity of one function body (nested functions counted apart)."""

    def __init__(self):
        self.value = 1

    def visit_FunctionDef(self, node):  # a nested function is measured on its own
        pass

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_ClassDef(self, node):
        pass

    def _branch(self, node, extra=0):
        self.value += 1 + extra
        self.generic_visit(node)

    def visit_If(self, node):
        self._branch(node)

    visit_IfExp = visit_If
    visit_Assert = visit_If

    def visit_For(self, node):
        self._branch(node, bool(node.orelse))

    visit_AsyncFor = visit_For
    visit_While = visit_For

    def visit_Try(self, node):
        self.value += len(node.handlers) + bool(node.orelse)
        self.generic_visit(node)

    visit_TryStar = visit_Try

    def visit_BoolOp(self, node):
        self.value += len(node.values) - 1
        self.generic_visit(node)

    def visit_comprehension(self, node):
        self.value += 1 + len(node.ifs)
        self.generic_visit(node)

    def visit_Match(self, node):
        self.value += len(node.cases) - 1
        self.generic_visit(node)


def complexity(function: ast.AST) -> int:
    visitor = _Complexity()
    for statement in function.body:
        visitor.visit(statement)
    return visitor.value


def _functions():
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{path.relative_to(PACKAGE.parent)}:{node.name}"
                yield name, node


def test_complexity_counts_branches_like_radon():
    source = "def f(x):\n    if x and y:\n        return [i for i in x if i]\n    return 0\n"
    assert complexity(ast.parse(source).body[0]) == 1 + 1 + 1 + 2


def test_no_function_is_too_long_or_too_complex():
    over = []
    for name, node in _functions():
        lines = node.end_lineno - node.lineno + 1
        score = complexity(node)
        if (lines > MAX_LINES or score > MAX_COMPLEXITY) and name not in EXCEPTIONS:
            over.append(f"{name} ({lines} lines, complexity {score})")
    assert not over, f"over {MAX_LINES} lines or complexity {MAX_COMPLEXITY}: " + ", ".join(over)


@pytest.mark.parametrize("argv", [[], ["run"], ["profile"], ["leaderboard"], ["data"]])
def test_building_the_parser_imports_no_torch_numpy_or_pydantic(argv):
    code = (
        "import sys\n"
        "from ascbench.cli import build_parser\n"
        "parser = build_parser()\n"
        "heavy = [m for m in ('torch', 'numpy', 'pydantic') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    help_run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ascbench", *argv, "--help"],
        capture_output=True,
        text=True,
    )
    assert help_run.returncode == 0, help_run.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in help_run.stderr.splitlines()}
    assert not imported & {"torch", "numpy", "pydantic"}
