"""The shell commands of a markdown page's ```bash blocks, for the tests that run or parse the docs'
commands (tests/test_readme_commands.py, tests/test_own_skeletons.py, tests/test_pose_estimator_docs.py)."""

from __future__ import annotations

import re
import shlex


def section(markdown: str, heading: str) -> str:
    """The text from the line ``heading`` (e.g. ``"## From the command line"``) to the next ``## `` heading
    (or the end); ValueError where the page has no such heading."""
    text = markdown[markdown.index(heading):]
    end = text.find("\n## ", 1)
    return text if end < 0 else text[:end]


def bash_blocks(markdown: str) -> list:
    """The bodies of the page's ```bash fenced blocks, in order."""
    return re.findall(r"```bash\n(.*?)```", markdown, flags=re.S)


def command_lines(markdown: str) -> list:
    """``(words, stdin)`` for every line of the page's bash blocks, in order: lines continued with a
    backslash joined into one, split the way the shell splits them (quotes removed, ``# comments`` left
    out), and a ``< FILE`` redirect taken out of the words (``stdin`` is FILE, else None). A blank or
    comment-only line gives ``([], None)``."""
    lines = []
    for block in bash_blocks(markdown):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            stdin = None
            if "<" in words:
                stdin = words[words.index("<") + 1]
                words = words[:words.index("<")]
            lines.append((words, stdin))
    return lines


def skd_commands(markdown: str) -> list:
    """``(arguments, stdin)`` of every ``skd ...`` line of the page's bash blocks (command_lines: the
    arguments follow ``skd``; ``stdin`` is a ``< FILE`` redirect's FILE, else None)."""
    return [(words[1:], stdin) for words, stdin in command_lines(markdown) if words[:1] == ["skd"]]
