"""Loading user-supplied classes named ``module:Class`` (extra agents, plug-ins)."""

from __future__ import annotations

import importlib
from typing import Any


class LoadError(Exception):
    """A ``module:Class`` that cannot be loaded; the message names the setting."""


def load_class(spec: str, base: type, *, setting: str) -> type[Any]:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LoadError(f"{setting}: cannot import {module_name!r} ({exc})") from None
    found = getattr(module, attr, None)
    if not isinstance(found, type) or not issubclass(found, base):
        raise LoadError(f"{setting}: {spec!r} is not a {base.__name__} class")
    return found
