"""A scratch server root: write config files into it, then load the main one."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from geows.config import Config, load_config
from geows.errors import ConfigError


class Root:
    def __init__(self, path: Path):
        self.path = path

    def write(self, name: str, text: str) -> str:
        """Write a (dedented) file under the root; return its absolute path."""
        file = self.path / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(textwrap.dedent(text))
        return str(file)

    def load(self, text: str | None = None, **kwargs) -> Config:
        if text is not None:
            self.write("httpd.conf", text)
        return load_config("httpd.conf", server_root=self.path, **kwargs)

    def error(self, text: str | None = None, **kwargs) -> str:
        """The message `load` fails with, as `httpd -t` would print it."""
        with pytest.raises(ConfigError) as info:
            self.load(text, **kwargs)
        return str(info.value)

    @property
    def conf(self) -> str:
        return str(self.path / "httpd.conf")


@pytest.fixture
def root(tmp_path: Path) -> Root:
    return Root(tmp_path)
