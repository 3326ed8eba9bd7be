"""ArraySource and `skd prepare --source arrays`: validation, frame / normalisation policies, hold-outs."""

import json

import numpy as np
import pytest

from skdcore.commands.prepare import main as prepare_main
from skdcore.data import (
    ArraySource,
    PairedSkeletonDataset,
    hold_out,
    load_manifest,
    prepare_dataset,
    verify_checksums,
)
from skdcore.layouts import make_layout

LAYOUT5 = make_layout(
    "star5",
    ["hip", "neck", "head", "left_hand", "right_hand"],
    [("hip", "neck"), ("neck", "head"), ("neck", "left_hand"), ("neck", "right_hand")],
    "neck",
)


def clips(n=12, frames=10, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3, frames, 5)).astype(np.float32) + 1.0  # + 1: no coordinate is exactly 0
    return x, np.arange(n) % classes


def test_fixed_array_keeps_coordinates_frames_and_layout(tmp_path):
    x, y = clips()
    manifest = prepare_dataset(
        tmp_path / "d", ArraySource(x, y, LAYOUT5), lq={"name": "compose", "steps": []}, progress=False
    )
    assert manifest["shape"] == [12, 6, 10, 5, 1] and manifest["num_classes"] == 3
    assert manifest["frames"]["policy"] == "keep" and manifest["frames"]["padded"] == 0
    assert manifest["normalisation"] == {
        "normalise": False,
        "description": "none: coordinates stored as given",
    }
    assert manifest["layout"] == LAYOUT5.to_dict()
    data = PairedSkeletonDataset(tmp_path / "d", split="train")
    hq, lq, label = data[4]
    np.testing.assert_array_equal(hq.numpy(), x[4][..., None])  # stored as given: no centring, no rotation
    np.testing.assert_array_equal(lq.numpy(), x[4][..., None])  # the identity LQ
    assert int(label) == 1 and data.layout == LAYOUT5
    verify_checksums(tmp_path / "d")


def test_variable_length_clips_keep_their_length_unless_num_frames(tmp_path):
    x, y = clips()
    ragged = [x[i, :, : 4 + i % 5] for i in range(12)]  # 4..8 frames
    manifest = prepare_dataset(tmp_path / "keep", ArraySource(ragged, y, LAYOUT5), progress=False)
    frames = manifest["frames"]
    assert (frames["policy"], frames["num_frames"], frames["min_length"], frames["max_length"]) == (
        "keep",
        8,
        4,
        8,
    )
    assert frames["padded"] == 10 and "zero-padded at the end" in frames["description"]
    hq = PairedSkeletonDataset(tmp_path / "keep")[0][0].numpy()
    np.testing.assert_array_equal(hq[:, :4, :, 0], ragged[0])
    assert not hq[:, 4:].any()
    cut = prepare_dataset(tmp_path / "cut", ArraySource(ragged, y, LAYOUT5), num_frames=6, progress=False)[
        "frames"
    ]
    assert (cut["policy"], cut["num_frames"], cut["cut"], cut["padded"]) == ("cut_or_pad", 6, 4, 6)


def test_normalise_on_request_centres_on_the_layout_centre(tmp_path):
    x, y = clips()
    manifest = prepare_dataset(tmp_path / "d", ArraySource(x, y, LAYOUT5), normalise=True, progress=False)
    assert (
        manifest["normalisation"]["center_joint"] == "neck" and manifest["normalisation"]["rotation"] is False
    )
    hq = PairedSkeletonDataset(tmp_path / "d")[0][0].numpy()
    np.testing.assert_allclose(hq[:, :, 1], 0.0)
    np.testing.assert_allclose(hq[:, :, 2, 0], x[0, :, :, 2] - x[0, :, :, 1], rtol=1e-6)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda x, y: (x[:, :, :, :4], y), "V=4 joints but layout 'star5' has 5"),
        (lambda x, y: (np.transpose(x, (0, 2, 3, 1)), y), "np.transpose\\(x, \\(0, 3, 1, 2\\)\\)"),
        (
            lambda x, y: (np.where(np.arange(10)[:, None] == 3, np.nan, x), y),
            "NaN/inf values in 12 clips.*nan_to_num",
        ),
        (lambda x, y: (x, y[:-1]), "labels: shape \\(11,\\) but x has N=12"),
        (lambda x, y: (x, y - 1), "labels: 4 negative values"),
        (lambda x, y: (x, y + 0.5), "not integer class indices"),
        (lambda x, y: (x[0], y), "is not \\(N, C, T, V\\)"),
    ],
)
def test_bad_input_is_named(change, message):
    x, y = change(*clips())
    with pytest.raises(ValueError, match=message):
        ArraySource(x, y, LAYOUT5)


def test_label_names_bound_the_labels():
    x, y = clips()
    with pytest.raises(ValueError, match="max label 2 but only 2 label_names"):
        ArraySource(x, y, LAYOUT5, label_names=["a", "b"])
    assert ArraySource(x, y, LAYOUT5, label_names=["a", "b", "c", "d"]).num_classes == 4


def test_npz_with_lengths_splits_and_subjects(tmp_path):
    x, y = clips(n=24)
    lengths = 5 + np.arange(24) % 6
    split = np.where(np.arange(24) < 18, "train", "test")
    np.savez(
        tmp_path / "data.npz",
        x=x,
        labels=y,
        lengths=lengths,
        split=split,
        subjects=np.arange(24) % 6,
        label_names=np.array(["wave", "clap", "bow"]),
    )
    source = ArraySource(tmp_path / "data.npz", layout=LAYOUT5)
    assert source.label_names == ("wave", "clap", "bow") and list(source.clip_lengths()[:3]) == [5, 6, 7]
    manifest = prepare_dataset(tmp_path / "d", source, val_fraction=0.2, progress=False)
    assert manifest["holdouts"]["val"]["by"] == "subject"
    train, val = (np.load(tmp_path / "d" / f"split_{s}.npy") for s in ("train", "val"))
    subjects = np.arange(24) % 6
    assert not set(subjects[train]) & set(subjects[val]) and len(val) == 3
    assert sorted(np.concatenate([train, val])) == list(range(18))


def test_object_arrays_in_files_are_refused(tmp_path):
    x, y = clips()
    ragged = np.empty(2, dtype=object)
    ragged[:] = [x[0], x[1, :, :5]]
    np.save(tmp_path / "X.npy", ragged, allow_pickle=True)
    np.save(tmp_path / "y.npy", y[:2])
    with pytest.raises(ValueError, match="holds Python objects.*lengths"):
        ArraySource(str(tmp_path / "X.npy"), str(tmp_path / "y.npy"), LAYOUT5)


def test_hold_out_by_class_is_stratified_and_seeded():
    labels = np.repeat(np.arange(4), 10)
    kept, held, by = hold_out(np.arange(40), labels, None, 0.2, seed=3)
    assert by == "class" and np.bincount(labels[held]).tolist() == [2, 2, 2, 2] and len(kept) == 32
    np.testing.assert_array_equal(held, hold_out(np.arange(40), labels, None, 0.2, seed=3)[1])
    assert not np.array_equal(held, hold_out(np.arange(40), labels, None, 0.2, seed=4)[1])


def test_cli_arrays_npy_pair(tmp_path, capsys):
    x, y = clips(n=30)
    np.save(tmp_path / "X.npy", x)
    np.save(tmp_path / "y.npy", y)
    layout = tmp_path / "layout.json"
    layout.write_text(json.dumps(LAYOUT5.to_dict()))
    args = [
        "--source",
        "arrays",
        "--input",
        str(tmp_path / "X.npy"),
        "--labels",
        str(tmp_path / "y.npy"),
        "--layout",
        str(layout),
        "--out",
        str(tmp_path / "d"),
        "--test-fraction",
        "0.2",
        "--val-fraction",
        "0.25",
    ]
    assert prepare_main(args) == 0
    printed = capsys.readouterr().out
    assert "frames: keep each clip's frames (10..10)" in printed and "normalisation: none" in printed
    assert "held out 'test': 6 clips from 'train' (by class, seed 0)" in printed
    assert load_manifest(tmp_path / "d")["counts"]["splits"] == {"train": 18, "test": 6, "val": 6}
    assert prepare_main(args[:4] + args[6:]) == 2  # an X .npy without --labels
    assert "pass its labels with --labels y.npy" in capsys.readouterr().err


def test_random_lq_of_a_custom_layout_rebuilds_from_the_manifest(tmp_path):
    x, y = clips()
    lq = {"name": "joint_subset", "layout": LAYOUT5, "keep": ["neck", "left_hand"]}
    from skdcore.data.lq import JointSubset

    prepare_dataset(tmp_path / "d", ArraySource(x, y, LAYOUT5), lq=JointSubset(**{k: v for k, v in lq.items()
                                                                               if k != "name"}).config(),
                    progress=False)
    data = PairedSkeletonDataset(tmp_path / "d", lq="random")
    hq, lq_clip, _ = data[0]
    np.testing.assert_array_equal(lq_clip[:, :, 0].numpy(), hq[:, :, 1].numpy())  # hip copies the neck


def test_manifest_layout_reads_full_dicts_and_older_names():
    from skdcore.data import manifest_layout
    from skdcore.layouts import NTU25

    assert manifest_layout({"layout": LAYOUT5.to_dict()}) == LAYOUT5
    assert manifest_layout({"layout": "ntu25"}) is NTU25  # manifests written before layouts were data
    with pytest.raises(ValueError, match="rerun prepare \\(with --layout layout.yaml\\) or pass --layout"):
        manifest_layout({"layout": "star5"})


def test_a_hold_out_with_nothing_held_is_refused(tmp_path):
    x, y = clips(n=3, classes=3)
    message = "--val-fraction 0.1 of split .train. \\(3 clips\\) leaves 0 held out"
    with pytest.raises(ValueError, match=message):
        prepare_dataset(tmp_path / "d", ArraySource(x, y, LAYOUT5), val_fraction=0.1, progress=False)
