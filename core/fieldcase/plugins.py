"""The plugin manager: default plugins, then installed ones from entry points."""

from __future__ import annotations

import importlib
import os
from functools import cache
from typing import Any

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "fieldcase"

#: The built-in behaviour, written as plugins implementing the same hooks as third parties.
DEFAULT_PLUGINS = (
    "fieldcase.builtin.policy",
    "fieldcase.builtin.reasons",
    "fieldcase.builtin.checklist",
    "fieldcase.builtin.priority",
)


def get_plugin_manager(load_entrypoints: bool = True) -> pluggy.PluginManager:
    """A new plugin manager with the hookspecs, the default plugins and installed plugins.

    ``FIELDCASE_LOAD_PLUGINS`` (comma-separated distribution or entry point
    names) limits which installed plugins load; set it empty to load none.
    """
    pm = pluggy.PluginManager("fieldcase")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if load_entrypoints:
        allowed = os.environ.get("FIELDCASE_LOAD_PLUGINS")
        if allowed is None:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        else:
            for name in filter(None, (n.strip() for n in allowed.split(","))):
                pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
    # A misspelt hook implementation fails here, loudly, not silently never runs.
    pm.check_pending()
    return pm


@cache
def manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built once; tests register plugins on it."""
    return get_plugin_manager()


def describe_plugins(pm: pluggy.PluginManager, all_plugins: bool = False) -> list[dict[str, Any]]:
    """Name, version and hooks of each registered plugin (installed ones unless ``all``)."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    result = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or repr(plugin)
        if name in DEFAULT_PLUGINS and not all_plugins:
            continue
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        info: dict[str, Any] = {"name": name, "hooks": hooks}
        dist = dists.get(id(plugin))
        if dist is not None:
            info["name"] = dist.project_name
            info["version"] = dist.version
        elif name in DEFAULT_PLUGINS:
            info["version"] = "builtin"
        result.append(info)
    return sorted(result, key=lambda p: p["name"])
