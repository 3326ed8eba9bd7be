"""Every `skd ...` command line in README.md and docs/*.md parses with the real command-line parser (and
its sub-command's --help works), and the repository files it names exist: the documentation stays true."""
from pathlib import Path

import pytest
from doc_commands import command_lines

from skdcore.cli import build_parser, main
from skdcore.shipped_configs import shipped_config

ROOT = Path(__file__).resolve().parents[1]


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def readme_commands() -> list:
    """Argument lists of the `skd` commands in the bash blocks of README.md and docs/*.md (and
    `torchrun -m skdcore.cli`)."""
    commands = []
    for path in DOCUMENTS:
        for words, _ in command_lines(path.read_text()):  # a stdin redirect is not an argument: left out
            if words[:1] == ["skd"]:
                commands.append(words[1:])
            elif "skdcore.cli" in words:
                commands.append(words[words.index("skdcore.cli") + 1:])
    return commands


def test_the_readme_has_skd_commands():
    names = {argv[0] for argv in readme_commands()}
    assert {"train", "distill", "eval", "robustness", "plot", "demo"} <= names


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda argv: " ".join(argv))
def test_readme_command_parses(argv, capsys):
    parser = build_parser()
    if "--help" in argv:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(argv)
        assert exit_info.value.code == 0
    else:
        parser.parse_args(argv)  # argparse exits with code 2 on an unknown or missing argument
    for word in argv:
        if word.startswith("configs/"):
            assert (ROOT / word).exists(), f"the docs name {word}, which is not in the repository"
    for option, value in zip(argv, argv[1:]):
        if option == "--config" and "/" not in value:
            assert shipped_config(value) is not None, f"the docs name config {value}, which is not shipped"
    with pytest.raises(SystemExit) as exit_info:
        main([argv[0], "--help"])
    assert exit_info.value.code == 0 and "usage: skd" in capsys.readouterr().out
