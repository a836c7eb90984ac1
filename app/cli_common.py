"""What every CLI command shares: settings, the asyncio entry, and reaching the runtime.

A runtime verb goes to a daemon as a control request when ``--bus`` points at a broker on which a daemon
announces itself (retained ``state/connection``); otherwise it runs in-process on the same home.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import sys
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

import click

from runtime import topics
from runtime.bus import Bus, create_bus
from runtime.control import ControlClient, ControlService
from runtime.lock import HomeLocked
from runtime.payloads import ControlReply, ControlRequest, Presence

if TYPE_CHECKING:  # app.wiring imports every agent (pandas, calendars): only the commands that build one pay
    from app.wiring import AppConfig

T = TypeVar("T")

PRESENCE_WAIT = 1.5


@dataclass
class Obj:
    home: Path | None
    bus: str | None
    env: str | None

    def config(self) -> AppConfig:
        from app.wiring import load_config

        return load_config(home=self.home, bus=self.bus, env=self.env)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def default_operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


class Target(Protocol):
    where: str

    async def send(self, verb: str, request: ControlRequest | None = None) -> ControlReply: ...


class RemoteTarget:
    def __init__(self, bus: Bus, operator: str, timeout: float) -> None:
        self.client = ControlClient(bus, operator or "anonymous")
        self.where = f"daemon on {bus.url.split('@')[-1]}"
        self.timeout = timeout

    async def send(self, verb: str, request: ControlRequest | None = None) -> ControlReply:
        return await self.client.send(verb, request, timeout=self.timeout)


class LocalTarget:
    def __init__(self, service: ControlService, operator: str) -> None:
        self.service = service
        self.operator = operator
        self.where = "in-process runtime"

    async def send(self, verb: str, request: ControlRequest | None = None) -> ControlReply:
        return await self.service.execute(self.operator, verb, request or ControlRequest())


async def daemon_online(bus: Bus) -> Presence | None:
    """The daemon's retained presence if one is online on this bus."""
    async with bus.subscribe(topics.STATE_CONNECTION) as sub:
        try:
            delivery = await sub.get(timeout=PRESENCE_WAIT)
        except TimeoutError:
            return None
    found = delivery.envelope.parsed(Presence)
    return found if found.online else None


@contextlib.asynccontextmanager
async def target(
    obj: Obj, operator: str, *, timeout: float = 15.0, connect_timeout: float = 10.0
) -> AsyncIterator[Target]:
    """A daemon reached over the bus, or a runtime started in-process on this home.

    Raises:
        BusError: the bus cannot be reached.
    """
    config = obj.config()
    if not config.core.bus.startswith("memory"):
        probe = create_bus(config.core.bus, config.core.env, connect_timeout=connect_timeout)
        await probe.start()
        try:
            if await daemon_online(probe) is not None:
                yield RemoteTarget(probe, operator, timeout)
                return
        finally:
            await probe.close()
    from app.wiring import build_runtime

    runtime = build_runtime(config)
    try:
        await runtime.start(role="cli")
    except HomeLocked as exc:
        fail(f"{exc}: a daemon owns this home; reach it with --bus mqtt://...")
    try:
        yield LocalTarget(ControlService(runtime), operator)
    finally:
        await runtime.stop()


def finish(reply: ControlReply, *, raw: bool = False) -> NoReturn:
    """Print a reply and exit 0 if it succeeded, 1 (reason on stderr) if it was refused or failed."""
    if raw:
        echo_json({"ok": reply.ok, "verb": reply.verb, "message": reply.message, "data": reply.data})
    elif reply.ok:
        click.echo(reply.message)
    if not reply.ok:
        fail(f"{reply.verb} refused: {reply.message}" if not raw else reply.message)
    sys.exit(0)
