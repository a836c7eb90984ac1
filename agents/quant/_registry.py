"""Finding council plug-ins: built-ins by name, installed packages through the ``agenthedge.plugins``
entry-point group, or a ``module:Class`` path. Anything wrong is a :class:`PluginConfigError` that names
the setting it came from (``COUNCIL_PLUGINS``), so the CLI can exit with a clear message."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from agents.quant._fundamental import FundamentalPlugin
from agents.quant._macro import MacroPlugin
from agents.quant._plugin import Plugin
from agents.quant._sentiment import SentimentPlugin
from agents.quant._settings import QuantSettings
from agents.quant._technical import TechnicalPlugin
from runtime.settings import ConfigError
from runtime.topics import valid_segment

ENTRY_POINT_GROUP = "agenthedge.plugins"

BUILTINS: dict[str, Callable[[QuantSettings], Plugin]] = {
    "technical": TechnicalPlugin,
    "fundamental": FundamentalPlugin,
    "sentiment": SentimentPlugin,
    "macro": MacroPlugin,
}


class PluginConfigError(ConfigError):
    """A council plug-in could not be found, imported or built; the message names the setting."""


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_plugins() -> dict[str, str]:
    """Plug-in names that need no path: built-ins and installed entry points (name -> where from)."""
    found = {name: "built-in" for name in BUILTINS}
    for name, ep in _entry_points().items():
        found.setdefault(name, f"entry point {ep.value}")
    return found


def _instantiate(obj: Any, spec: str, setting: str, settings: QuantSettings) -> Plugin:
    if inspect.isclass(obj) or (callable(obj) and not hasattr(obj, "propose")):
        try:
            params = inspect.signature(obj).parameters
            made = obj(settings) if "settings" in params else obj()
        except Exception as exc:
            raise PluginConfigError(f"{setting}: could not build plug-in {spec!r}: {exc}") from exc
    else:
        made = obj
    name = getattr(made, "name", None)
    if not isinstance(name, str) or not valid_segment(name):
        raise PluginConfigError(
            f"{setting}: plug-in {spec!r} needs a 'name' usable as a topic segment (letters, digits, '_', '-', '.'),"
            f" got {name!r}"
        )
    if not callable(getattr(made, "propose", None)):
        raise PluginConfigError(f"{setting}: plug-in {spec!r} has no propose(view, directive) method")
    return made  # type: ignore[no-any-return]


def load_plugin(spec: str, settings: QuantSettings | None = None, *, setting: str = "COUNCIL_PLUGINS") -> Plugin:
    """One plug-in from a built-in name, an entry-point name or a ``module:Class`` path."""
    settings = settings or QuantSettings()
    spec = spec.strip()
    if not spec:
        raise PluginConfigError(f"{setting}: empty plug-in name")
    if spec in BUILTINS:
        return BUILTINS[spec](settings)
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise PluginConfigError(f"{setting}: cannot import {module_name!r} for plug-in {spec!r}: {exc}") from exc
        obj: Any = module
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise PluginConfigError(f"{setting}: {module_name!r} has no {attr!r} (plug-in {spec!r})")
            obj = getattr(obj, part)
        return _instantiate(obj, spec, setting, settings)
    ep = _entry_points().get(spec)
    if ep is None:
        known = ", ".join(sorted(available_plugins()))
        raise PluginConfigError(f"{setting}: unknown plug-in {spec!r}; known: {known}; or give a 'module:Class' path")
    try:
        obj = ep.load()
    except Exception as exc:
        raise PluginConfigError(f"{setting}: entry point {spec!r} ({ep.value}) failed to load: {exc}") from exc
    return _instantiate(obj, spec, setting, settings)


def load_plugins(
    specs: Sequence[str], settings: QuantSettings | None = None, *, setting: str = "COUNCIL_PLUGINS"
) -> list[Plugin]:
    """The council's plug-ins, in the order given; two with the same name is an error."""
    plugins: list[Plugin] = []
    seen: dict[str, str] = {}
    for spec in specs:
        plugin = load_plugin(spec, settings, setting=setting)
        if plugin.name in seen:
            raise PluginConfigError(
                f"{setting}: two plug-ins are named {plugin.name!r} ({seen[plugin.name]!r} and {spec!r})"
            )
        seen[plugin.name] = spec
        plugins.append(plugin)
    if not plugins:
        raise PluginConfigError(f"{setting}: no plug-in configured; the council needs at least one")
    return plugins
