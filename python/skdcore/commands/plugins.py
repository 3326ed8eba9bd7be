"""--plugin MODULE: import a module that registers models (``skdcore.models.register_model``) before a
command builds one, so an own backbone works from ``skd`` without packaging it with entry points."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path


class PluginError(ValueError):
    """A --plugin that cannot be found (a user mistake: one error line, exit code 2)."""


def add_plugin_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", action="append", metavar="MODULE",
                        help="import this module (a dotted name, found from the current folder too, or a "
                             ".py file) before building models: it registers own models with "
                             "skdcore.models.register_model; repeat for several")


def _import_file(path: Path) -> None:
    name = f"skd_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


def import_plugins(args) -> None:
    """Import every ``--plugin`` of the command (none: nothing). A module that is not found is a
    PluginError naming it; errors inside the module propagate as they are (they are the plugin's)."""
    for plugin in getattr(args, "plugin", None) or []:
        path = Path(plugin)
        if plugin.endswith(".py"):
            if not path.is_file():
                raise PluginError(f"--plugin {plugin}: no such file")
            _import_file(path.resolve())
            continue
        # NB: as `python -m` does, the current folder is searched first (a console script's sys.path lacks it)
        sys.path.insert(0, str(Path.cwd()))
        try:
            importlib.import_module(plugin)
        except ModuleNotFoundError as error:
            if error.name and plugin.startswith(error.name):
                raise PluginError(f"--plugin {plugin}: no module named {error.name!r} in the current "
                                  "folder or the installed packages; give a dotted module name or a .py "
                                  "file") from None
            raise
        finally:
            sys.path.remove(str(Path.cwd()))
