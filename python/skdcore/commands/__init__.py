"""The `skd` subcommands whose code is more than a call: one module each, `add_arguments` + `run`."""
