"""A plugin module (tests/c_plugins/mod_ws_settings.c, loaded by LoadModule) in this
process: its directives in nested <Location>s evaluated by the real httpd runtime, each
section's configuration vector kept by geows.plugin.c_runtime and merged, in the order the
sections apply, into the per_dir_config of a request the plugin reads in on_connect; a
section without its directives gives the server's defaults. tests/test_plugin_modules.py
runs the same through the CLI, whose calls a mutation run does not see."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import gevent
import pytest
from gevent import socket
from websockets.http11 import Response

from geows.access.control import AccessControl
from geows.config import Config
from geows.config.model import WebSocketSettings
from geows.plugin import c_loader, c_runtime, modules
from geows.plugin.c_loader import CPlugin
from geows.plugin.loading import load_plugins
from geows.runtime.log import AccessLogs
from geows.runtime.server import Server
from tests.c_bridge.conftest import built_once
from tests.c_bridge.test_c_loader import CServed, close, config_in, ended, send, text
from tests.test_c_plugins import TEST_SOURCES
from tests.test_httpd_runtime import HTTPD_CFLAGS
from tests.test_plugin_modules import CONFIG

# tests/test_plugin_modules.py's config (nested <Location>s, /closed refused by its
# SettingsLimit 0, two vhosts: a Host no vhost names gets the first, vhost.test), and two
# <Location>s more: /nested/inner/deeper merges the same two sections (it has none of the
# module's directives), /plain none of them (the server's defaults).
MORE = """
<Location /nested/inner/deeper>
  Require all granted
</Location>
<Location /plain>
  SetHandler websocket-handler
  WebSocketHandler mod_ws_settings.so ws_settings_init
</Location>
"""

HOOKS = " banner=vhost-banner post_config=1 child_init=1"


class Loaded(NamedTuple):
    config: Config
    plugins: dict[WebSocketSettings, CPlugin]
    listener: socket.socket
    state: dict[ModuleType, dict[str, Any]]   # the globals of the runtime and loaders


@pytest.fixture(scope="session")
def loaded(c_build: Path) -> Iterator[Loaded]:
    """The config and its plugins loaded once per process, with the runtime and the loader
    as a new process has them: a process registers a module struct once (a mutation run
    gives pytest these tests among others, and may set up this module's fixtures more than
    once). Their globals are put back at once for the other tests."""
    directory = built_once("modules", {
        "mod_ws_settings": (TEST_SOURCES / "mod_ws_settings.c", HTTPD_CFLAGS)})
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    fresh: dict[ModuleType, dict[str, Any]] = {
        c_runtime: {"_library": None, "_servers": {}, "_section_vectors": {}},
        c_loader: {"_libraries": {}, "_plugins": {}}, modules: {"_loaded": []}}
    with pytest.MonkeyPatch.context() as patch:
        for module, values in fresh.items():
            for name, value in values.items():
                patch.setattr(module, name, value)
        port = listener.getsockname()[1]
        config = config_in(directory, CONFIG.replace("@PORT@", str(port)) + MORE)
        plugins = load_plugins(config)
        state = {module: {name: getattr(module, name) for name in values}
                 for module, values in fresh.items()}
    yield Loaded(config, plugins, listener, state)
    listener.close()


@pytest.fixture(scope="module")
def served(loaded: Loaded) -> Iterator[CServed]:
    with pytest.MonkeyPatch.context() as patch:
        for module, values in loaded.state.items():
            for name, value in values.items():
                patch.setattr(module, name, value)
        server = Server(loaded.config, loaded.plugins, AccessControl(loaded.config),
                        access_logs=AccessLogs())
        by_path = {section.pattern: loaded.plugins[section.websocket]
                   for section in loaded.config.locations if section.websocket is not None}
        served = CServed(server, by_path, loaded.listener)
        yield served
        gevent.killall(served.greenlets, timeout=2)


def report(served: CServed, path: str) -> str:
    """What the plugin read from its request_rec's per_dir_config at `path`."""
    client = served.open(path)
    send(client, "report")
    said = text(client)
    close(client)
    ended(served)
    return said


def test_nested_locations_merge_their_vectors_in_file_order(served: CServed) -> None:
    assert report(served, "/nested/inner") == (
        "greeting=hi there loud=1 limit=7 tags=a,b,c" + HOOKS)
    assert report(served, "/nested/inner/deeper/x") == (
        "greeting=hi there loud=1 limit=7 tags=a,b,c" + HOOKS)


def test_one_locations_vector_over_the_servers_defaults(served: CServed) -> None:
    assert report(served, "/nested") == "greeting=hello loud=1 limit=5 tags=a,b" + HOOKS
    refused = served.start("/closed").next_event()   # by its SettingsLimit 0
    assert isinstance(refused, Response) and refused.status_code == 403, refused


def test_a_location_without_the_modules_directives_has_the_servers_defaults(
        served: CServed) -> None:
    assert report(served, "/plain") == "greeting=(unset) loud=-1 limit=-1 tags=(none)" + HOOKS
