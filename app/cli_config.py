"""``agenthedge config``: every setting, documented (``example``) or in force (``show``) and checked."""

from __future__ import annotations

import click

from app.cli_common import Obj, echo_json
from app.config_catalog import effective, example


@click.group()
def config() -> None:
    """Configuration: every variable, its default, and the values in force."""


@config.command("example")
def example_cmd() -> None:
    """Print .env.example: every variable with its description and default."""
    click.echo(example(), nl=False)


@config.command("show")
@click.option("--raw", is_flag=True, help="JSON output")
@click.pass_obj
def show(obj: Obj, raw: bool) -> None:
    """Validate the configuration (exit 2 naming any bad variable) and print the values in force."""
    obj.config()  # validates every section the runtime uses; raises ConfigError naming the variable
    values = effective(home=obj.home)
    if raw:
        echo_json(values)
        return
    for title, section in values.items():
        click.echo(f"# {title}")
        for name, value in section.items():
            click.echo(f"{name}={value}")
