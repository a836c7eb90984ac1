"""``agenthedge``: the command line. Exit codes: 0 done, 1 refused or failed, 2 usage or configuration."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from app import (
    cli_audit,
    cli_books,
    cli_cockpit,
    cli_config,
    cli_daemon,
    cli_maintenance,
    cli_ops_report,
    cli_runtime,
    cli_scheduler,
)
from app.cli_common import Obj
from runtime.settings import ConfigError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


cli.add_command(cli_runtime.runtime)
cli.add_command(cli_daemon.daemon)
cli.add_command(cli_audit.audit)
cli.add_command(cli_config.config)
cli.add_command(cli_books.portfolio)
cli.add_command(cli_books.trace_cmd)
cli.add_command(cli_scheduler.scheduler)
cli.add_command(cli_scheduler.limits)
cli.add_command(cli_maintenance.drill)
cli.add_command(cli_maintenance.backup)
cli.add_command(cli_maintenance.restore)
cli.add_command(cli_ops_report.ops)
cli.add_command(__import__("app.cli_backtest", fromlist=["backtest"]).backtest)
cli.add_command(cli_cockpit.cockpit)


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
