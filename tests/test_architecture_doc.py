"""docs/ARCHITECTURE.md stays true to the tree: its layer table is tests/test_import_layers.py's LAYERS, its
module table names every module and subpackage of skdcore (and each first-level subpackage's modules in
that subpackage's row), its op table has one row per op wrapper in ops/ with the pieces as columns, and
every file it names in backticks exists."""
from __future__ import annotations

import ast
import itertools
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "skdcore"
DOC = ROOT / "docs" / "ARCHITECTURE.md"
OPS = ("graph_conv", "graph_matching", "gradient_revision", "temporal_shift", "normalize_adjacency")
OP_COLUMNS = ["op", "schema", "checks", "CPU kernel", "CUDA kernel and glue", "autograd", "autocast",
              "path table", "Python wrapper", "reference", "nn module", "tests", "emulator", "benchmark"]
FILE_SUFFIXES = (".py", ".cpp", ".h", ".cu", ".cuh", ".md", ".cmake", ".sh", ".txt", ".in", ".yaml")
# Where a path named in the doc may be relative to: the repository, the package, docs/ (links).
PATH_ROOTS = (ROOT, ROOT / "python", PACKAGE, ROOT / "docs")
SKIPPED_FOLDERS = {"build", "dist", "__pycache__", "node_modules"}


def sections(text: str) -> dict:
    """{'## heading': its text} for every second-level heading."""
    parts = re.split(r"^(## .+)$", text, flags=re.MULTILINE)
    return {heading.strip(): body for heading, body in zip(parts[1::2], parts[2::2])}


def table_rows(body: str) -> list:
    """The cells of every row of the markdown tables in ``body``, header rows included, rules left out."""
    rows = []
    for line in body.splitlines():
        line = line.strip()
        if not line.startswith("|") or re.fullmatch(r"\|[-| :]+\|", line):
            continue
        cells = re.split(r"(?<!\\)\|", line.strip("|"))
        rows.append([cell.strip() for cell in cells])
    return rows


def code_spans(text: str) -> list:
    return re.findall(r"`([^`]+)`", text)


def expand_braces(name: str) -> list:
    """'cuda/x.{cu,cuh}' -> ['cuda/x.cu', 'cuda/x.cuh']."""
    pieces = re.split(r"\{([^{}]*)\}", name)
    choices = [[piece] if i % 2 == 0 else piece.split(",") for i, piece in enumerate(pieces)]
    return ["".join(combination) for combination in itertools.product(*choices)]


def named_files(text: str) -> list:
    """Every file or folder named in backticks: a path with a '/', or a name with a file suffix.
    Templates (`cpp/<op>.cpp`) and code (`skdcore.export`, `ops: fused`) are not file names."""
    names = []
    for span in code_spans(text):
        if not re.fullmatch(r"[\w./{},-]+", span) or span.startswith("--"):
            continue
        for name in expand_braces(span):
            if "/" in name or name.endswith(FILE_SUFFIXES):
                names.append(name)
    return names


def tracked_names() -> set:
    """Names of the files and folders of the source tree (.ci, not .git, a .venv or build outputs)."""
    names = set()
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [s for s in subfolders
                         if s == ".ci" or not s.startswith(".") and s not in SKIPPED_FOLDERS]
        names.update(subfolders, files)
    return names


def missing_files(text: str, roots=PATH_ROOTS) -> list:
    """Names in backticks that exist under none of ``roots`` (a bare file name may be anywhere)."""
    bare = None
    missing = []
    for name in named_files(text):
        if "/" in name.rstrip("/"):
            if not any((root / name).exists() for root in roots):
                missing.append(name)
        else:
            bare = tracked_names() if bare is None else bare
            if name.rstrip("/") not in bare:
                missing.append(name)
    return missing


def declared_layers() -> list:
    """LAYERS of tests/test_import_layers.py, read with ast (its sets, in order)."""
    tree = ast.parse((ROOT / "tests" / "test_import_layers.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "LAYERS" for t in node.targets):
            return [set(ast.literal_eval(element)) for element in node.value.elts]
    raise AssertionError("tests/test_import_layers.py has no LAYERS")


def documented_layers(text: str) -> list:
    rows = table_rows(sections(text)["## Package layers"])
    assert rows and rows[0][:2] == ["layer", "parts"], "the layer table's header is | layer | parts | job |"
    return [{span for span in code_spans(row[1])} for row in rows[1:]]


def module_rows(text: str) -> dict:
    """{'train': the job cell of the row `train/`, 'atomic_io': ..., ...} of the module table."""
    rows = table_rows(sections(text)["## Modules"])
    named = {}
    for row in rows[1:]:
        for span in code_spans(row[0]):
            named[re.sub(r"(\.py|/)$", "", span)] = row[1]
    return named


def package_parts() -> tuple:
    """(top-level module names, {subpackage: [its modules and second-level subpackages], data folder:
    [its files]})."""
    modules = sorted(p.stem for p in PACKAGE.glob("*.py"))
    subpackages = {}
    for folder in sorted(p for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"):
        if (folder / "__init__.py").is_file():
            subpackages[folder.name] = sorted(
                [p.name for p in folder.glob("*.py") if p.name != "__init__.py"]
                + [f"{p.name}/" for p in folder.iterdir() if (p / "__init__.py").is_file()])
        else:  # a data folder (configs/): its files
            subpackages[folder.name] = sorted(p.name for p in folder.iterdir() if p.is_file())
    return modules, subpackages


def undocumented_modules(text: str) -> list:
    rows = module_rows(text)
    modules, subpackages = package_parts()
    problems = [f"{name}.py has no row in the module table" for name in modules if name not in rows]
    for package, members in subpackages.items():
        if package not in rows:
            problems.append(f"{package}/ has no row in the module table")
            continue
        named = set(code_spans(rows[package]))
        problems += [f"{package}/{member} is not named in the row of {package}/" for member in members
                     if member not in named]
    return problems


def op_table(text: str) -> list:
    return table_rows(sections(text)["## Anatomy of an op"])


def op_table_problems(text: str) -> list:
    rows = op_table(text)
    if not rows or rows[0] != OP_COLUMNS:
        return [f"the op table's columns are {rows[0] if rows else None}, not {OP_COLUMNS}"]
    wrappers = {p.stem for p in (PACKAGE / "ops").glob("*.py")} - {"__init__", "paths", "_fake_checks"}
    ops_in_rows = [row[0] for row in rows[1:]]
    problems = [f"ops/{op}.py has no row in the op table" for op in sorted(wrappers) if op not in ops_in_rows]
    problems += [f"row {op} names no ops/{op}.py" for op in ops_in_rows if op not in wrappers]
    for row in rows[1:]:
        if len(row) != len(OP_COLUMNS):
            problems.append(f"row {row[0]} has {len(row)} cells, not {len(OP_COLUMNS)}")
        problems += [f"row {row[0]}: column {column!r} is empty" for column, cell in zip(OP_COLUMNS, row)
                     if not cell]
        # every file in an op's row is a real one: a path from the repository or from python/skdcore/
        problems += [f"row {row[0]}: {name} does not exist" for name in named_files(" ".join(row))
                     if not any((root / name).is_file() for root in (ROOT, PACKAGE))]
    return problems


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_layer_table_is_the_one_test_import_layers_enforces(doc):
    assert documented_layers(doc) == declared_layers()


def test_every_module_and_subpackage_of_skdcore_has_its_row(doc):
    problems = undocumented_modules(doc)
    assert not problems, "\n".join(problems)


def test_op_table_has_a_row_per_op_with_every_piece(doc):
    assert [row[0] for row in op_table(doc)[1:]] == list(OPS)
    problems = op_table_problems(doc)
    assert not problems, "\n".join(problems)


def test_every_file_the_page_names_exists(doc):
    missing = missing_files(doc)
    assert not missing, f"docs/ARCHITECTURE.md names files that do not exist: {missing}"


def test_every_kernel_source_is_named(doc):
    """The repository map covers the compiled core: every file of cpp/ (but the per-op pattern the map
    gives as `cpp/<op>...`, which the op table names) and cuda/ is named somewhere on the page."""
    named = {Path(name).name for name in named_files(doc)}
    sources = [p for folder in ("cpp", "cuda", "cmake", "bindings") for p in (ROOT / folder).rglob("*")
               if p.is_file()]
    unnamed = sorted(str(p.relative_to(ROOT)) for p in sources if p.name not in named)
    assert not unnamed, f"name these in docs/ARCHITECTURE.md: {unnamed}"


# The checks above must be able to fail: each is run on the page with one thing made untrue.

def test_a_file_that_does_not_exist_is_caught(doc):
    untrue = doc.replace("`cpp/registration.cpp`: `graph_conv`", "`cpp/registrations.cpp`: `graph_conv`", 1)
    assert "cpp/registrations.cpp" in missing_files(untrue)
    assert "row graph_conv: cpp/registrations.cpp does not exist" in op_table_problems(untrue)
    assert "no_such_module.py" in missing_files(untrue + "\n`no_such_module.py`\n")
    assert missing_files("`cuda/graph_conv.{cu,cuz}`") == ["cuda/graph_conv.cuz"]


def test_a_module_left_out_is_caught(doc):
    untrue = doc.replace("| `seed_range.py` |", "| `seed_ranges.py` |", 1)
    assert "seed_range.py has no row in the module table" in undocumented_modules(untrue)
    untrue = doc.replace("`run_log.py` (", "`run_logs.py` (", 1)
    assert "train/run_log.py is not named in the row of train/" in undocumented_modules(untrue)


def test_a_missing_op_row_or_column_is_caught(doc):
    without_row = "\n".join(line for line in doc.splitlines() if not line.startswith("| temporal_shift |"))
    assert "ops/temporal_shift.py has no row in the op table" in op_table_problems(without_row)
    without_column = doc.replace("| emulator | benchmark |", "| benchmark |", 1)
    assert "the op table's columns are" in op_table_problems(without_column)[0]


def test_a_layer_out_of_step_is_caught(doc):
    untrue = doc.replace("| 3 | `layouts`, `graph` |", "| 3 | `layouts` |", 1)
    assert documented_layers(untrue) != declared_layers()
