"""The restricted unpickler against hand-made pickles (tests/data/fuzz_readers.py: crafted_pickle):
numpy's BUILD on a crafted dtype state, a huge memo index, memo references that multiply a small
file, and protocol-2 files holding an empty array. Cases that could crash or exhaust memory run in a
child process with a capped address space."""

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fuzz_readers import CHILD_MEMORY_BYTES, crafted_pickle, pyskl_valid_object

from skdcore.data import ReaderError, make_source
from skdcore.data.readers.safe_pickle import load_pickle

HERE = Path(__file__).resolve().parent


def _in_child(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` after skdcore's import in a child whose address space is capped (fuzz_readers)."""
    prelude = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import skdcore.data; "
        f"from fuzz_readers import cap_address_space; cap_address_space({CHILD_MEMORY_BYTES}); "
    )
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120)


def test_a_crafted_dtype_state_is_refused_not_a_crash(tmp_path):
    path = tmp_path / "dtype.pkl"
    path.write_bytes(crafted_pickle("dtype_subarray"))
    child = _in_child(
        "from skdcore.data import ReaderError, make_source\n"
        f"try:\n    s = make_source('pyskl', root={str(path)!r}); s.load(0); print('LOADED')\n"
        "except ReaderError as err:\n    print('REFUSED', err)\n"
    )
    assert child.returncode == 0, f"the child died (code {child.returncode}): {child.stderr[-500:]}"
    assert (
        "REFUSED" in child.stdout and "dtype state with sub-arrays or fields is not allowed" in child.stdout
    )


def test_a_huge_memo_index_allocates_nothing(tmp_path):
    path = tmp_path / "memo.pkl"
    path.write_bytes(crafted_pickle("memo_index"))
    assert path.stat().st_size == 9
    child = _in_child(
        "from skdcore.data.readers.safe_pickle import load_pickle\n"
        f"print('VALUE', load_pickle({str(path)!r}))\n"
    )
    assert child.returncode == 0, child.stderr[-500:]
    assert "VALUE None" in child.stdout  # a valid pickle of None: read, with the memo as a dict


@pytest.mark.parametrize(
    "kind, match",
    [
        ("shared_annotation", "lists the same annotation object more than once"),
        ("shared_keypoint", r"more keypoint values \(\d+\+\) than the file has bytes"),
        ("shared_bytes", r"its arrays hold more bytes \(\d+\+\) than the file itself"),
    ],
)
def test_memo_references_cannot_multiply_a_small_file(tmp_path, kind, match):
    path = tmp_path / f"{kind}.pkl"
    path.write_bytes(crafted_pickle(kind, count=100_000))
    assert path.stat().st_size < 2 << 20  # 2 MB declaring 10^4..10^5 clips of up to 300 frames
    with pytest.raises(ReaderError, match=f"{kind}.pkl: .*{match}"):
        make_source("pyskl", root=str(path))


def test_many_annotations_in_few_bytes_are_refused(tmp_path):
    path = tmp_path / "many.pkl"
    path.write_bytes(pickle.dumps({"split": {}, "annotations": [{} for _ in range(200_000)]}, protocol=4))
    with pytest.raises(ReaderError, match=r"many.pkl: 200000 annotations in \d+ bytes, more than one per 32"):
        make_source("pyskl", root=str(path))


def test_protocol_2_with_an_empty_array_loads(tmp_path):
    path = tmp_path / "p2.pkl"
    path.write_bytes(crafted_pickle("empty_array_p2"))
    content = load_pickle(path)
    empty = content["annotations"][0]["empty"]
    assert isinstance(empty, np.ndarray) and empty.shape == (0,) and empty.dtype == np.float32
    expected = pyskl_valid_object()["annotations"][1]["keypoint"]
    np.testing.assert_array_equal(content["annotations"][1]["keypoint"], expected)
    source = make_source("pyskl", root=str(path))
    assert len(source) == 3 and np.all(np.isfinite(source.load(2)[0]))


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize(
    "value",
    [
        np.arange(12, dtype=">i4").reshape(3, 4),
        np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        np.array(["ab", "c"]),
        np.array([b"xy", b"z"]),
        np.array([True, False]),
        np.float32(1.5),
        np.int64(7),
    ],
    ids=["big_endian", "fortran", "unicode", "bytes", "bool", "float32_scalar", "int64_scalar"],
)
def test_numpy_values_round_trip_through_the_restricted_loader(tmp_path, protocol, value):
    path = tmp_path / "v.pkl"
    path.write_bytes(pickle.dumps({"v": value}, protocol=protocol))
    loaded = load_pickle(path)["v"]
    assert type(loaded) is type(value) and loaded.dtype == value.dtype
    np.testing.assert_array_equal(loaded, value)


@pytest.mark.parametrize("dtype", [np.dtype([("a", "<f4")]), np.dtype("M8[s]"), np.dtype(object)], ids=str)
def test_structured_and_datetime_dtypes_are_refused(tmp_path, dtype):
    path = tmp_path / "d.pkl"
    path.write_bytes(pickle.dumps(np.zeros(2, dtype), protocol=4))
    with pytest.raises(ReaderError, match=r"d.pkl: not a readable pickle \(UnpicklingError: numpy dtype"):
        load_pickle(path)
