"""The layout of config/modules/ holds: each directive is in one module's table, and that
module (or the reader, for the walk's own) holds its handler, so the file a directive's
module is named after is where its handling is."""

import pytest

from geows.config import reader
from geows.config.modules import (
    access,
    core,
    mod_alias,
    mod_log_config,
    mod_proxy,
    mod_ssl,
    mod_websocket,
    mpm,
)

TABLES = {
    reader._Reader: reader.WALK_DIRECTIVES,
    core.CoreDirectives: core.DIRECTIVES,
    mpm.MpmDirectives: mpm.DIRECTIVES,
    mod_alias.AliasDirectives: mod_alias.DIRECTIVES,
    mod_proxy.ProxyDirectives: mod_proxy.DIRECTIVES,
    mod_log_config.LogDirectives: mod_log_config.DIRECTIVES,
    mod_ssl.SslDirectives: mod_ssl.DIRECTIVES,
    mod_websocket.WebSocketDirectives: mod_websocket.DIRECTIVES,
    access.AccessDirectives: access.DIRECTIVES,
}


def test_every_directive_is_in_one_table():
    assert sum(len(table) for table in TABLES.values()) == len(reader.DIRECTIVES)
    assert all(any(key in table for table in TABLES.values()) for key in reader.DIRECTIVES)


@pytest.mark.parametrize("handlers", TABLES, ids=lambda handlers: handlers.__name__)
def test_a_modules_handlers_are_its_own(handlers):
    table = TABLES[handlers]
    for key in table:
        assert f"_{key}" in vars(handlers), key
        assert reader._HANDLERS[key] is vars(handlers)[f"_{key}"], key
    # and no other class defines them, which would shadow one through the reader's bases
    for other in TABLES:
        if other is not handlers:
            assert not {f"_{key}" for key in table} & set(vars(other)), other.__name__
