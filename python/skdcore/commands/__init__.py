"""`skd` sub-commands kept out of the training package.

Each module has add_arguments(parser) and run(args) -> int.
"""
