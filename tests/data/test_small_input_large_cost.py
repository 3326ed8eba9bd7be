"""Small inputs that used to cost without bound (issue 33, item 4), each written by the test and run in a
child with a timeout: a self-referential PYSKL keypoint list (looped forever), split lists shared through
the pickle memo (fanned out into thousands of files), a YAML alias bomb (91 s, 3.1 GB), 20,000-deep YAML
(RecursionError), a 3,000-joint layout (20 s), a JSON depth scan over 50 MB of '[' (minutes), a
100,000-deep manifest.json (RecursionError) and a Penn .mat whose variable inflates past the cap."""
from __future__ import annotations

import pickle
import struct
import zlib

import numpy as np
from bounded_child import run_bounded


def _refusal(code: str, timeout: float = 60.0) -> str:
    """What ``code`` raised in a child (type and message), which must finish within ``timeout``."""
    wrapped = "try:\n" + "".join(f"    {line}\n" for line in code.strip().splitlines()) + (
        "except Exception as error:\n    print('RAISED', type(error).__name__, error)\n"
        "else:\n    print('NO ERROR')\n"
    )
    output, _ = run_bounded(wrapped, timeout)
    return output


def _annotation(name: str) -> dict:
    keypoint = np.zeros((1, 4, 25, 3), dtype=np.float32)
    keypoint[..., 1] = np.linspace(0.1, 0.9, 25)
    return {"frame_dir": name, "label": 1, "keypoint": keypoint, "total_frames": 4}


# --------------------------------------------------------------------------- PYSKL pickles
def _pyskl_source(path, **options) -> str:
    return f"from skdcore.data import make_source\nmake_source('pyskl', root={str(path)!r}, **{options!r})"


def test_self_referential_keypoint_list_is_refused(tmp_path):
    looped: list = []
    looped.append(looped)
    path = tmp_path / "loop.pkl"
    path.write_bytes(pickle.dumps({"split": {}, "annotations": [
        {"frame_dir": "a", "label": 0, "keypoint": looped}]}, protocol=2))
    assert path.stat().st_size < 200
    out = _refusal(_pyskl_source(path, layout="ntu25"), timeout=30)
    assert "RAISED ReaderError" in out and "holds itself through a pickle memo reference" in out, out


def test_split_lists_shared_through_the_memo_are_refused(tmp_path):
    shared = ["a"] * 5_000  # one list, pickled once, named by 300 splits: 1.5 million entries
    path = tmp_path / "fanout.pkl"
    path.write_bytes(pickle.dumps({"split": {f"s{i}": shared for i in range(300)},
                                   "annotations": [_annotation("a"), _annotation("b")]}, protocol=4))
    assert path.stat().st_size < 20_000
    out = _refusal(_pyskl_source(path), timeout=30)
    assert "RAISED ReaderError" in out and "300 splits, more than the limit 256" in out, out
    path.write_bytes(pickle.dumps({"split": {f"s{i}": shared for i in range(20)},
                                   "annotations": [_annotation("a"), _annotation("b")]}, protocol=4))
    out = _refusal(_pyskl_source(path), timeout=30)
    assert "RAISED ReaderError" in out and "split lists shared through pickle memo references" in out, out


# --------------------------------------------------------------------------- YAML configs and layouts
def _alias_bomb(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefghijk", "bcdefghijk"[: levels - 1]):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    lines.append(f"seed: *{'abcdefghijk'[levels - 1]}")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_in_a_config_is_refused_at_once(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb())
    assert path.stat().st_size < 500
    out = _refusal(f"from skdcore.train import load_config\nload_config({str(path)!r})", timeout=30)
    assert "RAISED ConfigError" in out and "aliases expand to more than 10000 values" in out, out


def test_yaml_alias_bomb_in_a_layout_is_refused_at_once(tmp_path):
    path = tmp_path / "layout.yaml"
    path.write_text(_alias_bomb().replace("seed:", "joint_names:") + "edges: [[0, 1]]\n")
    out = _refusal(f"from skdcore.layouts import load_layout\nload_layout({str(path)!r})", timeout=30)
    assert "RAISED ValueError" in out and "aliases expand" in out and "layout.yaml" in out, out


def test_deep_and_self_referential_yaml_are_config_errors(tmp_path):
    deep, looped = tmp_path / "deep.yaml", tmp_path / "looped.yaml"
    deep.write_text("seed: " + "[" * 20_000 + "]" * 20_000 + "\n")
    looped.write_text("model:\n  name: shift_gcn\n  args: &args {inner: *args}\n")
    cases = ((deep, "nested more than 64 levels deep"), (looped, "a value that contains itself"))
    for path, expected in cases:
        out = _refusal(f"from skdcore.train import load_config\nload_config({str(path)!r})", timeout=30)
        assert "RAISED ConfigError" in out and expected in out, out


def test_a_wrong_type_message_never_prints_a_huge_value(tmp_path):
    import pytest

    from skdcore.train import ConfigError, load_config

    path = tmp_path / "big.yaml"
    path.write_text("seed: [" + ", ".join(["123456"] * 20_000) + "]\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert "seed: [123456, 123456" in message and "is not an integer" in message
    assert len(message) < 1_000, f"{len(message)} characters of error message"


# --------------------------------------------------------------------------- layouts
def test_layout_with_thousands_of_joints_is_refused_fast_and_a_large_one_builds_fast(tmp_path):
    path = tmp_path / "huge.json"
    names = [f"j{i}" for i in range(3_000)]
    path.write_text('{"joint_names": %s, "edges": %s}' % (
        str(names).replace("'", '"'), str([[i, i + 1] for i in range(2_999)])))
    out = _refusal(f"from skdcore.layouts import load_layout\nload_layout({str(path)!r})", timeout=10)
    assert "RAISED ValueError" in out and "3000 joints" in out and "at most 1000 joints" in out, out
    code = ("import time\nfrom skdcore.layouts import make_layout\nt = time.perf_counter()\n"
            "layout = make_layout('chain', [f'j{i}' for i in range(1000)],\n"
            "                     [(i, i + 1) for i in range(999)])\n"
            "print('centre', layout.center, 'seconds', time.perf_counter() - t)")
    out, _ = run_bounded(code, timeout=30)
    assert "centre 499 " in out, out  # the middle of a 1,000-joint chain


# --------------------------------------------------------------------------- JSON
def test_json_depth_scan_stops_at_the_cap(tmp_path):
    path = tmp_path / "brackets.json"
    path.write_bytes(b"[" * (50 << 20))
    out = _refusal("from pathlib import Path\nfrom skdcore.data.readers.kinetics import read_kinetics_json\n"
                   f"read_kinetics_json(Path({str(path)!r}))", timeout=20)
    assert "RAISED ReaderError" in out and "nested more than 64 levels deep" in out, out


def test_deep_manifest_is_a_damaged_data_error(tmp_path):
    (tmp_path / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    out = _refusal(f"from skdcore.data.manifest import load_manifest\nload_manifest({str(tmp_path)!r})",
                   timeout=30)
    assert "RAISED PreparedDataError" in out and "nested more than 64 levels" in out and "--force" in out, out


# --------------------------------------------------------------------------- Penn .mat
def _mat_with_inflating_variable(path, values: int) -> None:
    """A MAT v5 file whose one compressed variable 'x' is a (values, 1) double array of zeros."""
    data_bytes = values * 8
    flags = struct.pack("<IIII", 6, 8, 6, 0)  # miUINT32 array flags: class double
    dims = struct.pack("<IIii", 5, 8, values, 1)  # miINT32 dims
    name = struct.pack("<I", (1 << 16) | 1) + b"x\0\0\0"  # small miINT8 element 'x'
    real = struct.pack("<II", 9, data_bytes)  # miDOUBLE
    body = flags + dims + name + real
    matrix_tag = struct.pack("<II", 14, len(body) + data_bytes)
    deflater = zlib.compressobj(9)
    parts = [deflater.compress(matrix_tag + body)]
    chunk = bytes(1 << 22)
    for _ in range(data_bytes // len(chunk)):
        parts.append(deflater.compress(chunk))
    parts.append(deflater.compress(bytes(data_bytes % len(chunk))) + deflater.flush())
    compressed = b"".join(parts)
    header = b"MATLAB 5.0 MAT-file, crafted".ljust(116, b" ") + bytes(8) + b"\x00\x01IM"
    path.write_bytes(header + struct.pack("<II", 15, len(compressed)) + compressed)


def test_penn_mat_inflation_is_checked_while_inflating(tmp_path):
    path = tmp_path / "0001.mat"
    _mat_with_inflating_variable(path, (300 << 20) // 8)  # 300 MiB inflated
    assert path.stat().st_size < 1 << 20
    out = _refusal(f"from skdcore.data.readers.penn import read_penn_mat\nread_penn_mat({str(path)!r})",
                   timeout=60)
    assert "RAISED ReaderError" in out and "inflate to more than 268435456 bytes" in out, out


def test_inflation_check_counts_what_scipy_inflates(tmp_path):
    from skdcore.data.readers.mat_worker import check_inflated_size

    path = tmp_path / "small.mat"
    _mat_with_inflating_variable(path, 1_000)
    assert check_inflated_size(str(path)) == 8_000 + 56  # the matrix tag, its sub-elements and data
