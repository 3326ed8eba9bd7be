"""skdcore's package layers: every import (read with ast, nothing executed) runs down the table below or
stays within its layer, and no two parts of skdcore import each other (directly or around a loop).

A part is a subpackage (``skdcore/train/``) or a top-level module (``skdcore/export.py``); imports inside
functions count too (a lazy import that dodges a cycle is still a cycle). A new part must be given a layer.
And a name is imported from the module that defines it, a package's ``__init__`` or a module that lists it
in ``__all__``, never through a module that merely imports it too (that hides the real dependency).
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "skdcore"

# Lowest first; a part may import parts of its own layer or of the layers above it in this list.
LAYERS = [
    # plain helpers and the compiled extensions: no skdcore imports beyond this layer
    {"_C", "_prep", "_build_config", "_loader", "atomic_io", "untrusted_zip", "pt2_safety", "devices",
     "output_paths", "did_you_mean", "safe_names", "safe_yaml", "short_repr", "bounded_json", "seed_range",
     "zip_structure", "zip_errors", "checkpoint_pickle", "pt2_graph", "shipped_configs"},
    {"ops", "reference", "nn", "skdcore"},  # the ops; "skdcore": the package's own __init__
    {"layouts", "graph"},
    {"data"},
    {"models"},
    {"distill"},  # the SKD method: losses, gradient revision, the Distiller
    {"checkpoints"},
    {"train", "evaluation"},
    {"reports", "export", "onnx_export", "bench_step"},
    {"infer"},  # streaming recognition from a trained checkpoint or an exported file
    {"commands", "demo", "cli"},
]


def layer_of(part: str) -> int:
    for index, parts in enumerate(LAYERS):
        if part in parts:
            return index
    raise KeyError(part)


def module_name(path: Path, root: Path) -> str:
    """'skdcore.train.trainer' for <root>/train/trainer.py, 'skdcore.train' for its __init__.py."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([root.name, *parts])


def is_module(dotted: str, root: Path) -> bool:
    """Whether ``dotted`` (skdcore.x.y) names a module or package of the tree at ``root``."""
    relative = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    target = root / relative
    return (target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()
            or any(root.glob(f"{relative}.*.so")) or any(root.glob(f"{relative}.*.pyd")))


def imported_modules(path: Path, root: Path):
    """(line, skdcore module) for every import of the package at ``root`` in the file ``path``."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == root.name:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != root.name:
                continue
            for alias in node.names:  # `from .. import _prep` imports the module skdcore._prep
                candidate = f"{source}.{alias.name}"
                yield node.lineno, candidate if is_module(candidate, root) else source


def part_of(module: str) -> str:
    """The layered part a module belongs to: 'train' for skdcore.train.trainer, 'skdcore' for skdcore."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


def import_edges(root: Path):
    """{(importing part, imported part): [where, ...]} over every .py file under ``root``."""
    edges = {}
    for path in sorted(root.rglob("*.py")):
        source = part_of(module_name(path, root))
        for line, target in imported_modules(path, root):
            target_part = part_of(target)
            if target_part != source:
                where = f"{path.relative_to(root.parent)}:{line} imports {target}"
                places = edges.setdefault((source, target_part), [])
                if where not in places:  # `from x import a, b` is one import
                    places.append(where)
    return edges


@functools.lru_cache(maxsize=None)
def names_of(path: Path) -> tuple:
    """(names ``path`` defines, names it imports, names in its ``__all__``)."""
    defined, imported, exported = set(), set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}
            defined |= names
            if "__all__" in names and isinstance(node.value, (ast.List, ast.Tuple)):
                exported |= {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imported |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return defined, imported, exported


def names_imported_through_a_middleman(root: Path) -> list:
    """'file:line imports NAME from MODULE, which only imports it' for every such import under ``root``."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        name = module_name(path, root)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            source_file = root.joinpath(*source.split(".")[1:]).with_suffix(".py")
            if source.split(".")[0] != root.name or not source_file.is_file():
                continue  # not skdcore, or a package (its __init__ re-exports on purpose)
            defined, imported, exported = names_of(source_file)
            for alias in node.names:
                if alias.name in imported and alias.name not in defined | exported:
                    where = f"{path.relative_to(root.parent)}:{node.lineno}"
                    problems.append(f"{where} imports {alias.name} from {source}, which only imports it: "
                                    "import it from where it is defined")
    return problems


def layer_violations(edges) -> list:
    problems = []
    for (source, target), places in sorted(edges.items()):
        for part in (source, target):
            try:
                layer_of(part)
            except KeyError:
                problems.append(f"{part} has no layer: add it to LAYERS in tests/test_import_layers.py "
                                f"({places[0]})")
                break
        else:
            if layer_of(target) > layer_of(source):
                problems += [f"upward import ({source} is below {target}): {place}" for place in places]
    return problems


def cycles(edges) -> list:
    """The parts of every import cycle (strongly connected components of more than one part)."""
    graph = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
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


def describe_cycles(edges) -> list:
    lines = []
    for component in cycles(edges):
        members = set(component)
        lines.append(f"import cycle between {component}:")
        lines += [f"    {place}" for (source, target), places in sorted(edges.items())
                  if source in members and target in members for place in places]
    return lines


def test_no_upward_import_in_skdcore():
    problems = layer_violations(import_edges(PACKAGE))
    assert not problems, "\n".join(problems)


def test_no_import_cycle_between_parts_of_skdcore():
    problems = describe_cycles(import_edges(PACKAGE))
    assert not problems, "\n".join(problems)


def test_every_part_of_skdcore_has_a_layer():
    parts = {part_of(module_name(path, PACKAGE)) for path in PACKAGE.rglob("*.py")}
    missing = sorted(part for part in parts if not any(part in layer for layer in LAYERS))
    assert not missing, f"add {missing} to LAYERS in tests/test_import_layers.py"
    assert {"distill", "checkpoints", "train", "evaluation", "commands"} <= parts


def test_names_are_imported_from_where_they_are_defined():
    problems = names_imported_through_a_middleman(PACKAGE)
    assert not problems, "\n".join(problems)


@pytest.fixture
def fake_package(tmp_path):
    """A small tree shaped like skdcore, for checking that the checks above catch what they should."""
    root = tmp_path / "skdcore"
    files = {
        "__init__.py": "from . import ops\n",
        "ops/__init__.py": "",
        "data/__init__.py": "from ..ops import x\n",
        "models/__init__.py": "def build():\n    from ..data import y\n",
        "train/__init__.py": "from ..models import build\nfrom skdcore.evaluation import metrics\n",
        "evaluation/__init__.py": "",
        "evaluation/metrics.py": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_checks_pass_a_clean_tree(fake_package):
    edges = import_edges(fake_package)
    assert ("models", "data") in edges and ("train", "evaluation") in edges and ("skdcore", "ops") in edges
    assert layer_violations(edges) == [] and cycles(edges) == []


def test_checks_catch_an_upward_import(fake_package):
    (fake_package / "data" / "lq.py").write_text("def f():\n    from ..train import fit\n")
    problems = layer_violations(import_edges(fake_package))
    assert problems == ["upward import (data is below train): skdcore/data/lq.py:2 imports skdcore.train"]


def test_checks_catch_a_cycle_within_a_layer(fake_package):
    (fake_package / "evaluation" / "checkpoints.py").write_text("from ..train import batches\n")
    edges = import_edges(fake_package)
    assert layer_violations(edges) == []
    assert cycles(edges) == [["evaluation", "train"]]
    assert "skdcore/evaluation/checkpoints.py:1 imports skdcore.train" in "\n".join(describe_cycles(edges))


def test_checks_catch_a_part_without_a_layer(fake_package):
    (fake_package / "stranger").mkdir()
    (fake_package / "stranger" / "__init__.py").write_text("from ..models import build\n")
    assert "stranger has no layer" in layer_violations(import_edges(fake_package))[0]


def test_from_package_import_module_names_the_module(fake_package):
    (fake_package / "_prep.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    (fake_package / "data" / "native.py").write_text("from .. import _prep\n")
    assert "skdcore/data/native.py:1 imports skdcore._prep" in import_edges(fake_package)[("data", "_prep")]


def test_checks_catch_a_name_imported_through_a_middleman(fake_package):
    (fake_package / "atomic_io.py").write_text("def write_text(path, text):\n    pass\n")
    (fake_package / "train" / "checkpoint.py").write_text("from ..atomic_io import write_text\n")
    (fake_package / "train" / "sources.py").write_text("from ..atomic_io import write_text\n"
                                                      "__all__ = ['write_text']\n")
    (fake_package / "train" / "run_log.py").write_text("from .checkpoint import write_text\n"
                                                      "from .sources import write_text as w\n")
    assert names_imported_through_a_middleman(fake_package) == [
        "skdcore/train/run_log.py:1 imports write_text from skdcore.train.checkpoint, which only imports it: "
        "import it from where it is defined"]
