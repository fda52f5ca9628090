"""Load a Python plugin file and call its init function (WebSocketHandler)."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from geows.config import WebSocketSettings
from geows.errors import ConfigError

OPTIONAL_CALLBACKS = ("on_connect", "on_disconnect", "destroy")

# One module per file however many locations name it, as dlopen() shares a library.
_modules: dict[Path, ModuleType] = {}


def load_python_plugin(settings: WebSocketSettings, source: bytes | None = None) -> Any:
    """The plugin object the init function returns; ConfigError at the
    WebSocketHandler line for anything that keeps it from serving. The plugin file's text is
    `source` when given (what the master read at the generation's start), else read now."""

    def fail(message: str) -> ConfigError:
        return ConfigError(message, settings.file, settings.line)

    path = Path(settings.plugin)
    if source is None and not path.is_file():
        raise fail(f"WebSocketHandler: cannot load plugin {path}: no such file")
    module = _modules.get(path) or _import(path, source, fail)
    init = getattr(module, settings.init, None)
    if not callable(init):
        raise fail(f"WebSocketHandler: plugin {path} has no init function {settings.init!r}")
    try:
        plugin = init()
    except Exception as exc:
        raise fail(f"WebSocketHandler: {settings.init}() in {path} raised "
                   f"{type(exc).__name__}: {exc}") from exc
    if not callable(getattr(plugin, "on_message", None)):
        raise fail(f"WebSocketHandler: {settings.init}() in {path} returned a plugin "
                   "without a callable on_message")
    for name in OPTIONAL_CALLBACKS:
        callback = getattr(plugin, name, None)
        if callback is not None and not callable(callback):
            raise fail(f"WebSocketHandler: plugin {name} is not callable")
    return plugin


def _import(path: Path, source: bytes | None, fail) -> ModuleType:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    name = f"geows_plugin_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise fail(f"WebSocketHandler: cannot load plugin {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so the plugin's own dataclasses and pickling work
    if str(path.parent) not in sys.path:
        # A plugin may import modules that sit beside it; appended, so they never
        # shadow the standard library or installed packages.
        sys.path.append(str(path.parent))
    try:
        if source is None:
            spec.loader.exec_module(module)
        else:  # named by its path, for tracebacks and FILE:LINE
            exec(compile(source, str(path), "exec"), module.__dict__)
    except Exception as exc:
        del sys.modules[name]
        raise fail(f"WebSocketHandler: cannot load plugin {path}: "
                   f"{type(exc).__name__}: {exc}") from exc
    _modules[path] = module
    return module
