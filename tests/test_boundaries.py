"""The house's boundaries, read from the code: the tablet's and the printer's packages know no server, and no
two project modules import each other (directly or around a loop).

gpcore (rules) and printing (receipts) import no Flask, SQLAlchemy, server, fieldapp or Kivy; fieldapp (the
tablet) imports no Flask, SQLAlchemy or server, and only fieldapp/ui imports Kivy. Every import counts,
including ones inside functions (a lazy import is still a dependency). Same logic as
../shared/tools/import_graph.py, written here so the test needs nothing outside the repository.
"""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("server", "gpcore", "fieldapp", "printing")
BANNED = {
    "gpcore": {"flask", "sqlalchemy", "server", "fieldapp", "kivy", "kivymd"},
    "printing": {"flask", "sqlalchemy", "server", "fieldapp", "kivy", "kivymd"},
    "fieldapp": {"flask", "sqlalchemy", "server", "kivy", "kivymd"},
}
KIVY = {"kivy", "kivymd"}


def _modules(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every project module (a package is named by its __init__)."""
    mods = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def _imports(name: str, path: pathlib.Path) -> list[str]:
    """Every module name an import statement of this file names (relative imports resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return found


def graph(root: pathlib.Path) -> tuple[dict[str, set[str]], list[str]]:
    """(module -> project modules it imports, boundary breaks as text)."""
    mods = _modules(root)
    edges, breaks = {}, set()
    for name, path in mods.items():
        owner, out = name.split(".")[0], set()
        for target in _imports(name, path):
            top = target.split(".")[0]
            kivy_in_ui = owner == "fieldapp" and name.startswith("fieldapp.ui") and top in KIVY
            if top in BANNED.get(owner, ()) and not kivy_in_ui:
                breaks.add(f"{name} imports {target}")
            while target and target not in mods:  # `from pkg import name` names a module or a name in one
                target = target.rpartition(".")[0]
            # A package and its own modules are one unit (a package's __init__ re-exports its modules).
            if target and target != name and not name.startswith(target + ".") \
                    and not target.startswith(name + "."):
                out.add(target)
        edges[name] = out
    return edges, sorted(breaks)


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Groups of more than one module that reach each other through imports (strongly connected)."""
    reach = {}
    for start in edges:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        reach[start] = seen
    groups = {frozenset({m} | {o for o in reach[m] if m in reach[o]}) for m in edges}
    return sorted(sorted(g) for g in groups if len(g) > 1)


def test_boundaries_hold():
    _, breaks = graph(ROOT)
    assert not breaks, "gpcore/printing/fieldapp import what they must not:\n" + "\n".join(breaks)


def test_no_import_circles():
    edges, _ = graph(ROOT)
    assert len(edges) > 50  # the walk found the project
    found = circles(edges)
    assert not found, "modules that import each other:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_checks_see_a_break_and_a_circle(tmp_path):
    """The checks themselves, on a tiny project: a lazy server import in gpcore, a loop in server."""
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "gpcore" / "rules.py").write_text("def f():\n    from server.app import x\n")
    (tmp_path / "fieldapp" / "ui").mkdir()
    (tmp_path / "fieldapp" / "ui" / "__init__.py").write_text("import kivy\n")
    (tmp_path / "fieldapp" / "store.py").write_text("from kivy.app import App\n")
    (tmp_path / "server" / "a.py").write_text("from . import b\n")
    (tmp_path / "server" / "b.py").write_text("def g():\n    from .a import h\n")
    (tmp_path / "server" / "c.py").write_text("from .a import b\n")
    edges, breaks = graph(tmp_path)
    assert breaks == ["fieldapp.store imports kivy.app", "fieldapp.store imports kivy.app.App",
                      "gpcore.rules imports server.app", "gpcore.rules imports server.app.x"]
    assert circles(edges) == [["server.a", "server.b"]]
