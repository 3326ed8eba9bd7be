"""`skd` sub-commands kept out of the training package: each has add_arguments(parser) and run(args) -> int."""
