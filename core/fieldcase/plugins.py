"""The plugin manager: default plugins, then installed ones from entry points."""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import warnings
from functools import cache
from typing import Any

import pluggy

from . import hookspecs
from .errors import FieldcaseError, PluginFailed
from .model import Reason

ENTRY_POINT_GROUP = "fieldcase"

#: The built-in behaviour, written as plugins implementing the same hooks as third parties.
DEFAULT_PLUGINS = (
    "fieldcase.builtin.policy",
    "fieldcase.builtin.reasons",
    "fieldcase.builtin.checklist",
    "fieldcase.builtin.priority",
    "fieldcase.builtin.formats",
    "fieldcase.builtin.offers",
    "fieldcase.builtin.reports",
    "fieldcase.builtin.protections",
    "fieldcase.builtin.inquiries",
    "fieldcase.builtin.attachments",
)


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, with each hook implementation's failure named.

    An exception from a plugin's hook (other than fieldcase's own errors,
    which say what to do) becomes :class:`~fieldcase.errors.PluginFailed`,
    naming the plugin and the hook, so a person knows whom to ask; the
    action it interrupted writes nothing.
    """

    def register(self, plugin: object, name: str | None = None) -> str | None:
        registered = super().register(plugin, name)
        if registered is not None:
            for caller in self.get_hookcallers(plugin) or []:
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin and not (impl.hookwrapper or impl.wrapper):
                        named = _named_failures(impl.function, registered, caller.name)
                        impl.function = named  # type: ignore[misc]
        return registered


def _named_failures(function: Any, plugin: str, hook: str) -> Any:
    @functools.wraps(function)
    def call(*args: Any) -> Any:
        try:
            return function(*args)
        except FieldcaseError:
            raise
        except Exception as exc:
            raise PluginFailed(plugin, hook, exc) from exc

    return call


def get_plugin_manager(load_entrypoints: bool = True) -> pluggy.PluginManager:
    """A new plugin manager with the hookspecs, the default plugins and installed plugins.

    ``FIELDCASE_LOAD_PLUGINS`` (comma-separated distribution or entry point
    names) limits which installed plugins load; set it empty to load none.
    """
    pm = PluginManager("fieldcase")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if load_entrypoints:
        allowed = os.environ.get("FIELDCASE_LOAD_PLUGINS")
        if allowed is None:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        else:
            _load_named(pm, {n.strip() for n in allowed.split(",") if n.strip()})
    # A misspelt hook implementation fails here, loudly, not silently never runs.
    pm.check_pending()
    return pm


def _load_named(pm: pluggy.PluginManager, names: set[str]) -> None:
    """Load the entry points named, by entry point or distribution name."""
    found = set()
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist.name if entry_point.dist else None
        if entry_point.name in names or dist in names:
            found.update({entry_point.name, dist})
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=entry_point.name)
    missing = names - found
    if missing:
        warnings.warn(
            f"FIELDCASE_LOAD_PLUGINS names {', '.join(sorted(missing))}, not installed; "
            "see 'fieldcase plugins'",
            stacklevel=2,
        )


def overdue_reasons(pm: pluggy.PluginManager) -> dict[str, Reason]:
    """The overdue-reason taxonomy by code: the defaults first, then plugins' codes."""
    found: dict[str, Reason] = {}
    # pluggy calls the last-registered plugin first; the defaults should lead.
    for batch in reversed(pm.hook.overdue_reasons()):
        for reason in batch or []:
            found.setdefault(reason.code, reason)
    return found


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
