"""`skd`'s commands, one module each: ``HELP`` (one line), ``add_arguments(parser)``, ``run(args) -> int``;
optional ``PARSER_OPTIONS`` and ``USER_ERRORS``. ``cli.COMMANDS`` lists them; ``errors.py`` maps user
mistakes to exit codes for all of them."""
