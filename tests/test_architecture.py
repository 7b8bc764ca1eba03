"""The package's shape, kept: layers import downwards only, no import cycle, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.util import REPO

PACKAGE = REPO / "assistant"
MAX_LINES = 400
# What the core may import: itself, the config it is given, and the errors it raises. Never an engine, a device or
# a front end: those plug into its ports.
CORE_MAY_IMPORT = ("assistant.core", "assistant.config", "assistant.errors")


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(REPO).with_suffix("").parts)
    return name.removesuffix(".__init__")


def imports(path: Path, top_level_only: bool) -> set[str]:
    """The assistant modules `path` imports (a `from x import y` counts y when y is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("assistant"):
            submodules = {f"{node.module}.{alias.name}" for alias in node.names
                          if (REPO / f"{node.module}.{alias.name}".replace(".", "/")).with_suffix(".py").exists()}
            # `from package import submodule` imports the submodule; a name from the package imports the package
            found.update(submodules if len(submodules) == len(node.names) else {node.module, *submodules})
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("assistant"))
    return found


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def test_no_import_cycle_among_the_modules():
    graph = {name: (imports(path, top_level_only=True) & modules().keys()) - {name}
             for name, path in modules().items()}
    visiting, done, cycles = set(), set(), []

    def visit(name: str, trail: list[str]) -> None:
        visiting.add(name)
        for dependency in graph[name]:
            if dependency in visiting:
                cycles.append([*trail[trail.index(dependency):], dependency])
            elif dependency not in done:
                visit(dependency, [*trail, dependency])
        visiting.discard(name)
        done.add(name)

    for name in graph:
        if name not in done:
            visit(name, [name])
    assert cycles == []


def test_the_core_imports_only_the_core_its_config_and_its_errors():
    strays = {name: sorted(dep for dep in imports(path, top_level_only=False) if not dep.startswith(CORE_MAY_IMPORT))
              for name, path in modules().items() if name.startswith("assistant.core")}
    assert {name: deps for name, deps in strays.items() if deps} == {}
    assert len(strays) >= 10  # the walk really saw the core


def test_no_module_is_over_400_lines():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}
