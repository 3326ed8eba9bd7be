"""User mistakes -> exit codes, for every `skd` command in one place.

A user mistake (a bad value, file or folder) raises an exception whose message names it and the fix:
it is printed as one ``skd <command>: error: ...`` line and the command exits 2. Anything else is a
bug and keeps its traceback. A command whose own code reports mistakes as plain built-in exceptions
(ValueError, FileNotFoundError, ...) names them in its module's ``USER_ERRORS``.
"""
from __future__ import annotations

import sys

USER_ERROR_EXIT = 2


def user_errors() -> tuple:
    """The exception types that mean a user mistake in every command.
    FloatingPointError: the trainer's "loss became nan at step N; lower optim.lr or check the data"."""
    from ..checkpoints import CheckpointError
    from ..data.manifest import PreparedDataError
    from ..devices import DeviceError
    from ..models.registry import ModelArgumentError
    from ..output_paths import OutputPathError
    from ..train.run_dir import RunExistsError, RunLockedError
    from ..train.typed_yaml import ConfigError

    return (ConfigError, CheckpointError, RunExistsError, RunLockedError, DeviceError, ModelArgumentError,
            PreparedDataError, OutputPathError, FloatingPointError)


def run_command(command, args) -> int:
    """``command.run(args)`` (a module of skdcore.commands); a user mistake -> one error line, exit 2."""
    try:
        return command.run(args)
    except user_errors() + tuple(getattr(command, "USER_ERRORS", ())) as error:
        print(f"skd {args.command}: error: {error}", file=sys.stderr)
        return USER_ERROR_EXIT
