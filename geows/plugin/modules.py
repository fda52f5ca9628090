"""Plugin modules (geows.config.plugin_modules): each loaded once, its `module` struct
registered with geows' httpd runtime, and the directives the reader kept evaluated by it in
file order, as httpd evaluates them once the files are read. Then:

- each <Location> holding any of their directives has its configuration vector, which a
  request's per_dir_config merges over its server's defaults in the order geows' Location
  merge applies the sections (`per_dir_vectors`), when a plugin calls request();
- each <VirtualHost>'s configs are merged over the main server's (ap_fixup_virtual_hosts);
- their post_config hooks run, then their child_init hooks (geows_run_module_hooks), in
  each worker as it loads its plugins, before any plugin's init function (httpd runs
  post_config in its parent, before forking: geows' master loads no plugin code); -t runs
  neither, as `apache2 -t` stops before post_config.

A message a directive's handler returns is a ConfigError at the directive's FILE:LINE.
"""

from __future__ import annotations

import ctypes
import logging

from geows.config import Config
from geows.config.declared import invalid_command
from geows.config.plugin_modules import ModuleDirective, PluginModules
from geows.errors import ConfigError
from geows.plugin import c_runtime
from geows.plugin.c_loader import open_library

log = logging.getLogger("geows.config")

DONE, UNKNOWN, REFUSED = 0, 1, 2  # runtime.h's GEOWS_DIRECTIVE_*

_loaded: list[PluginModules] = []  # what this process loaded (once)


def load_plugin_modules(config: Config, *, hooks: bool = True) -> None:
    """Load and configure the config's plugin modules (once per process), then run their
    post_config and child_init hooks if `hooks`; ConfigError at the LoadModule or directive
    line for anything httpd would refuse there."""
    modules = config.plugin_modules
    runtime = c_runtime.loaded()
    if modules is None or _loaded:
        return
    if runtime is None:
        raise ConfigError(f"{modules.modules[0].identifier} needs geows' httpd runtime, which "
                          f"is not built: {c_runtime.BUILD_HINT}", modules.modules[0].file,
                          modules.modules[0].line)
    _prototypes(runtime)
    _loaded.append(modules)
    for module in modules.modules:
        try:
            library = open_library(module.path)
        except OSError as exc:
            raise ConfigError(f"Cannot load {module.path} into server: {exc}", module.file,
                              module.line) from None
        try:
            address = ctypes.addressof(ctypes.c_char.in_dll(library, module.identifier))
        except ValueError:
            raise ConfigError(f"Can't locate API module structure `{module.identifier}' in "
                              f"file {module.path}: undefined symbol: {module.identifier}",
                              module.file, module.line) from None
        refused = runtime.geows_module_add(address, module.identifier.encode(),
                                           module.path.encode())
        if refused is not None:
            raise ConfigError(refused.decode("utf-8", "replace"), module.file, module.line)
    _evaluate(config, modules, runtime)
    runtime.geows_modules_fixup()
    failed = runtime.geows_run_module_hooks() if hooks else None
    if failed is not None:
        raise ConfigError(failed.decode("utf-8", "replace"), config.file)


def _evaluate(config: Config, modules: PluginModules, runtime: ctypes.CDLL) -> None:
    vectors: dict[int, int] = {}
    for directive in modules.directives:
        server = c_runtime.server_for(config.virtual_hosts[directive.vhost].logs.names
                                      if directive.vhost is not None else None)
        vector = None  # the server's own (lookup_defaults)
        if directive.location is not None:
            vector = vectors.get(directive.location) or runtime.geows_section_vector()
            vectors[directive.location] = vector
        elif directive.in_directory:  # <Directory>, <Files>, <If>: no WebSocket request
            vector = runtime.geows_section_vector()  # merges them: checked, then dropped
        _run(directive, server, vector, modules, runtime)
    for index, vector in vectors.items():
        c_runtime.set_section_vector(config.locations[index], vector)


def _prototypes(runtime: ctypes.CDLL) -> None:
    runtime.geows_module_add.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    runtime.geows_module_add.restype = ctypes.c_char_p
    runtime.geows_module_directive.argtypes = [
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
        ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_char_p)]
    runtime.geows_section_vector.restype = ctypes.c_void_p
    runtime.geows_run_module_hooks.restype = ctypes.c_char_p


def _run(directive: ModuleDirective, server: int, vector: int | None,
         modules: PluginModules, runtime: ctypes.CDLL) -> None:
    message = ctypes.c_char_p()
    status = runtime.geows_module_directive(
        directive.name.encode(), directive.args.encode("utf-8", "surrogateescape"),
        directive.file.encode(), directive.line,
        directive.section.encode() if directive.section else None, directive.in_directory,
        directive.path.encode("utf-8", "surrogateescape") if directive.path is not None
        else None, server, vector, ctypes.byref(message))
    if status == REFUSED:
        raise ConfigError((message.value or b"").decode("utf-8", "replace"), directive.file,
                          directive.line)
    if status == UNKNOWN:
        # never a WebSocket* name: those are mod_websocket's and geows', and must be known
        if not modules.others or directive.name.lower().startswith("websocket"):
            raise ConfigError(invalid_command(directive.name), directive.file, directive.line)
        log.warning("%s:%d: %s is a directive of no module geows knows: accepted, as it may "
                    "be one of %s (loaded by LoadModule; geows cannot read what they "
                    "declare)", directive.file, directive.line, directive.name,
                    ", ".join(modules.others))
