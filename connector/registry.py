"""Plugin loading: lazy, one plugin at a time, isolated, switchable, validated.

Built-in plugins and third-party plugins both arrive through the ``offramp``
entry-point group. A plugin that fails to import is recorded in
:data:`load_errors` (shown by ``offramp plugins``) instead of breaking the CLI,
unless ``OFFRAMP_STRICT_PLUGINS=1``.

Switches (comma-separated entry-point or distribution names):

* ``OFFRAMP_LOAD_PLUGINS``: load only these (empty: none);
* ``OFFRAMP_DISABLE_PLUGINS``: never load these.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from connector import hookspecs
from connector.kit.errors import PluginError

if TYPE_CHECKING:
    from connector.kit.destination import Destination
    from connector.kit.emulator import Emulator
    from connector.kit.source import Source


@dataclass
class PluginInfo:
    name: str
    distribution: str = ""
    version: str = ""
    hooks: list[str] = field(default_factory=list)


_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None
_infos: dict[str, PluginInfo] = {}
#: entry-point name -> the error that kept it from loading.
load_errors: dict[str, str] = {}
_destinations: dict[str, tuple[type[Destination], str]] | None = None
_sources: dict[str, tuple[type[Source], str]] | None = None
_demos: dict[str, tuple[Any, str]] | None = None


def _switch(name: str) -> set[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def manager() -> pluggy.PluginManager:
    """The plugin manager, loading entry points on first use."""
    global _pm
    with _lock:
        if _pm is None:
            pm = pluggy.PluginManager(hookspecs.NAME)
            pm.add_hookspecs(hookspecs)
            _pm = pm
            _load_entry_points(pm)
        return _pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    only = _switch("OFFRAMP_LOAD_PLUGINS")
    disabled = _switch("OFFRAMP_DISABLE_PLUGINS") or set()
    strict = os.environ.get("OFFRAMP_STRICT_PLUGINS") == "1"
    for ep in sorted(importlib.metadata.entry_points(group=hookspecs.NAME), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist else ""
        names = {ep.name, dist}
        if (only is not None and not names & only) or names & disabled:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            module = ep.load()
            register(module, name=ep.name, distribution=dist,
                     version=ep.dist.version if ep.dist else "")
        except Exception as exc:
            if strict:
                raise
            load_errors[ep.name] = f"{type(exc).__name__}: {exc}"
            print(f"offramp: plugin {ep.name!r} ({dist or 'unknown package'}) failed to load: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr)


def register(module: ModuleType | Any, *, name: str, distribution: str = "",
             version: str = "") -> None:
    """Register a plugin object (a module or an instance) under ``name``.

    Tests and notebooks use this to add a plugin without installing it. A
    misspelled hook implementation raises :class:`PluginError`.
    """
    global _destinations, _sources, _demos
    try:
        hash(module)
    except TypeError:
        raise PluginError(f"plugin {name!r} is a {type(module).__name__}, which pluggy cannot "
                          "keep: register a module or an instance of a class") from None
    pm = manager()
    with _lock:
        try:
            pm.register(module, name=name)
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            # pluggy keeps a plugin whose hook arguments do not fit the spec half-registered
            if pm.get_plugin(name) is not None:
                pm.unregister(name=name)
            raise PluginError(
                f"plugin {name!r} implements a hook offramp does not know, or takes arguments "
                f"the hook does not pass: {exc}") from None
        hooks = sorted(h.name for h in pm.get_hookcallers(module) or [])
        _infos[name] = PluginInfo(name, distribution or "(registered directly)", version, hooks)
        _destinations = _sources = _demos = None


def unregister(name: str) -> None:
    """Remove a plugin registered with :func:`register`."""
    global _destinations, _sources, _demos
    pm = manager()
    with _lock:
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
        _infos.pop(name, None)
        _destinations = _sources = _demos = None


def plugins() -> list[PluginInfo]:
    """Every loaded plugin with its distribution and hooks."""
    manager()
    return [_infos[name] for name in sorted(_infos)]


def call_one(hook_name: str, plugin: str, **kwargs: Any) -> None:
    """Call one plugin's implementation of a hook, through pluggy: a hook caller
    without the other plugins, so the implementation receives only the arguments it
    takes, as the hooks promise."""
    pm = manager()
    others = [p for p in pm.get_plugins() if pm.get_name(p) != plugin]
    pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)


def call_each(hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Exception | None]]:
    """Call a hook one plugin at a time, in pluggy's order; yields each plugin's name
    and what its implementation raised (None when it returned)."""
    for impl in getattr(manager().hook, hook_name).get_hookimpls():
        try:
            call_one(hook_name, impl.plugin_name, **kwargs)
        except Exception as exc:
            yield impl.plugin_name, exc
        else:
            yield impl.plugin_name, None


def _collect(hook_name: str, kind: str) -> dict[str, tuple[Any, str]]:
    found: dict[str, tuple[Any, str]] = {}
    for impl in getattr(manager().hook, hook_name).get_hookimpls():
        plugin = impl.plugin_name
        where = f"{plugin} ({_infos.get(plugin, PluginInfo(plugin)).distribution or plugin})"

        def register_one(cls: Any, _plugin: str = plugin, _where: str = where) -> None:
            name = getattr(cls, "name", "")
            if not name:
                raise PluginError(f"plugin {_plugin!r} registered "
                                  f"{getattr(cls, '__name__', type(cls).__name__)} without a "
                                  "name")
            if name in found and found[name][0] is not cls:
                raise PluginError(f"two plugins register the {kind} {name!r}: "
                                  f"{found[name][1]} and {_where}; uninstall or disable one "
                                  "(OFFRAMP_DISABLE_PLUGINS)")
            found[name] = (cls, _where)

        try:
            call_one(hook_name, plugin, register=register_one)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"plugin {plugin!r} failed to register its {kind}s: "
                              f"{type(exc).__name__}: {exc}") from exc
    return dict(sorted(found.items()))


def destinations() -> dict[str, tuple[type[Destination], str]]:
    """name -> (destination class, "plugin (distribution)")."""
    global _destinations
    with _lock:
        if _destinations is None:
            _destinations = _collect("register_destinations", "destination")
        return _destinations


def sources() -> dict[str, tuple[type[Source], str]]:
    """name -> (source class, "plugin (distribution)")."""
    global _sources
    with _lock:
        if _sources is None:
            _sources = _collect("register_sources", "source")
        return _sources


def demos() -> dict[str, tuple[Any, str]]:
    """name -> (:class:`~connector.kit.demos.Demo`, "plugin (distribution)")."""
    global _demos
    with _lock:
        if _demos is None:
            _demos = _collect("register_demos", "demo")
        return _demos


def _one(kind: str, found: dict[str, tuple[Any, str]], name: str) -> Any:
    if name not in found:
        if name in load_errors:  # installed, but its plugin failed to import
            raise PluginError(f"the {name!r} {kind} is unavailable: its plugin failed to "
                              f"load ({load_errors[name]}); see `offramp plugins`")
        known = ", ".join(found) or "none"
        raise PluginError(f"no {kind} named {name!r} is installed (installed: {known}); "
                          f"see `offramp {kind}s`")
    return found[name][0]


def destination(name: str) -> type[Destination]:
    """The destination registered as ``name``; a :class:`PluginError` lists the others."""
    return _one("destination", destinations(), name)


def source(name: str) -> type[Source]:
    """The source registered as ``name``; a :class:`PluginError` lists the others."""
    return _one("source", sources(), name)


def who(cls: type, kind: str = "destination") -> str:
    """``cls`` as errors name it: ``the meta destination (plugin meta, package offramp)``."""
    found = destinations() if kind == "destination" else sources()
    name = getattr(cls, "name", cls.__name__)
    if name not in found or found[name][0] is not cls:
        return f"the {name} {kind}"
    plugin = found[name][1].split(" (", 1)[0]
    package = _infos.get(plugin, PluginInfo(plugin)).distribution
    return f"the {name} {kind} (plugin {plugin}, package {package or 'unknown'})"


def emulator(name: str) -> type[Emulator] | None:
    """The emulator class that the destination or source called ``name`` ships; None when
    it ships none. A name nothing registers is a :class:`PluginError` listing the names."""
    found: dict[str, Any] = {**{n: c for n, (c, _) in destinations().items()},
                             **{n: c for n, (c, _) in sources().items()}}
    if name not in found:
        raise PluginError(f"no destination or source named {name!r} is installed "
                          f"(installed: {', '.join(sorted(found)) or 'none'}); see "
                          "`offramp destinations` and `offramp sources`")
    return found[name].emulator
