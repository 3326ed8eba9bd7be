import json

import numpy as np
import pytest
import torch
from data_formats import ntu_body, write_ntu_skeleton

from skdcore.commands.prepare import main
from skdcore.data import (
    PairedSkeletonDataset,
    SKDOcclusion,
    SyntheticSource,
    cut_or_pad,
    load_manifest,
    make_loader,
    pre_normalise,
    prepare_dataset,
    sample_rng,
    verify_checksums,
)
from skdcore.data import prepare as prepare_module

SMALL = {"num_samples": 40, "clip_frames": 24, "num_classes": 6}


def prepare_small(out, **kwargs):
    kwargs.setdefault("num_frames", None)
    kwargs.setdefault("chunk_size", 16)
    kwargs.setdefault("progress", False)
    return prepare_dataset(out, "synthetic", SMALL, **kwargs)


def test_prepare_synthetic_layout_manifest_and_values(tmp_path):
    manifest = prepare_small(tmp_path / "d", seed=3)
    data = np.load(tmp_path / "d" / "data.npy", mmap_mode="r")
    labels = np.load(tmp_path / "d" / "labels.npy")
    assert data.shape == (40, 6, 24, 25, 2) and manifest["shape"] == [40, 6, 24, 25, 2]
    assert manifest["counts"]["valid"] == 40 and manifest["num_classes"] == 6
    assert manifest["config"]["lq"] == {"name": "skd_occlusion", "p": 0.6, "window": 3}
    # sample 7 recomputed by hand: channels 0-2 LQ, 3-5 HQ (reference order)
    src = SyntheticSource(**SMALL)
    hq = pre_normalise(src.load(7)[0], src.layout)
    lq = SKDOcclusion()(hq, sample_rng(3, 7))
    np.testing.assert_allclose(data[7, 3:], cut_or_pad(hq, 24), atol=1e-6)
    np.testing.assert_allclose(data[7, :3], cut_or_pad(lq, 24), atol=1e-6)
    assert labels[7] == 7 % 6
    splits = {n: np.load(tmp_path / "d" / f"split_{n}.npy") for n in ("train", "test")}
    assert len(np.intersect1d(splits["train"], splits["test"])) == 0
    assert len(splits["train"]) + len(splits["test"]) == 40
    verify_checksums(tmp_path / "d")
    assert not (tmp_path / "d" / "progress.json").exists()
    assert not list((tmp_path / "d").glob("*.partial"))


def test_prepare_refuses_different_config_and_force(tmp_path):
    prepare_small(tmp_path / "d", seed=0)
    again = prepare_small(tmp_path / "d", seed=0)  # same config: nothing to do
    assert again["config_hash"] == load_manifest(tmp_path / "d")["config_hash"]
    with pytest.raises(FileExistsError, match="different configuration.*force=True"):
        prepare_small(tmp_path / "d", seed=1)
    forced = prepare_small(tmp_path / "d", seed=1, force=True)
    assert forced["config"]["seed"] == 1


def test_prepare_resumes_after_interruption(tmp_path, monkeypatch):
    reference = prepare_small(tmp_path / "full", seed=5)
    real = prepare_module._process_chunk
    calls = []

    def dies_on_third_chunk(job):
        calls.append(job[5])
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if the run were killed
        return real(job)

    monkeypatch.setattr(prepare_module, "_process_chunk", dies_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        prepare_small(tmp_path / "cut", seed=5)
    progress = json.loads((tmp_path / "cut" / "progress.json").read_text())
    assert sorted(progress["done_chunks"]) == [0, 16]
    assert not (tmp_path / "cut" / "manifest.json").exists()
    calls.clear()
    monkeypatch.setattr(prepare_module, "_process_chunk", lambda job: (calls.append(job[5]), real(job))[1])
    resumed = prepare_small(tmp_path / "cut", seed=5)
    assert calls == [32]  # only the unfinished chunk was computed
    assert resumed["sha256"]["data.npy"] == reference["sha256"]["data.npy"]
    assert resumed["sha256"]["labels.npy"] == reference["sha256"]["labels.npy"]


def test_prepare_skips_malformed_files_and_counts_them(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "raw"
    raw.mkdir()
    for p in (1, 2, 3):
        write_ntu_skeleton(raw / f"S001C001P{p:03d}R001A003.skeleton",
                           {"1": (np.arange(30), ntu_body(rng, 30))}, 30)
    (raw / "S001C001P002R001A003.skeleton").write_text("30\n1\n")  # truncated
    manifest = prepare_dataset(tmp_path / "out", "ntu", {"root": raw}, progress=False)
    assert manifest["counts"] == {"samples": 3, "valid": 2, "skipped": 1,
                                  "splits": {"xsub_train": 1, "xsub_val": 1,  # P003 tests
                                             "xview_train": 0, "xview_val": 2}}
    assert "S001C001P002R001A003" in manifest["skipped"][0]["key"]
    assert "file ends early" in manifest["skipped"][0]["error"]
    assert np.load(tmp_path / "out" / "labels.npy").tolist() == [2, -1, 2]
    ds = PairedSkeletonDataset(tmp_path / "out", split="xview_val")
    assert len(ds) == 2 and ds[0][0].shape == (3, 100, 25, 2)


def test_cli_main(tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["--out", str(out), "--num-samples", "20", "--clip-frames", "16", "--num-frames", "0",
            "--lq", "jitter"]
    assert main(args) == 0
    assert "prepared" in capsys.readouterr().out
    assert load_manifest(out)["config"]["lq"]["name"] == "gaussian_jitter"
    assert main(args[:-1] + ["skd"]) == 2  # different config without --force
    assert "different configuration" in capsys.readouterr().err
    assert main(args[:-1] + ["skd", "--force"]) == 0


def test_paired_dataset_fixed_random_and_loader(tmp_path):
    prepare_small(tmp_path / "d", seed=2)
    ds = PairedSkeletonDataset(tmp_path / "d", split="train")
    data = np.load(tmp_path / "d" / "data.npy")
    hq, lq, label = ds[3]
    row = int(ds.indices[3])
    torch.testing.assert_close(hq, torch.from_numpy(data[row, 3:]))
    torch.testing.assert_close(lq, torch.from_numpy(data[row, :3]))
    assert label.dtype == torch.int64 and ds.num_classes == 6
    batch = next(iter(make_loader(ds, batch_size=8, shuffle=False)))
    assert [t.shape for t in batch] == [(8, 3, 24, 25, 2), (8, 3, 24, 25, 2), (8,)]
    torch.testing.assert_close(batch[0][3], hq)
    torch.testing.assert_close(batch[1][3], lq)
    rand = PairedSkeletonDataset(tmp_path / "d", split="train", lq="random", seed=9)
    first = rand[3][1]
    torch.testing.assert_close(rand[3][1], first)  # same epoch -> same LQ
    rand.set_epoch(1)
    assert not torch.equal(rand[3][1], first)
    expected = SKDOcclusion()(data[row, 3:], sample_rng(9, row, 1))
    torch.testing.assert_close(rand[3][1], torch.from_numpy(expected))
    items = rand.__getitems__([3, 0, 5])
    torch.testing.assert_close(items[0][1], rand[3][1])
    with pytest.raises(ValueError, match="available splits"):
        PairedSkeletonDataset(tmp_path / "d", split="val")
    with pytest.raises(FileNotFoundError, match="manifest.json not found"):
        PairedSkeletonDataset(tmp_path / "nothing")


def test_prepare_with_worker_processes_matches_serial(tmp_path):
    serial = prepare_small(tmp_path / "serial", seed=4)
    parallel = prepare_small(tmp_path / "parallel", seed=4, workers=2)
    assert parallel["sha256"] == serial["sha256"]


def test_dataset_pickles_without_the_array(tmp_path):
    import pickle

    prepare_small(tmp_path / "d")
    ds = PairedSkeletonDataset(tmp_path / "d", split="test")
    expected = ds[1]
    payload = pickle.dumps(ds)
    assert len(payload) < 20_000  # the (40, 6, 24, 25, 2) array itself is ~1.1 MB
    clone = pickle.loads(payload)
    for a, b in zip(clone[1], expected):
        torch.testing.assert_close(a, b)
