"""`skd models`: the model names a config's ``model.name`` takes, and each one's ``model.args``."""
from __future__ import annotations

import inspect

# Filled in by the trainer from the data (clip shape, layout, classes) and the run: not model.args.
FROM_DATA = ("num_class", "in_channels", "num_person", "num_joints", "layout", "A", "adaption_channels",
             "ops")


HELP = "the model names a config takes, and each one's model.args"
USER_ERRORS = (ValueError, FileNotFoundError)  # raised with a message naming the argument / file


def add_arguments(parser) -> None:
    parser.add_argument("name", nargs="?", help="show one model only")
    from .plugins import add_plugin_argument

    add_plugin_argument(parser)


def model_arguments(name: str) -> list:
    """[(name, default repr)] of the constructor arguments a config may set in ``model.args``."""
    from ..models import accepted_arguments

    return [(argument, "required" if default is inspect.Parameter.empty else repr(default))
            for argument, default in accepted_arguments(name).items() if argument not in FROM_DATA]


def run(args) -> int:
    from ..models import available_models, model_class

    names = [args.name] if args.name else list(available_models())  # entry-point models included
    for name in names:
        cls = model_class(name)  # NB: an unknown name is a ValueError listing the known ones
        summary = (inspect.getdoc(cls) or "").splitlines()[0].replace("``", "")
        print(f"{name}: {cls.__name__}, {summary}")
        for argument, default in model_arguments(name):
            print(f"    {argument} = {default}")
        from_data = [a for a in FROM_DATA if a in inspect.signature(cls).parameters]
        print(f"    (set from the data and the run: {', '.join(from_data)})")
    print("\nin a config: model: {name: st_gcn, args: {channels: [32, 32, 64, 64], strides: [1, 1, 2, 1]}}")
    return 0
