"""The math package's import graph has no cycle, deferred (in-function) imports included."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import mcpfleet.servers.math as package

PREFIX = "mcpfleet.servers.math."
FOLDER = Path(package.__file__).parent
MODULES = sorted(p.stem for p in FOLDER.glob("*.py") if p.stem != "__init__")


def imports(name: str) -> set[str]:
    """Math modules that `name` imports anywhere in its source (top level or inside a function)."""
    tree = ast.parse((FOLDER / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            found.add(node.module.removeprefix(PREFIX).split(".")[0])
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix(PREFIX).split(".")[0] for a in node.names if a.name.startswith(PREFIX)}
    return found


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of module names, or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_cycle_finder_finds_a_deferred_cycle():
    # the shape algebra.py and calculus.py had before the split: a cycle through an in-function import
    assert cycle({"algebra": {"parser"}, "calculus": {"algebra"}, "parser": set()}) is None
    assert cycle({"algebra": {"calculus"}, "calculus": {"algebra"}}) == ["algebra", "calculus", "algebra"]


def test_math_modules_import_each_other_without_a_cycle():
    graph = {name: imports(name) for name in MODULES}
    assert graph["calculus"] >= {"budget", "checks", "numeric"} and "algebra" not in graph["calculus"]
    assert cycle(graph) is None, cycle(graph)


@pytest.mark.parametrize("first", ["budget", "checks", "numeric", "calculus", "algebra"])
def test_each_logic_module_imports_first_in_a_fresh_interpreter(first):
    # A cycle through top-level imports shows up as an ImportError only for some import orders.
    others = ", ".join(f"{PREFIX}{m}" for m in ("algebra", "calculus", "linalg", "optimize", "stats"))
    code = f"import {PREFIX}{first}; import {others}"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
