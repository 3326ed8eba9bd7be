"""The install and deploy instructions (README's "Install", docs/build.md, docs/deploy.md): their commands
exist as written, and the deploy code runs as written (an export of a small student, then the page's
Python blocks). Building the wheel itself is covered by tests/test_wheel.py."""

import re
import shlex
from pathlib import Path

import pytest
import torch

from skdcore.checkpoints.checkpoint import save_checkpoint
from skdcore.cli import build_parser, main
from skdcore.models import build_model

REPO = Path(__file__).resolve().parents[1]


README = REPO / "README.md"
BUILD_PAGE = REPO / "docs" / "build.md"
DEPLOY_PAGE = REPO / "docs" / "deploy.md"


def section_blocks(path: Path, title: str = "") -> list:
    """[(language, code)] of the fenced blocks in `path`'s section '## <title>' (the whole file: no title)."""
    text = path.read_text()
    if title:
        match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
        assert match, f"{path.name} has no '## {title}' section"
        text = match.group(1)
    return re.findall(r"```(\w+)\n(.*?)```", text, re.S)


def commands(path: Path, title: str = "") -> list:
    """Shell commands of a section's bash blocks, comments stripped."""
    lines = []
    for language, code in section_blocks(path, title):
        if language == "bash":
            lines += [line.split("#")[0].strip() for line in code.splitlines() if line.split("#")[0].strip()]
    return lines


def test_install_and_deploy_commands_exist():
    makefile = (REPO / "Makefile").read_text()
    parser = build_parser()
    seen = set()
    for line in commands(README, "Install") + commands(BUILD_PAGE) + commands(DEPLOY_PAGE):
        words = shlex.split(line)
        seen.add(words[0])
        if words[0] == "make":
            assert re.search(rf"^{words[1]}:", makefile, re.M), f"docs: no `make {words[1]}` target"
        elif words[0] == "skd":
            parser.parse_args(words[1:])  # exits (SystemExit) on an unknown command or option
        elif words[:2] == ["pip", "install"] and ("." in words or any(w.endswith(".tar.gz") for w in words)):
            assert "--no-build-isolation" in words, (
                f"docs: a source build without --no-build-isolation: {line}"
            )
    assert {"make", "skd", "pip"} <= seen


@pytest.mark.slow
def test_deploy_section_runs_as_written(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(tmp_path)
    # A small student where the page expects the demo's.
    checkpoint = Path("runs/demo/runs/skd/best.pt")
    args = {"num_class": 5, "channels": [8, 16], "strides": [1, 2], "adaption_channels": 16}
    save_checkpoint(
        checkpoint, model=build_model("shift_gcn", **args), model_name="shift_gcn", model_args=args
    )
    for line in commands(DEPLOY_PAGE):
        words = shlex.split(line)
        if words[0] == "skd":
            assert main(words[1:]) == 0, line
    python_blocks = [code for language, code in section_blocks(DEPLOY_PAGE) if language == "python"]
    assert len(python_blocks) == 2
    for code in python_blocks:
        namespace = {}
        exec(compile(code, str(DEPLOY_PAGE), "exec"), namespace)
        logits = torch.as_tensor(namespace["logits"])
        assert logits.shape == (4, 5) and torch.isfinite(logits).all()
