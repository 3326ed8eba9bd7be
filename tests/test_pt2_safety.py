"""skdcore.export.load_program on crafted .pt2 archives. A .pt2 is code: load_program refuses any file
unless trust=True (pointing to ONNX for files from others). The archive checks stay as defence in depth
and run with trust=True too: torch's loader unpickles weights stored with use_pickle and legacy
``<model>.pt`` files, falls back to weights_only=False for sample inputs, evaluates the graph's symbolic
expressions with sympy and execs its guards_code, and reads the zip with another parser than the check."""

import io
import json
import zipfile

import pytest
import torch
from zip_mutations import ZIP_MUTATIONS, mutate_zip

from skdcore.export import ExportError, load_program


class _Payload:
    """Unpickling calls open(marker, 'w'): the file appears only if the pickle's code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _saved_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def plain_pt2(tmp_path_factory):
    """A small torch.export program saved the way `skd export --format pt2` saves one."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2).eval()
    program = torch.export.export(model, (torch.randn(2, 3),))
    path = tmp_path_factory.mktemp("pt2") / "linear.pt2"
    torch.export.save(program, str(path), extra_files={"skdcore.json": "{}"})
    return path, model


def _rewrite(source, target, replace=None, add=None, deflate=()):
    """Copy a .pt2 zip, replacing the records whose path ends with a key of ``replace`` and adding
    ``add`` ({path inside the archive folder: bytes}); names in ``deflate`` are written compressed."""
    replace, add = replace or {}, add or {}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as new:
        folder = old.namelist()[0].split("/", 1)[0]
        for info in old.infolist():
            data = next((v for k, v in replace.items() if info.filename.endswith(k)), None)
            new.writestr(info.filename, old.read(info) if data is None else data)
        for name, data in add.items():
            method = zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED
            new.writestr(f"{folder}/{name}", data, compress_type=method)
    return target


def _pickled_weight_pt2(source, target, marker):
    with zipfile.ZipFile(source) as archive:
        name = next(n for n in archive.namelist() if n.endswith("_weights_config.json"))
        config = json.loads(archive.read(name))
    fqn = next(iter(config["config"]))
    config["config"][fqn]["use_pickle"] = True
    path_name = config["config"][fqn]["path_name"]
    return _rewrite(
        source,
        target,
        {
            name.split("/", 1)[1]: json.dumps(config).encode(),
            f"weights/{path_name}": _saved_bytes(_Payload(marker)),
        },
    )


def test_a_plain_program_loads_with_trust_and_runs(plain_pt2):
    path, model = plain_pt2
    clips = torch.randn(2, 3)  # the batch size it was exported with
    torch.testing.assert_close(load_program(path, trust=True).module()(clips), model(clips))


def test_a_program_is_refused_without_trust_pointing_to_onnx(plain_pt2):
    with pytest.raises(ExportError, match=r"linear.pt2: refused: a .pt2 is a program.*trust=True"
                       r".*--trust-program.*use ONNX \(skd export CHECKPOINT --format onnx\)"):
        load_program(plain_pt2[0])


@pytest.mark.parametrize("where", ["weights", "sample_inputs"])
def test_pickled_entries_are_refused_and_never_run(plain_pt2, tmp_path, where):
    marker = tmp_path / "EXECUTED"
    if where == "weights":
        crafted = _pickled_weight_pt2(plain_pt2[0], tmp_path / "evil.pt2", marker)
        match = r"evil.pt2: .*weights_config.json: \['weight'\] are stored pickled .*files you made"
    else:
        crafted = _rewrite(
            plain_pt2[0], tmp_path / "evil.pt2", {"sample_inputs/model.pt": _saved_bytes(_Payload(marker))}
        )
        match = r"evil.pt2: the sample inputs .*model.pt' are not plain tensors .*files you made"
    with pytest.raises(ExportError, match=match):
        load_program(crafted, trust=True)
    assert not marker.exists()


@pytest.mark.parametrize(
    "entry",
    [
        "data/aotinductor/model/model.so",
        "data/constants/custom_obj_0",
        "data/constants/opaque_obj_0",
        "data/weights/model.pt",
        "serialized_state_dict.pt",
    ],
)
def test_entries_torch_would_unpickle_or_execute_are_refused_by_name(plain_pt2, tmp_path, entry):
    crafted = _rewrite(plain_pt2[0], tmp_path / "extra.pt2", add={entry: b"\0" * 16})
    with pytest.raises(ExportError, match=rf"extra.pt2: entry '.*{entry}' is not part of a plain"):
        load_program(crafted, trust=True)


def test_a_record_declaring_more_bytes_than_the_file_is_refused(plain_pt2, tmp_path):
    crafted = _rewrite(
        plain_pt2[0],
        tmp_path / "bomb.pt2",
        add={"extra/big.txt": b"\0" * (8 << 20)},
        deflate={"extra/big.txt"},
    )
    assert crafted.stat().st_size < 1 << 20
    with pytest.raises(ExportError, match=r"bomb.pt2: member '.*extra/big.txt' declares 8388608 bytes"):
        load_program(crafted, trust=True)


def test_a_tensor_declared_over_an_empty_record_is_refused(plain_pt2, tmp_path):
    """torch builds torch.zeros(sizes) for an empty weight record: 10^12 elements from a few bytes."""
    with zipfile.ZipFile(plain_pt2[0]) as archive:
        name = next(n for n in archive.namelist() if n.endswith("_weights_config.json"))
        config = json.loads(archive.read(name))
    config["config"]["weight"]["tensor_meta"]["sizes"] = [{"as_int": 10**6}, {"as_int": 10**6}]
    path_name = config["config"]["weight"]["path_name"]
    crafted = _rewrite(
        plain_pt2[0],
        tmp_path / "zeros.pt2",
        {name.split("/", 1)[1]: json.dumps(config).encode(), path_name: b""},
    )
    with pytest.raises(
        ExportError, match=r"zeros.pt2: .*\['weight'\] declare tensors with elements over empty"
    ):
        load_program(crafted, trust=True)


def test_deflated_sample_inputs_are_capped_too(plain_pt2, tmp_path):
    buffer = io.BytesIO()
    torch.save((torch.zeros(4 << 20),), buffer)
    deflated = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as old,
        zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as new,
    ):
        for info in old.infolist():
            new.writestr(info.filename, old.read(info))
    crafted = _rewrite(plain_pt2[0], tmp_path / "inputs.pt2", {"sample_inputs/model.pt": deflated.getvalue()})
    with pytest.raises(
        ExportError, match=r"inputs.pt2: the sample inputs .* declares 16777216 bytes, more than"
    ):
        load_program(crafted, trust=True)


# --------------------------------------------------------------------------- the four ways of issue 33
@pytest.fixture(scope="module")
def dynamic_pt2(tmp_path_factory):
    """A program with a dynamic batch: its graph holds symbolic shapes (expr_str)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2).eval()
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(model, (torch.randn(2, 3),), dynamic_shapes=({0: batch},))
    path = tmp_path_factory.mktemp("pt2") / "dynamic.pt2"
    torch.export.save(program, str(path), extra_files={"skdcore.json": "{}"})
    return path, model


def _with_graph(source, target, edit):
    """Copy a .pt2 with its JSON graph passed through ``edit`` (which changes it in place)."""
    with zipfile.ZipFile(source) as archive:
        graph = json.loads(archive.read(next(n for n in archive.namelist() if "/models/" in n)))
    edit(graph)
    return _rewrite(source, target, {"models/model.json": json.dumps(graph).encode()})


def _load_and_call(path, batch=2):
    return load_program(path, trust=True).module()(torch.randn(batch, 3))


def test_a_legacy_model_pt_under_an_allowed_name_is_refused_and_never_runs(plain_pt2, tmp_path):
    """torch reads weights/<model>.pt (the legacy format) and unpickles it with weights_only=False; a
    program named 'weight_0' made that file pass the old name check."""
    marker = tmp_path / "EXECUTED"
    renamed = {}
    with zipfile.ZipFile(plain_pt2[0]) as old:
        for info in old.infolist():
            name = info.filename.replace("/model.json", "/weight_x.json").replace("/model_", "/weight_x_")
            renamed[name.replace("sample_inputs/model.pt", "sample_inputs/weight_x.pt")] = old.read(info)
    crafted = tmp_path / "legacy.pt2"
    with zipfile.ZipFile(crafted, "w") as new:
        for name, data in renamed.items():
            new.writestr(name, data)
        folder = next(iter(renamed)).split("/", 1)[0]
        new.writestr(f"{folder}/data/weights/weight_x.pt", _saved_bytes({"weight": _Payload(marker)}))
    with pytest.raises(ExportError, match=r"legacy.pt2: entry '.*data/weights/weight_x.pt' is not part of"):
        _load_and_call(crafted)
    assert not marker.exists()


def test_a_symbolic_shape_that_calls_python_is_refused_and_never_runs(dynamic_pt2, tmp_path):
    """torch hands every expr_str to sympy.sympify, which evals it: the program then works normally."""
    marker = tmp_path / "EXECUTED"

    def edit(graph):
        for value in graph["graph_module"]["graph"]["tensor_values"].values():
            for size in value["sizes"]:
                if size.get("as_expr"):
                    symbol = size["as_expr"]["expr_str"]
                    size["as_expr"]["expr_str"] = f"{symbol} if open(r'{marker}', 'w') else 0"

    crafted = _with_graph(dynamic_pt2[0], tmp_path / "sympify.pt2", edit)
    with pytest.raises(ExportError, match=r"sympify.pt2: .*symbolic shape .*a plain program never holds"):
        _load_and_call(crafted)
    assert not marker.exists()


def test_guards_code_that_calls_python_is_refused_and_never_runs(dynamic_pt2, tmp_path):
    """torch execs guards_code into a function that runs on every call of the loaded module."""
    marker = tmp_path / "EXECUTED"

    def edit(graph):
        graph["guards_code"] = [f"not open(r'{marker}', 'w').close()"]

    crafted = _with_graph(dynamic_pt2[0], tmp_path / "guards.pt2", edit)
    with pytest.raises(ExportError, match=r"guards.pt2: .*guard .*a call of something other than"):
        _load_and_call(crafted)
    assert not marker.exists()


@pytest.mark.parametrize("target", ["torch.load", "builtins.exec", "torch.ops.aten.__class__", "#custom"])
def test_node_targets_outside_the_operator_namespaces_are_refused(plain_pt2, tmp_path, target):
    def edit(graph):
        graph["graph_module"]["graph"]["nodes"][0]["target"] = target

    crafted = _with_graph(plain_pt2[0], tmp_path / "target.pt2", edit)
    with pytest.raises(ExportError, match=r"target.pt2: .*node target .* is not an operator of torch.ops"):
        _load_and_call(crafted)


def test_a_dynamic_program_passes_the_graph_checks_and_runs(dynamic_pt2):
    clips = torch.randn(5, 3)  # another batch size than it was exported with
    program = load_program(dynamic_pt2[0], trust=True)
    torch.testing.assert_close(program.module()(clips), dynamic_pt2[1](clips))


@pytest.mark.parametrize("mutation", ZIP_MUTATIONS)
def test_zip_layouts_two_readers_could_disagree_on_are_refused(plain_pt2, tmp_path, mutation):
    """Data before the first member let Python's zipfile (the check) and torch's reader see different
    archives; every member must be where the central directory says, and nothing else may be there."""
    crafted = tmp_path / "layout.pt2"
    crafted.write_bytes(mutate_zip(plain_pt2[0].read_bytes(), mutation))
    with pytest.raises(ExportError, match=r"layout.pt2: .*(damaged or crafted|not a readable|damaged .pt2)"):
        load_program(crafted, trust=True)


def test_torch_loads_a_fresh_archive_of_the_checked_members(plain_pt2):
    from skdcore.pt2_safety import canonical_pt2

    data = plain_pt2[0].read_bytes()
    fresh = canonical_pt2(data)
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(io.BytesIO(fresh)) as new:
        assert old.namelist() == new.namelist()
        assert all(old.read(name) == new.read(name) for name in old.namelist())


def test_mutated_programs_load_or_fail_with_an_export_error(plain_pt2, tmp_path):
    """Seeded byte mutations (flips, truncations, inserts) of a .pt2: a raw BadZipFile (81 of 170 mutants
    before) or any other exception type is a failure; each mutant either loads or is an ExportError."""
    import random

    rng = random.Random(0)
    valid = plain_pt2[0].read_bytes()
    outcomes = {"loaded": 0, "refused": 0}
    for case in range(60):
        data = bytearray(valid)
        kind = case % 3
        if kind == 0:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data = data[: rng.randrange(len(data))]
        else:
            at = rng.randrange(len(data))
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        path = tmp_path / f"mutant{case}.pt2"
        path.write_bytes(bytes(data))
        try:
            load_program(path, trust=True)
            outcomes["loaded"] += 1
        except ExportError:
            outcomes["refused"] += 1
    assert outcomes["refused"] >= 40, outcomes
