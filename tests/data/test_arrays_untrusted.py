"""`--source arrays` inputs are untrusted files: a damaged .npz / .npy is a ReaderError naming the file
(never a BadZipFile / OSError traceback), and every size it declares is checked before anything is
allocated (a 540-byte .npz declaring a 168 GiB array, a deflate bomb)."""

import zipfile

import numpy as np
import pytest
from fuzz_readers import npy_bytes, npz_of, ragged_clips, savez_bytes

from skdcore.data import ArraySource, ReaderError

FIELDS = {"x": np.ones((4, 3, 6, 25, 2), np.float32), "labels": np.arange(4) % 2}


def test_a_header_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.npz"
    members = {
        "x.npy": npy_bytes((10**6, 3, 300, 25, 2), data=b"\0" * 64),
        "labels.npy": npy_bytes((4,), "<i8"),
    }
    path.write_bytes(npz_of(members, compress=True))
    assert path.stat().st_size < 1000
    with pytest.raises(
        ReaderError,
        match=r"huge.npz \(--input\) member 'x': its header declares a \(1000000, 3, 300, 25, 2\) float32 "
        r"array \(180000000000 bytes\) but 64 bytes of data follow",
    ):
        ArraySource(str(path))


def test_a_huge_npy_header_is_refused_too(tmp_path):
    (tmp_path / "X.npy").write_bytes(npy_bytes((2**40,), data=b"\0" * 16))
    np.save(tmp_path / "y.npy", np.zeros(2, np.int64))
    with pytest.raises(ReaderError, match=r"X.npy \(--input\): its header declares a \(1099511627776,\)"):
        ArraySource(str(tmp_path / "X.npy"), str(tmp_path / "y.npy"))


def test_a_deflate_bomb_is_refused_from_its_declared_sizes(tmp_path):
    path = tmp_path / "bomb.npz"
    rows = 80 << 20 >> 2  # 80 MiB of float32 zeros deflate to ~80 KB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w") as member:
            member.write(npy_bytes((rows,)))
            zeros = bytes(1 << 20)
            for _ in range(80):
                member.write(zeros)
        archive.writestr("labels.npy", npy_bytes((4,), "<i8", bytes(32)))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ReaderError, match=r"bomb.npz \(--input\): member 'x.npy' would expand .* a zip bomb"):
        ArraySource(str(path))


def _flip_data_byte(data: bytes) -> bytes:
    data = bytearray(data)
    data[len(data) // 3] ^= 0xFF  # inside the stored x.npy member: a CRC mismatch
    return bytes(data)


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda d: d[: len(d) // 2], r"not a readable zip archive \(BadZipFile"),
        (lambda d: b"PK\x03\x04" + b"\0" * 40, r"not a readable zip archive"),
        (_flip_data_byte, r"member 'x' is not readable \(BadZipFile: Bad CRC-32"),
        (lambda d: savez_bytes({**FIELDS, "pose": np.zeros(2)}), r"unknown keys \['pose'\]"),
        (
            lambda d: savez_bytes({"x": FIELDS["x"], "labels": np.arange(3)}),
            r"labels: shape \(3,\) but x has",
        ),
        (
            lambda d: savez_bytes({"x": FIELDS["x"] * np.nan, "labels": FIELDS["labels"]}),
            r"3600 NaN/inf values",
        ),
    ],
    ids=["truncated", "garbage", "bad_crc", "unknown_key", "label_count", "nan"],
)
def test_damaged_npz_files_are_reader_errors_naming_the_file(tmp_path, damage, match):
    path = tmp_path / "clips.npz"
    path.write_bytes(damage(savez_bytes(FIELDS)))
    with pytest.raises(ReaderError, match=rf"clips.npz.*{match}"):
        ArraySource(str(path))


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    path = tmp_path / "ragged.npz"
    np.savez(path, x=ragged_clips(), labels=np.arange(2))
    with pytest.raises(ReaderError, match=r"ragged.npz \(--input\) member 'x' holds Python objects.*lengths"):
        ArraySource(str(path))


def test_valid_files_still_read(tmp_path):
    np.savez_compressed(tmp_path / "ok.npz", **FIELDS, split=np.array(["train", "train", "test", "test"]))
    source = ArraySource(str(tmp_path / "ok.npz"))
    assert len(source) == 4 and sorted(source.splits()) == ["test", "train"]
    np.testing.assert_array_equal(source.load(3)[0], FIELDS["x"][3])
    np.save(tmp_path / "X.npy", np.asfortranarray(FIELDS["x"]))
    np.save(tmp_path / "y.npy", FIELDS["labels"])
    pair = ArraySource(str(tmp_path / "X.npy"), str(tmp_path / "y.npy"))
    np.testing.assert_array_equal(pair.load(1)[0], FIELDS["x"][1])
