"""What may import what: no import cycles among newsqa's modules, no import of newsqa's own
modules hidden inside a function, and import-linter's contracts (pyproject.toml) kept."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("index", "bot")
# The only imports of our own modules left inside functions, each a lazy import of a heavy
# library: these modules import it at module level (the reader's PyTorch models; the bot's
# python-telegram-bot), which an engine answering by the rules, `newsqa --help` and every
# command but `serve` and `chat` never load.
LAZY_MODULES = {
    ("index/fast_embedding.py", "index.reader.encoder"): "torch",
    ("index/service.py", "index.reader.reading"): "torch",
    ("index/cli.py", "index.reader.train"): "torch",
    ("bot/commands.py", "bot.app"): "telegram",
    ("bot/commands.py", "bot.console"): "telegram",
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imported(node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> Iterator[str]:
    """The newsqa modules one import statement names (a name imported from a package is the
    package's module when it is one)."""
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names if a.name in modules)
        return
    assert node.level == 0, "newsqa imports absolutely"
    base = node.module or ""
    if base not in modules:
        return
    submodules = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
    yield from submodules or [base]


def _in_functions(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    yield node


def test_no_module_imports_newsqa_inside_a_function() -> None:
    modules = _modules()
    hidden = []
    for path in modules.values():
        where = str(path.relative_to(REPO))
        for node in _in_functions(ast.parse(path.read_text("utf-8"))):
            for name in _imported(node, modules):
                if (where, name) not in LAZY_MODULES:
                    hidden.append(f"{where}:{node.lineno} imports {name}")
    assert hidden == []


def test_the_modules_left_lazy_do_import_the_heavy_library() -> None:
    """The exceptions above hold only while those modules load the library when imported."""
    for (_, name), library in LAZY_MODULES.items():
        probe = f"import sys, {name}; print({library!r} in sys.modules)"
        ran = subprocess.run(
            [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
        )
        assert ran.stdout.strip() == "True", name


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_counting_every_import() -> None:
    """Every import statement counts: in functions and under TYPE_CHECKING too."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[name].update(m for m in _imported(node, modules) if m != name)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_import_linter_contracts_are_kept() -> None:
    pytest.importorskip("importlinter")
    command = Path(sys.executable).with_name("lint-imports")
    lint = str(command) if command.exists() else shutil.which("lint-imports")
    assert lint is not None
    ran = subprocess.run(
        [lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
