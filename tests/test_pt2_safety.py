"""skdcore.export.load_program on crafted .pt2 archives: torch's loader unpickles weights stored with
use_pickle (weights_only=False) and falls back to weights_only=False for sample inputs, so a crafted file
ran code; load_program now refuses such archives unless trust=True, and plain programs still load."""

import io
import json
import zipfile

import pytest
import torch

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


def test_a_plain_program_loads_untrusted_and_runs(plain_pt2):
    path, model = plain_pt2
    clips = torch.randn(2, 3)  # the batch size it was exported with
    torch.testing.assert_close(load_program(path).module()(clips), model(clips))
    torch.testing.assert_close(load_program(path, trust=True).module()(clips), model(clips))


@pytest.mark.parametrize("where", ["weights", "sample_inputs"])
def test_pickled_entries_are_refused_and_never_run(plain_pt2, tmp_path, where):
    marker = tmp_path / "EXECUTED"
    if where == "weights":
        crafted = _pickled_weight_pt2(plain_pt2[0], tmp_path / "evil.pt2", marker)
        match = r"evil.pt2: .*weights_config.json: \['weight'\] are stored pickled .*trust=True"
    else:
        crafted = _rewrite(
            plain_pt2[0], tmp_path / "evil.pt2", {"sample_inputs/model.pt": _saved_bytes(_Payload(marker))}
        )
        match = r"evil.pt2: the sample inputs .*model.pt' are not plain tensors .*trust=True"
    with pytest.raises(ExportError, match=match):
        load_program(crafted)
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
        load_program(crafted)


def test_a_record_declaring_more_bytes_than_the_file_is_refused(plain_pt2, tmp_path):
    crafted = _rewrite(
        plain_pt2[0],
        tmp_path / "bomb.pt2",
        add={"extra/big.txt": b"\0" * (8 << 20)},
        deflate={"extra/big.txt"},
    )
    assert crafted.stat().st_size < 1 << 20
    with pytest.raises(ExportError, match=r"bomb.pt2: member '.*extra/big.txt' declares 8388608 bytes"):
        load_program(crafted)


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
        load_program(crafted)


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
        load_program(crafted)
