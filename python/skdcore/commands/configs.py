"""`skd configs`: the experiment configs shipped in the package (name + what it is for); `skd configs
NAME` prints one, to copy and edit (`skd configs own_skeletons > my.yaml`)."""
from __future__ import annotations

import sys

HELP = "the shipped experiment configs; `skd configs NAME` prints one"
USER_ERRORS = (FileNotFoundError,)  # an unknown name: the message lists the shipped ones


def add_arguments(parser) -> None:
    parser.add_argument("name", nargs="?", help="print this config (e.g. own_skeletons > my.yaml)")


def run(args) -> int:
    from ..shipped_configs import config_description, config_names, resolve_config, shipped_config

    if args.name:
        path = shipped_config(args.name)
        if path is None:
            resolve_config(args.name)  # NB: raises the error that lists the names
        sys.stdout.write(path.read_text())
        return 0
    names = config_names()
    width = max(len(name) for name in names)
    for name in names:
        print(f"{name:<{width}}  {config_description(shipped_config(name))}")
    print("\nuse one by name: skd train --config own_skeletons ...; copy one to edit: "
          "skd configs own_skeletons > my.yaml")
    return 0
