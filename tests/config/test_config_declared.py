"""httpd's "Invalid command": which directives a config may use (geows.config.declared)."""

from __future__ import annotations

import logging

from geows.config import reader
from geows.config.access_lines import is_access_directive
from geows.config.declared import BUILT_IN, DIRECTIVES, GEOWS_BUILT_IN, MODULES, MPMS

INVALID = ("Invalid command '{}', perhaps misspelled or defined by a module not included in "
           "the server configuration")


def test_misspelt_directives_are_refused_at_their_line(root):
    assert root.error("Listen 80\n<Location /a>\nWebSocketOrginCheck Same\n</Location>\n") \
        == f"{root.conf}:3: {INVALID.format('WebSocketOrginCheck')}"
    assert root.error("Listen 80\n<Location /a>\nRequre all denied\n</Location>\n") \
        == f"{root.conf}:3: {INVALID.format('Requre')}"
    assert root.error("Listen 80\n<Macro a>\n</Macro>\n") == \
        f"{root.conf}:2: {INVALID.format('<Macro')}"


def test_a_module_directive_needs_its_load_module_anywhere_in_the_config(root):
    assert root.error("Listen 80\nExpiresActive On\n") == \
        f"{root.conf}:2: {INVALID.format('ExpiresActive')}"
    # httpd runs every LoadModule as it reads, every other directive after
    root.load("Listen 80\nExpiresActive On\nLoadModule expires_module m.so\n")
    root.load("Listen 80\n<IfModule expires_module>\nNoSuch On\n</IfModule>\n")


def test_built_in_modules_need_no_load_module(root):
    root.load("Listen 80\nServerAdmin a@b\nRequestReadTimeout header=20\n"
              "SSLSessionCacheTimeout 300\nProxyTimeout 5\nRemoteIPHeader X-Forwarded-For\n"
              "<Location /a>\nRequire all granted\nAuthType None\n</Location>\n")


def test_the_mpm_directives_of_the_loaded_mpm_or_of_any_without_one(root):
    root.load("Listen 80\nThreadsPerChild 5\nMaxSpareServers 5\n")
    root.load("Listen 80\nLoadModule mpm_prefork_module m.so\nMaxSpareServers 5\n")
    assert root.error("Listen 80\nLoadModule mpm_event_module m.so\nMaxSpareServers 5\n") == \
        f"{root.conf}:3: {INVALID.format('MaxSpareServers')}"


def test_a_module_in_no_table_must_exist_where_httpd_looks(root):
    """httpd refuses a LoadModule it cannot load (apache2 -t: "Cannot load lib/mod_php.so
    into server: ROOT/lib/mod_php.so: cannot open shared object file: No such file or
    directory"); geows checks it where the LoadModule would let unknown directives through.
    A name without "/" httpd also looks for on dlopen's search path: not checked."""
    assert root.error("Listen 80\nLoadModule php_module lib/mod_php.so\n") == (
        f"{root.conf}:2: Cannot load lib/mod_php.so into server: {root.path}/lib/mod_php.so: "
        "cannot open shared object file: No such file or directory")
    assert root.error("Listen 80\nLoadModule php_module /nonexistent/mod_php.so\n") == (
        f"{root.conf}:2: Cannot load /nonexistent/mod_php.so into server: "
        "/nonexistent/mod_php.so: cannot open shared object file: No such file or directory")
    root.write("lib/mod_php.so", "")
    root.load("Listen 80\nLoadModule php_module lib/mod_php.so\n")
    root.load("Listen 80\nLoadModule php_module libphp.so\n")
    # what geows has a table of, or is, needs no file
    root.load("Listen 80\nLoadModule headers_module /nonexistent/mod_headers.so\n"
              "LoadModule websocket_module /nonexistent/mod_websocket.so\n")


def test_unknown_modules_may_declare_unknown_directives_with_a_warning(root, caplog):
    caplog.set_level(logging.WARNING, "geows.config")
    root.load("Listen 80\nLoadModule php_module libphp.so\nphp_value memory_limit 1M\n")
    assert caplog.messages == [
        f"{root.conf}:3: php_value is a directive of no module geows knows: accepted, as it may "
        "be one of php_module (loaded by LoadModule; geows cannot read what they declare)"]
    # never a WebSocket* name, nor a directive of a known module that is not loaded
    assert root.error("Listen 80\nLoadModule php_module libphp.so\nWebSocketOrginCheck Same\n") \
        == f"{root.conf}:3: {INVALID.format('WebSocketOrginCheck')}"
    assert root.error("Listen 80\nLoadModule php_module libphp.so\nExpiresActive On\n") == \
        f"{root.conf}:3: {INVALID.format('ExpiresActive')}"


def test_skipped_directives_are_refused_where_their_module_does_not_allow_them(root):
    assert root.error("Listen 80\n<Location /a>\nKeepAlive On\n</Location>\n") == \
        f"{root.conf}:3: KeepAlive not allowed here"
    assert root.error("Listen 80\nLoadModule dav_module m.so\nDAV On\n") == \
        f"{root.conf}:3: DAV not allowed here"
    root.load("Listen 80\nLoadModule dav_module m.so\n<Location /a>\nDAV On\n</Location>\n")


def test_every_directive_geows_reads_is_declared_by_a_built_in_module_or_an_mpm():
    for key in reader.DIRECTIVES:
        if key in DIRECTIVES:
            assert any(module in BUILT_IN | MPMS for _, module, _, _ in DIRECTIVES[key]), key
    for key, entries in DIRECTIVES.items():
        if is_access_directive(key):  # handed to geows.access: enforced, or refused
            modules = {module for _, module, _, _ in entries}
            assert modules <= GEOWS_BUILT_IN or not modules & GEOWS_BUILT_IN, key
    assert GEOWS_BUILT_IN <= set(MODULES)
