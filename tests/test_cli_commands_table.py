"""`skd`'s commands come from one table (cli.COMMANDS), each a module of skdcore.commands with the same small
interface; user mistakes become exit code 2 in one place (commands/errors.py)."""
import sys
import types

import pytest

from skdcore import cli


def test_every_command_is_a_module_with_the_same_interface():
    parser_commands = cli.build_parser()._subparsers._group_actions[0].choices
    assert list(parser_commands) == list(cli.COMMANDS)
    for name in cli.COMMANDS:
        module = cli.command_module(name)
        assert module.__name__ == f"skdcore.commands.{name}"
        assert isinstance(module.HELP, str) and module.HELP
        assert callable(module.add_arguments) and callable(module.run)


@pytest.fixture
def hello_command(monkeypatch):
    """A new command added the documented way: a module and one more name in the table."""
    module = types.ModuleType("skdcore.commands.hello")
    module.HELP = "say hello"
    module.USER_ERRORS = (KeyError,)

    def add_arguments(parser):
        parser.add_argument("--name", required=True)

    def run(args):
        if args.name == "nobody":
            raise KeyError("--name: nobody is nobody; give a name")
        if args.name == "bug":
            raise ZeroDivisionError("a bug")
        print(f"hello {args.name}")
        return 7

    module.add_arguments, module.run = add_arguments, run
    monkeypatch.setitem(sys.modules, "skdcore.commands.hello", module)
    monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + ("hello",))
    return module


def test_a_new_command_is_one_table_entry(hello_command, capsys):
    assert cli.main(["hello", "--name", "you"]) == 7
    assert capsys.readouterr().out == "hello you\n"


def test_user_errors_exit_2_with_one_line_and_bugs_keep_their_traceback(hello_command, capsys):
    assert cli.main(["hello", "--name", "nobody"]) == 2  # the command's own USER_ERRORS
    assert capsys.readouterr().err == "skd hello: error: '--name: nobody is nobody; give a name'\n"
    with pytest.raises(ZeroDivisionError):
        cli.main(["hello", "--name", "bug"])


def test_every_command_shares_the_user_errors_of_all(hello_command, capsys, tmp_path):
    from skdcore.train.config import ConfigError

    def run(args):
        raise ConfigError("optim.lr must be > 0, got -1.0")

    hello_command.run = run
    assert cli.main(["hello", "--name", "x"]) == 2
    assert capsys.readouterr().err == "skd hello: error: optim.lr must be > 0, got -1.0\n"
