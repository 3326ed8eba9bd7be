"""StreamRecognizer: frames pushed one by one give what batch evaluation of the same windows gives."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from keypoint_writers import frame_line, moving_people, write_coco, write_lines

import skdcore
from skdcore.checkpoints.checkpoint import save_checkpoint
from skdcore.data.lq import impute_absent
from skdcore.data.readers import read_keypoint_file
from skdcore.data.readers.person_tracks import frames_to_clip
from skdcore.infer import Preprocessing, StreamRecognizer
from skdcore.models import build_model

# NB: the folder holding the skdcore this test imported (an installed build, or sources with their .so)
PYTHON_DIR = Path(skdcore.__file__).resolve().parents[1]


def prepared_folder(tmp_path, persons=1):
    """A tiny `skd prepare --source keypoints` folder (2 classes, coco17), for the manifest."""
    from skdcore.cli import main

    folder = tmp_path / "keypoints"
    folder.mkdir()
    rows = ["file,label"]
    for i in range(4):
        keypoints, scores = moving_people(12, 17, persons=persons, seed=i)
        write_coco(folder / f"c{i}.json", keypoints, scores, track_ids=False)
        rows.append(f"c{i}.json,{'wave' if i % 2 else 'walk'}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "prepared"
    args = [
        "prepare",
        "--source",
        "keypoints",
        "--input",
        str(folder),
        "--labels",
        str(tmp_path / "labels.csv"),
        "--layout",
        "coco17",
        "--max-persons",
        str(persons),
        "--out",
        str(out),
        "--num-frames",
        "12",
    ]
    assert main(args) == 0
    return out


def checkpoint(tmp_path, data, persons=1, name="st_gcn"):
    torch.manual_seed(0)
    args = {
        "num_class": 2,
        "layout": "coco17",
        "in_channels": 3,
        "num_person": persons,
        "channels": [8, 16],
        "strides": [1, 2],
    }
    model = build_model(name, **args)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so eval mode matters
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "best.pt"
    save_checkpoint(path, model=model, model_name=name, model_args=args, config={"data": {"root": str(data)}})
    return path, model.eval()


def stream_frames(T=40, persons=1, seed=9):
    keypoints, scores = moving_people(T, 17, persons=persons, seed=seed)
    keypoints /= 400  # image-sized coordinates: the untrained model's logits would saturate
    rng = np.random.default_rng(seed)
    scores[rng.random(scores.shape) < 0.2] = 0.05  # about 20% of the joints missing
    return keypoints, scores


@pytest.mark.parametrize("persons", [1, 2])
def test_pushed_frame_by_frame_equals_batch_evaluation(tmp_path, persons, one_torch_thread):
    data = prepared_folder(tmp_path, persons)
    path, model = checkpoint(tmp_path, data, persons)
    keypoints, scores = stream_frames(persons=persons)
    frames = read_keypoint_file(
        write_coco(tmp_path / "stream.json", keypoints, scores, track_ids=False, shuffle_seed=1)
    )
    recognizer = StreamRecognizer(path, window=16, stride=5, top_k=2)
    assert recognizer.label_names == ["walk", "wave"] and recognizer.preprocessing.imputation_window == 3
    pushed = [r for r in (recognizer.push(f) for f in frames) if r is not None]
    assert [(r.start, r.stop) for r in pushed] == [(s, s + 16) for s in range(0, 40 - 16 + 1, 5)]
    # batch: the whole clip tracked at once, windows cut, the LQ imputation, one forward pass
    clip = frames_to_clip(frames, 17, persons)
    windows = np.stack([impute_absent(clip[:, r.start : r.stop], 3) for r in pushed])
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(windows))[0].double(), dim=1).numpy()
    for result, probabilities in zip(pushed, expected):
        np.testing.assert_allclose(result.all_probabilities, probabilities, atol=1e-5, rtol=0)
        assert result.indices == list(np.argsort(-probabilities)[:2])
        assert result.labels == [["walk", "wave"][i] for i in result.indices]
    batched = recognizer.recognise_clip(clip)
    np.testing.assert_allclose([r.all_probabilities for r in batched], expected, atol=1e-5, rtol=0)
    # the predictions depend on the input (the test would catch a buffer in the wrong order)
    assert np.ptp(expected[:, 0]) > 1e-4
    recognizer.reset()
    again = [r for r in (recognizer.push(f) for f in frames) if r is not None]
    np.testing.assert_allclose(again[-1].all_probabilities, pushed[-1].all_probabilities, atol=1e-12)


def test_array_frames_and_json_frames_agree(tmp_path, one_torch_thread):
    data = prepared_folder(tmp_path)
    path, _ = checkpoint(tmp_path, data)
    keypoints, scores = stream_frames(T=20)
    arrays = StreamRecognizer(path, window=10, stride=10)
    lines = StreamRecognizer(path, window=10, stride=10)
    a, b = [], []
    for t in range(20):
        frame = np.concatenate([keypoints[t, 0], scores[t, 0, :, None]], axis=1)
        a.append(arrays.push(frame))
        b.append(lines.push(json.loads(frame_line(keypoints[t, 0], scores[t, 0]))))
    got = [(x.all_probabilities, y.all_probabilities) for x, y in zip(a, b) if x is not None]
    assert len(got) == 2 and all(np.allclose(x, y, atol=1e-6) for x, y in got)
    with pytest.raises(ValueError, match=r"\(V, C\) or \(M, V, C\) with C=3"):
        arrays.push(np.zeros((17, 4)))


def test_normalisation_of_the_manifest_is_applied():
    from skdcore.data.transforms import pre_normalise

    p = Preprocessing("kinect20", num_channels=4, normalise=True, imputation_window=2)
    assert p.num_coords == 3
    x = np.random.default_rng(0).normal(size=(4, 6, 20, 1)).astype(np.float32) + 3
    x[:, 2, 5] = 0  # a missing joint
    np.testing.assert_allclose(p.apply(x), pre_normalise(impute_absent(x, 2), "kinect20", num_coords=3))


@pytest.mark.slow
def test_exported_models_need_data_and_pt2_needs_trust(tmp_path, one_torch_thread):
    pytest.importorskip("onnxruntime")
    from skdcore.export import export_checkpoint

    data = prepared_folder(tmp_path)
    path, _ = checkpoint(tmp_path, data)
    keypoints, scores = stream_frames(T=24)
    frames = read_keypoint_file(write_coco(tmp_path / "s.json", keypoints, scores))
    eager = StreamRecognizer(path, window=16, stride=8)
    reference = [r for r in map(eager.push, frames) if r is not None]
    onnx = export_checkpoint(path, "onnx", tmp_path / "m.onnx", frames=16).path
    with pytest.raises(ValueError, match="pass data=DIR"):
        StreamRecognizer(onnx, window=16, stride=8)
    got = StreamRecognizer(onnx, window=16, stride=8, data=data, threads=1)
    results = [r for r in map(got.push, frames) if r is not None]
    for a, b in zip(results, reference, strict=True):
        np.testing.assert_allclose(a.all_probabilities, b.all_probabilities, atol=1e-5)
    pt2 = export_checkpoint(path, "pt2", tmp_path / "m.pt2", frames=16).path
    with pytest.raises(ValueError, match="a .pt2 is a program"):
        StreamRecognizer(pt2, window=16, stride=8, data=data)
    program = StreamRecognizer(pt2, window=16, stride=8, data=data, trust=True)
    results = [r for r in map(program.push, frames) if r is not None]
    for a, b in zip(results, reference, strict=True):
        np.testing.assert_allclose(a.all_probabilities, b.all_probabilities, atol=1e-5)
    with pytest.raises(ValueError, match="takes joints V=17 but the preprocessing gives 25"):
        StreamRecognizer(onnx, data=data, preprocessing=Preprocessing("ntu25"))


def run_skd(args, stdin=None):
    env = {"PYTHONPATH": str(PYTHON_DIR), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "skdcore.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_skd_infer_on_a_file_and_on_stdin(tmp_path, capsys, monkeypatch):
    from skdcore.cli import main

    data = prepared_folder(tmp_path)
    path, _ = checkpoint(tmp_path, data)
    keypoints, scores = stream_frames(T=30)
    lines = write_lines(tmp_path / "s.jsonl", keypoints, scores)
    base = ["infer", "--checkpoint", str(path), "--window", "16", "--stride", "7", "--threads", "1"]
    capsys.readouterr()
    assert main(base + ["--input", str(lines)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert [t.split(":")[0] for t in text] == ["frames 0-15", "frames 7-22", "frames 14-29"]
    assert all(len(t.split(": ")[1].split("  ")) == 2 for t in text)  # 2 classes: top-3 shows both
    from_stdin = run_skd(base + ["--input", "-", "--json"], stdin=lines.read_text())  # a real pipe
    assert from_stdin.returncode == 0, from_stdin.stderr
    results = [json.loads(t) for t in from_stdin.stdout.splitlines()]
    assert [(r["start"], r["stop"]) for r in results] == [(0, 16), (7, 23), (14, 30)]
    for line, result in zip(text, results):  # the same numbers, to the 3 decimals the text shows
        top = result["top"][0]
        assert line.split(": ")[1].startswith(f"{top['label']} {top['probability']:.3f}")
    assert abs(sum(t["probability"] for t in results[0]["top"]) - 1) < 1e-6

    def stdin(text):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))

    stdin('{"landmarks": [[1, 2]]}\n')
    assert main(base + ["--input", "-"]) == 2
    assert "stdin line 1 person 0 joint 0: a landmark list is [x, y, score]" in capsys.readouterr().err
    stdin(frame_line(keypoints[0, 0], scores[0, 0]) + "\n")
    assert main(base + ["--input", "-"]) == 1
    assert "1 frames, fewer than --window 16" in capsys.readouterr().err
