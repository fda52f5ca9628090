"""What every process does with a config before serving it, written once for the CLI
(-t, -X), the master and its workers."""

from __future__ import annotations

import os
from collections.abc import Iterable

from geows import dns
from geows.config import Config, load_config
from geows.runtime import tls


def read_config(path: str | os.PathLike[str], *,
                server_root: str | os.PathLike[str] | None = None,
                defines: Iterable[str] = ()) -> Config:
    """The config to be served: read with the system's resolver, and refused (ConfigError)
    when a certificate, key or cipher list it names does not load, as mod_ssl refuses it."""
    config = load_config(path, server_root=server_root, defines=defines, names=dns.SYSTEM)
    tls.listener_contexts(config)
    return config
