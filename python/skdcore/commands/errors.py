"""User mistakes -> exit codes, for every `skd` command in one place.

A user mistake (a bad value, file or folder) raises an exception whose message names it and the fix:
it is printed as one ``skd <command>: error: ...`` line and the command exits 2. Anything else is a
bug and keeps its traceback. A command whose own code reports mistakes as plain built-in exceptions
(ValueError, FileNotFoundError, ...) names them in its module's ``USER_ERRORS``.
"""
from __future__ import annotations

import errno
import sys
import zipfile

USER_ERROR_EXIT = 2
DISK_FULL_EXIT = 1


def user_errors() -> tuple:
    """The exception types that mean a user mistake in every command.
    FloatingPointError: the trainer's "loss became nan at step N; lower optim.lr or check the data"."""
    from ..checkpoints import CheckpointError
    from ..data.manifest import PreparedDataError
    from ..devices import DeviceError
    from ..models.registry import ModelArgumentError
    from ..output_paths import OutputPathError
    from ..safe_names import UnsafeNameError
    from ..train.run_dir import RunExistsError, RunLockedError
    from ..train.typed_yaml import ConfigError
    from .plugins import PluginError

    return (ConfigError, CheckpointError, RunExistsError, RunLockedError, DeviceError, ModelArgumentError,
            PreparedDataError, OutputPathError, FloatingPointError, UnsafeNameError, PluginError)


def run_command(command, args, argv=None) -> int:
    """``command.run(args)`` (a module of skdcore.commands) after the --plugin modules are imported; a
    user mistake -> one error line, exit 2; Ctrl-C -> the resume hint, exit 130; a full disk -> exit 1."""
    from .interrupt import INTERRUPTED_EXIT, interrupted_message
    from .plugins import import_plugins

    try:
        import_plugins(args)
        return command.run(args)
    except user_errors() + tuple(getattr(command, "USER_ERRORS", ())) as error:
        return _error_line(args, error)
    except KeyboardInterrupt:
        print(f"\n{interrupted_message(args, argv)}", file=sys.stderr)
        return INTERRUPTED_EXIT
    except zipfile.BadZipFile as error:  # any zip reader (.pt2, .pt, .npz): name the files given
        from ..zip_errors import damaged_archive_message

        return _error_line(args, damaged_archive_message(error, args))
    except OSError as error:
        from ..atomic_io import disk_full

        if error.errno == errno.ELOOP:  # an output path is a planted link (atomic_io.open_no_follow)
            return _error_line(args, error.strerror)
        full = disk_full(error, getattr(error, "filename", None) or "an output file")
        if full.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        _error_line(args, full.strerror)  # a full disk: no traceback
        return DISK_FULL_EXIT


def _error_line(args, message) -> int:
    print(f"skd {args.command}: error: {message}", file=sys.stderr)
    return USER_ERROR_EXIT
