"""Both spellings on the command line: --normalize / --normalise, quantize / quantise, center_input /
centre_input; the British one (the code's and the outputs' names) is what the command sees."""
import pytest

from skdcore.cli import build_parser
from skdcore.commands.robustness import parse_severities
from skdcore.commands.train import config_from_args


@pytest.mark.parametrize("flag, value", [("--normalise", True), ("--normalize", True),
                                         ("--no-normalise", False), ("--no-normalize", False), (None, None)])
def test_prepare_normalise_both_spellings(flag, value):
    argv = ["prepare", "--out", "x"] + ([flag] if flag else [])
    assert build_parser().parse_args(argv).normalise is value


def test_corruption_names_both_spellings():
    args = build_parser().parse_args(["robustness", "--checkpoint", "a.pt", "--out", "o",
                                      "--corruptions", "quantize", "occlusion"])
    assert args.corruptions == ["quantise", "occlusion"]
    assert parse_severities(["quantize=0,0.1"]) == {"quantise": [0.0, 0.1]}
    with pytest.raises(SystemExit):  # a name that is neither is still refused by argparse
        build_parser().parse_args(["robustness", "--checkpoint", "a.pt", "--out", "o", "--corruptions", "qq"])


def test_set_keys_both_spellings():
    overrides = ["--set", "model.args.center_input=false", "--set", "data.prepare.normalize=true"]
    args = build_parser().parse_args(["train", "--config", "own_skeletons", *overrides])
    cfg = config_from_args(args)
    assert cfg.model.args["centre_input"] is False and "center_input" not in cfg.model.args
    assert cfg.data.prepare["normalise"] is True
