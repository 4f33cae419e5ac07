"""The import graph of the engine's own code: no cycles, and data flowing one way between rooms.

Every import counts, including those inside functions, because a function-level import is the
usual way a cycle hides. The layers are checked by name: the pure domain imports no Temporal and
nothing above it; the workflow, activity and worker code import nothing from the client side.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cases", "workflows", "activities", "outbox", "runtime", "starter", "reports", "codec_server",
            "devstack")
MODULES = ("worker",)

# What each room may not import (a prefix of a module name).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "cases": ("temporalio", "workflows", "activities", "outbox", "runtime", "starter", "reports",
              "codec_server", "devstack", "worker", "asyncpg", "httpx"),
    "workflows": ("starter", "reports", "codec_server", "devstack", "worker", "runtime", "outbox"),
    "activities": ("workflows", "starter", "reports", "codec_server", "devstack", "worker", "outbox"),
    "outbox": ("workflows", "starter", "reports", "codec_server", "devstack", "worker"),
    "runtime": ("starter", "reports", "codec_server", "devstack", "worker", "outbox"),
    "worker": ("starter", "reports", "codec_server", "devstack"),
    "reports": ("starter", "worker"),
    "codec_server": ("starter", "worker", "reports"),
    "devstack": ("starter", "reports"),
}


def project_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    for module in MODULES:
        found[module] = ROOT / f"{module}.py"
    return found


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """Every module `path` imports anywhere in its body, resolved against `known` when it can be."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                out.add(candidate if candidate in known else base)
    return out


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(path, name, known) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, set()) & set(edges)):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, set()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_engine_has_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_hidden_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_each_room_imports_only_downward() -> None:
    wrong = []
    for module, targets in graph().items():
        room = module.split(".")[0]
        for target in targets:
            if target.split(".")[0] == room:
                continue
            if any(target == f or target.startswith(f + ".") for f in FORBIDDEN.get(room, ())):
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_no_module_is_over_400_lines() -> None:
    long = {name: n for name, path in project_modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def prefix_families(paths: list[Path]) -> dict[str, list[str]]:
    """Modules of one folder that share a name prefix (`render_text`, `render_json`, ...), three or
    more to a prefix: a feature that should be a subpackage."""
    families: dict[tuple[Path, str], list[str]] = {}
    for path in paths:
        stem = path.stem.removeprefix("test_")
        if "_" in stem and path.name != "__init__.py":
            families.setdefault((path.parent, stem.split("_")[0]), []).append(path.name)
    return {f"{folder.relative_to(ROOT)}/{prefix}_*": sorted(names)
            for (folder, prefix), names in families.items() if len(names) >= 3}


def test_no_folder_holds_a_family_of_modules_sharing_a_prefix() -> None:
    code = [path for package in (*PACKAGES, "bench", "tests") for path in (ROOT / package).rglob("*.py")]
    assert prefix_families(code) == {}


def test_the_family_finder_finds_a_family() -> None:
    names = ["render_text.py", "render_json.py", "render_html.py", "figures.py", "test_whatif_a.py"]
    paths = [ROOT / "reports" / "service" / name for name in names]
    assert prefix_families(paths) == {"reports/service/render_*": ["render_html.py", "render_json.py",
                                                                   "render_text.py"]}
