"""The house stays as docs/architecture.md draws it, read from the code's own imports and definitions.

- Each layer imports only downward: protocol <- core <- script, verify, scenarios <- transport <- faces.
- The sans-I/O layers (protocol, core) import no event loop, thread, socket, WebSocket or YAML library, and
  core reads no files.
- No import cycles anywhere in ``fake_server``.
- No class over 350 lines and no function over 60 lines, unless its docstring says why with ``Kept whole:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fake_server"

LAYERS = {"protocol": 0, "core": 1, "script": 2, "verify": 2, "scenarios": 2, "transport": 3}
"""Each package's floor; every other module of ``fake_server`` (cli, the pytest plugin, strategies, the
package's ``__init__``) is a face, on the top floor."""
FACES = 4

FORBIDDEN_BELOW_TRANSPORT = {"asyncio", "threading", "socket", "selectors", "signal", "concurrent", "websockets",
                             "yaml", "subprocess", "multiprocessing"}
FORBIDDEN_IN_CORE = {"os", "pathlib", "io", "importlib", "shutil", "tempfile"}
"""The core reads no files: the schemas are loaded by protocol and handed in."""

MAX_CLASS_LINES = 350
MAX_FUNCTION_LINES = 60
EXCUSE = "Kept whole:"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """Every module this one imports (anywhere in it, type-checking blocks included), with the line."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            for alias in node.names:  # ``from . import speech`` imports a module
                if f"{target}.{alias.name}" in MODULES:
                    found.append((f"{target}.{alias.name}", node.lineno))
    return found


def _own(target: str) -> str | None:
    """The ``fake_server`` module an import names (the longest known prefix), or None for other libraries."""
    while target:
        if target in MODULES:
            return target
        target = target.rpartition(".")[0]
    return None


def _floor(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], FACES) if len(parts) > 1 else FACES


GRAPH = {name: [(target, line) for target, line in _imports(name, path)] for name, path in MODULES.items()}


def test_every_import_goes_down_or_stays_on_its_floor() -> None:
    wrong = []
    for name, imports in GRAPH.items():
        for target, line in imports:
            own = _own(target)
            if own is not None and own != "fake_server" and _floor(own) > _floor(name):
                wrong.append(f"{MODULES[name].relative_to(PACKAGE.parent)}:{line} {name} imports {own}")
    assert not wrong, "imports that go up a floor:\n" + "\n".join(wrong)


@pytest.mark.parametrize("floor_name", ["protocol", "core"])
def test_the_sans_io_floors_import_no_io(floor_name: str) -> None:
    forbidden = FORBIDDEN_BELOW_TRANSPORT | (FORBIDDEN_IN_CORE if floor_name == "core" else set())
    wrong = []
    for name, imports in GRAPH.items():
        if _floor(name) != LAYERS[floor_name]:
            continue
        for target, line in imports:
            if target.split(".")[0] in forbidden:
                wrong.append(f"{MODULES[name].relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not wrong, f"{floor_name} must stay sans-I/O:\n" + "\n".join(wrong)


def test_no_import_cycles() -> None:
    edges = {name: sorted({own for target, _ in imports if (own := _own(target)) not in (None, name)})
             for name, imports in GRAPH.items()}
    # a package's __init__ importing its own submodules is how a package shows its face, not a cycle
    for name in edges:
        edges[name] = [t for t in edges[name] if not t.startswith(name + ".")]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, []):
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
                cycles.append(sorted(component))

    for name in edges:
        if name not in index:
            visit(name)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_class_or_function_is_too_long_without_saying_why() -> None:
    wrong = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                limit = MAX_CLASS_LINES
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                limit = MAX_FUNCTION_LINES
            else:
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit and EXCUSE not in (ast.get_docstring(node) or ""):
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}: {length} lines")
    assert not wrong, f"over {MAX_CLASS_LINES} lines (class) or {MAX_FUNCTION_LINES} (function), " \
                      f"with no '{EXCUSE}' in the docstring:\n" + "\n".join(wrong)


def test_the_checks_see_the_house() -> None:
    """The checks above read real modules of every floor (a moved package would make them pass vacuously)."""
    floors = {_floor(name) for name in MODULES}
    assert floors == {0, 1, 2, 3, FACES}
    assert "fake_server.core.session" in MODULES and "fake_server.transport.server" in MODULES
    assert any(_own(t) == "fake_server.protocol.rules" for t, _ in GRAPH["fake_server.core.session"])
