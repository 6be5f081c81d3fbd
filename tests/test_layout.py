"""mcpfleet/common/ is the runtime and nothing else: it imports no server, no eval and no composition root.

Every module under common/ is parsed (not imported), so imports deferred inside functions count
too, and so do `importlib.import_module("...")` calls with a literal name. The composition root
(mcpfleet/cli.py, registry, clients, litellm, tokens) may import common/; never the reverse.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMON = REPO / "mcpfleet" / "common"
# Within `mcpfleet`, common/ may use itself and the bare package (`__version__`), nothing else.
ALLOWED = ("mcpfleet", "mcpfleet.common")


def module_name(path: Path) -> str:
    parts = ["mcpfleet", "common", *path.relative_to(COMMON).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, wherever it sits."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from mcpfleet import servers` imports a package too
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names if module == "mcpfleet"]
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and _is_import_call(node.func)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def _is_import_call(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def _allowed(module: str) -> bool:
    if module != "mcpfleet" and not module.startswith("mcpfleet."):
        return True  # the standard library and third-party packages
    return module == "mcpfleet" or module == "mcpfleet.__version__" or module.startswith("mcpfleet.common")


def test_common_imports_nothing_from_servers_evals_or_the_composition_root():
    modules = sorted(COMMON.rglob("*.py"))
    assert len(modules) > 5  # the folder is where this test thinks it is
    wrong = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in modules
        for line, module in imported_names(path)
        if not _allowed(module)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_every_way_of_importing(tmp_path, monkeypatch):
    """The parser above must catch deferred, relative, `from mcpfleet import` and import_module forms."""
    fake = tmp_path / "common"
    (fake / "sub").mkdir(parents=True)
    (fake / "sub" / "mod.py").write_text(
        "import os\n"
        "from mcpfleet.common.errors import UserError\n"
        "def later():\n"
        "    from mcpfleet.servers.math import SPEC\n"
        "    from ... import registry\n"
        "    from mcpfleet import cli\n"
        "    import importlib; importlib.import_module('mcpfleet.evals.cli')\n"
        "    return importlib.util.find_spec('mcpfleet.servers')\n"  # locating is not importing
    )
    monkeypatch.setattr(sys.modules[__name__], "COMMON", fake)
    names = [m for _, m in imported_names(fake / "sub" / "mod.py")]
    assert [m for m in names if not _allowed(m)] == [
        "mcpfleet.servers.math",
        "mcpfleet.registry",
        "mcpfleet.cli",
        "mcpfleet.evals.cli",
    ]


def test_test_module_names_are_unique():
    """Test folders are not packages: two test files with one name make pytest refuse to collect
    the second (`import file mismatch`), and the whole suite stops."""
    tests = Path(__file__).resolve().parent
    seen: dict[str, Path] = {}
    for path in sorted(tests.rglob("test_*.py")):
        if "dummy_server" in path.parts:
            continue
        assert path.name not in seen, f"{path} and {seen[path.name]} share a name: prefix it with its area"
        seen[path.name] = path
