"""The command palette (``ctrl+p`` or ``:``): every action the keys offer, searchable, with why one is off."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str
    action: str  # an app action string, e.g. "view('alerts')"
    key: str = ""
    off: str = ""  # why the action is disabled right now ("" when it is enabled)


@runtime_checkable
class CommandSource(Protocol):
    def palette_commands(self) -> list[PaletteCommand]: ...


class CockpitCommands(Provider):
    """Offers the app's :meth:`CommandSource.palette_commands`; a disabled one says why and does nothing."""

    def _commands(self) -> list[PaletteCommand]:
        app = self.app
        return app.palette_commands() if isinstance(app, CommandSource) else []

    def _help(self, command: PaletteCommand) -> str:
        key = f"{command.key} · " if command.key else ""  # help is markup: no square brackets
        off = f" — OFF: {command.off}" if command.off else ""
        return f"{key}{command.help}{off}"

    async def _run(self, command: PaletteCommand) -> None:
        if command.off:
            self.app.notify(f"{command.title}: {command.off}", severity="warning")
            return
        await self.app.run_action(command.action)

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, partial(self._run, command), help=self._help(command))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(f"{command.title} {command.key}")
            if score > 0:
                yield Hit(
                    score, matcher.highlight(command.title), partial(self._run, command), help=self._help(command)
                )
