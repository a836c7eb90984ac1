"""``agenthedge``: the command line. Exit codes: 0 done, 1 refused or failed, 2 usage or configuration."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path

import click

from app.cli_common import Obj
from runtime.settings import ConfigError

# Each command's module is imported only when that command is looked up (it runs, or ``--help`` lists it):
# ``agenthedge cockpit`` must not pay for the agents, pandas and the exchange calendars it never uses.
COMMANDS = {
    "runtime": "app.cli_runtime:runtime",
    "daemon": "app.cli_daemon:daemon",
    "audit": "app.cli_audit:audit",
    "config": "app.cli_config:config",
    "portfolio": "app.cli_books:portfolio",
    "trace": "app.cli_books:trace_cmd",
    "scheduler": "app.cli_scheduler:scheduler",
    "limits": "app.cli_scheduler:limits",
    "drill": "app.cli_maintenance:drill",
    "backup": "app.cli_maintenance:backup",
    "restore": "app.cli_maintenance:restore",
    "ops": "app.cli_ops_report:ops",
    "backtest": "app.cli_backtest:backtest",
    "cockpit": "app.cli_cockpit:cockpit",
}


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's subcommands by name, each imported from ``module:attribute`` the first time it is looked up.

    Click's ``Group`` only ever reads its ``commands`` mapping (``get``, iteration), so a lazy mapping keeps
    every behaviour of an eager group: ``--help`` lists each command with its help (importing them all),
    completion, ``cli.commands``, ``add_command``.
    """

    def __init__(self, where: dict[str, str]) -> None:
        self._where = dict(where)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        command = self._loaded.get(name)
        if command is None:
            module, _, attribute = self._where[name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command) or command.name != name:
                raise TypeError(f"{self._where[name]} is not the click command {name!r}")
            self._loaded[name] = command
        return command

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._where.setdefault(name, "")
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._where[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


@click.group(
    commands=LazyCommands(COMMANDS), context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option("--home", type=click.Path(path_type=Path), help="State directory [AGENTHEDGE_HOME, default ./var]")
@click.option(
    "--bus", "bus_url", metavar="URL", help="memory:// | mqtt://user:pass@host:port | mqtts://... [AGENTHEDGE_BUS]"
)
@click.option("--env", "env_name", metavar="NAME", help="Environment name, e.g. paper [AGENTHEDGE_ENV]")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug)")
@click.version_option(package_name="agenthedge")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, bus_url: str | None, env_name: str | None, verbose: int) -> None:
    """AgentHedge: the multi-agent trading runtime and its operations cockpit."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Obj(home=home, bus=bus_url, env=env_name)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
