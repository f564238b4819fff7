"""The package dependency rule (docs/internals.md), checked on the source itself.

Every `import` and `from ... import` of every module of core, biometrics, committee, recordings
and web is read with `ast` (those inside functions and `if TYPE_CHECKING:` too, relative ones
resolved, `importlib.import_module("...")` with a literal name counted), without importing
anything. Two rules hold:

- core is the base: no module of core imports biometrics, committee, recordings or web, except
  the composition root (core/app.py, core/cli.py) that assembles the suite;
- no cycle between the top-level packages. The composition root is left out of this check: it
  is the assembler, the one place that names every package, and nothing in it is imported back
  as a dependency of a service (the services import core's base modules, never what core/app.py
  assembles).

A failure lists each offending file and line with what it imports.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "biometrics", "committee", "recordings", "web")
BASE = "core"
COMPOSITION_ROOT = frozenset({"core/app.py", "core/cli.py"})


@dataclass(frozen=True)
class Import:
    file: str  # relative to the repository, with forward slashes
    line: int
    target: str  # the imported module, dotted and absolute

    @property
    def source_package(self) -> str:
        return self.file.split("/")[0]

    @property
    def target_package(self) -> str:
        return self.target.split(".")[0]

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.target}"


def _module_name(root: Path, path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def imports_of(root: Path, path: Path) -> list[Import]:
    """Every module `path` imports, wherever in the file the import stands."""
    module, is_package = _module_name(root, path)
    package = module if is_package else module.rpartition(".")[0]
    file = path.relative_to(root).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: climb level-1 packages up from this module's package
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from pkg import name`: name may be a module of pkg; the package is what counts.
            targets = [prefix]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) == "import_module"):
            targets = [node.args[0].value]
        found.extend(Import(file, node.lineno, target) for target in targets if target)
    return found


def project_imports(root: Path = ROOT) -> list[Import]:
    """The imports between the project's packages (an import within one package is left out)."""
    edges = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if ".venv" in path.parts:
                continue
            edges.extend(i for i in imports_of(root, path)
                         if i.target_package in PACKAGES and i.target_package != i.source_package)
    return edges


def base_violations(edges: list[Import]) -> list[Import]:
    return [i for i in edges if i.source_package == BASE and i.file not in COMPOSITION_ROOT]


def package_cycles(edges: list[Import]) -> list[list[str]]:
    """Each cycle between packages (as the list of packages around it), the composition root
    left out; found by a depth-first search from every package."""
    graph: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for i in edges:
        if i.file not in COMPOSITION_ROOT:
            graph.setdefault(i.source_package, set()).add(i.target_package)
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                key = frozenset(path)
                if key not in seen:
                    seen.add(key)
                    cycles.append(path + [start])
            elif nxt not in path:
                walk(start, nxt, path + [nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return cycles


def explain_cycle(cycle: list[str], edges: list[Import]) -> str:
    lines = [" -> ".join(cycle)]
    for source, target in zip(cycle, cycle[1:]):
        lines.extend(f"    {i}" for i in edges
                     if i.source_package == source and i.target_package == target and i.file not in COMPOSITION_ROOT)
    return "\n".join(lines)


def test_core_imports_no_other_package():
    violations = base_violations(project_imports())
    assert not violations, ("core must not import biometrics, committee, recordings or web outside "
                            "core/app.py and core/cli.py; declare a port (core/ports.py) instead:\n"
                            + "\n".join(f"  {i}" for i in violations))


def test_no_cycle_between_packages():
    edges = project_imports()
    cycles = package_cycles(edges)
    assert not cycles, "cycles between top-level packages:\n" + "\n".join(explain_cycle(c, edges) for c in cycles)


def test_the_graph_is_read(tmp_path):
    """The walk sees what the rules are about: the real tree has the expected edges (so an
    empty graph cannot pass), and a tree breaking both rules (a function-level import, a
    relative import, `from x import y`, import_module) fails them, naming file and line."""
    edges = project_imports()
    assert {(i.source_package, i.target_package) for i in edges} >= {
        ("biometrics", "core"), ("committee", "core"), ("recordings", "core"), ("web", "core"),
        ("web", "committee"), ("committee", "recordings")}
    assert any(i.file == "core/app.py" and i.target_package == "biometrics" for i in edges)

    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "core" / "flow.py").write_text("def step():\n    from biometrics.stepup import redeem\n")
    (tmp_path / "core" / "app.py").write_text("from web import pages\n")  # the composition root may
    (tmp_path / "biometrics" / "stepup.py").write_text("from core import flow\n")
    (tmp_path / "web" / "pages.py").write_text("import importlib\nimportlib.import_module('recordings.x')\n")
    (tmp_path / "recordings" / "x.py").write_text("from ..committee import api\n")
    (tmp_path / "committee" / "api.py").write_text("from web.pages import routes\n")
    synthetic = project_imports(tmp_path)
    assert [str(i) for i in base_violations(synthetic)] == ["core/flow.py:2 imports biometrics.stepup"]
    cycles = {frozenset(c) for c in package_cycles(synthetic)}
    assert cycles == {frozenset({"core", "biometrics"}), frozenset({"web", "recordings", "committee"})}
    report = explain_cycle(["core", "biometrics", "core"], synthetic)
    assert "core/flow.py:2 imports biometrics.stepup" in report and "biometrics/stepup.py:1 imports core" in report
