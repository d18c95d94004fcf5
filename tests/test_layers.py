"""The package's architecture: layer folders, each importing only from the layers below it, no
import circle between modules (imports under TYPE_CHECKING aside), and a README layer table
that names each folder's modules."""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import wmrlib

PACKAGE = Path(wmrlib.__file__).resolve().parent


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_only(tree: ast.Module) -> set[int]:
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside |= {id(n) for n in ast.walk(node)}
    return inside


def _imports() -> dict[str, set[str]]:
    """Return each module's wmrlib imports (module level and inside functions alike)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        skip = _type_only(tree)
        found = set()
        for node in ast.walk(tree):
            if id(node) in skip or not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = package.split(".")[:len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target)
            for alias in node.names:  # "from . import module"
                candidate = f"{target}.{alias.name}"
                if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists():
                    found.add(candidate)
        graph[name] = found - {name}
    return graph


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return len(wmrlib.LAYERS) + 1  # the package itself re-exports from every layer
    return wmrlib.LAYERS.index(parts[1]) if parts[1] in wmrlib.LAYERS else len(wmrlib.LAYERS)


def test_every_module_lives_in_a_layer_folder():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == {"__init__", "__main__", "cli"}, top
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(wmrlib.LAYERS)


@pytest.mark.parametrize("layer", wmrlib.LAYERS)
def test_each_layer_says_what_it_holds_and_exports_it(layer):
    package = importlib.import_module(f"wmrlib.{layer}")
    assert package.__doc__ and len(package.__doc__.split()) > 15
    modules = {p.stem for p in (PACKAGE / layer).glob("*.py")} - {"__init__"}
    assert set(package.__all__) >= modules, modules - set(package.__all__)


def test_no_layer_imports_from_a_layer_above_it():
    upward = [(m, t) for m, targets in _imports().items() for t in targets
              if t.startswith("wmrlib") and _layer(t) > _layer(m)]
    assert upward == []


# The book renders what the analysis computed: it reads no store and computes no number, so it
# imports from wmrlib.analysis, the experiment's types (wmrlib.experiment) and wmrlib.core only,
# never a workflow, method or compute module (issue 45).
BOOK_MAY_IMPORT = ("analysis", "experiment", "core", "book")
# No exception: a module of the book that needs something computed gets it from analysis.
BOOK_EXCEPTIONS: dict[str, set[str]] = {}


def test_the_book_imports_only_analysis_experiment_and_core():
    outside = {m: {t for t in targets if t.startswith("wmrlib.")
                   and t.split(".")[1] not in BOOK_MAY_IMPORT} - BOOK_EXCEPTIONS.get(m, set())
               for m, targets in _imports().items() if m.startswith("wmrlib.book")}
    assert {m: t for m, t in outside.items() if t} == {}


def test_no_module_imports_the_package_itself():
    assert [m for m, targets in _imports().items() if "wmrlib" in targets and m != "wmrlib"] == []


def test_no_import_circle():
    graph = {m: {t for t in ts if t.count(".") >= 2 or t == "wmrlib.cli"}
             for m, ts in _imports().items()}
    seen, on_path, circles = set(), [], []

    def visit(node):
        if node in on_path:
            circles.append(on_path[on_path.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        on_path.append(node)
        for target in sorted(graph.get(node, ())):
            visit(target)
        on_path.pop()

    for module in sorted(graph):
        visit(module)
    assert circles == []


def test_the_package_still_exports_its_public_names():
    for name in wmrlib.__all__:
        assert getattr(wmrlib, name) is not None
    assert callable(wmrlib.zoo.load) and callable(wmrlib.paper.table)


def _readme_layers() -> dict[str, set[str]]:
    """Return the README's layer table: layer -> the modules its row names."""
    text = (PACKAGE.parent / "README.md").read_text()
    head = text.index("| layer | modules |")
    rows = {}
    for line in text[head:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = set(re.findall(r"`([a-z_0-9]+)`", cells[1]))
    return rows


def test_the_readme_layer_table_matches_the_folders():
    """Each row of the README's layer table names exactly the modules of its layer's folder, read
    now (a module added or moved must be added to or moved in the table)."""
    table = _readme_layers()
    assert list(table) == list(wmrlib.LAYERS)
    for layer, named in table.items():
        modules = {p.stem for p in (PACKAGE / layer).glob("*.py")} - {"__init__"}
        assert named == modules, (f"README row {layer!r}: missing {sorted(modules - named)}, "
                                  f"not in the folder {sorted(named - modules)}")
